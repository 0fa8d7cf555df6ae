"""The suite must pass on any day: a representative part of it runs again, in a fresh pytest, with
the frozen clock moved to 2030-01-02 (2027-06-15 was a second date until the suite outgrew the CI
budget; both lie beyond the installed chinesecalendar, which is what matters).

Those years are beyond chinesecalendar today, so tests/conftest.py gives the calendar the year of
the clock and the next one as imported official schedules (the rule holidays, no make-up days).
Tests written around particular days take the ``clock`` fixture and keep their own dates; all the
others run on the guard's date, which is what this checks: nothing may depend on when it runs.
The date logic does not depend on the database, so the guard runs in the SQLite pass only.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The loop end to end, the worklist, intake and the CLI subprocesses (the files that broke when the
# real date moved into December), and the management layer's periods (ledgers, dashboard).
REPRESENTATIVE = ["tests/test_lifecycle.py", "tests/test_tasks_web.py", "tests/test_intake_web.py",
                  "tests/test_cli.py", "tests/test_ledgers.py", "tests/test_dashboard.py"]


@pytest.mark.skipif(bool(os.environ.get("BIHUAN_TEST_CLOCK")), reason="this run already is on a guard clock")
@pytest.mark.skipif(bool(os.environ.get("BIHUAN_TEST_DATABASE_URL")), reason="runs in the SQLite pass")
@pytest.mark.parametrize("instant", ["2030-01-02T10:00:00+08:00"])
def test_the_suite_passes_on_another_day(instant):
    env = {**os.environ, "BIHUAN_TEST_CLOCK": instant}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *REPRESENTATIVE],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"on {instant}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout.splitlines()[-1]


def test_every_test_starts_on_the_frozen_clock():
    from tests.conftest import TEST_NOW
    from workflows.clock import utcnow
    assert utcnow() == TEST_NOW
    assert utcnow() == TEST_NOW  # frozen: it does not tick between two readings
