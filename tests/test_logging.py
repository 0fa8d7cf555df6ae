"""Logs that say something: every sweep that fired, every incident with its case number, and
``BIHUAN_LOG_LEVEL`` for the CLI (INFO by default for serve and scheduler, WARNING otherwise)."""
from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import threading
import time

import pytest

from app.cases.timers import fire_due
from app.errors import Blocked
from app.scheduler import sweep
from tests.conftest import at, deploy_variant
from tests.test_cli import BIHUAN, cli_env, run

FIRED = re.compile(r"INFO app\.cases\.timers: timer sweep \(scheduler ([^ ]+:\d+:[0-9a-f]+)\) fired (\d+) timer\(s\) in "
                   r"\d+\.\d\d s")


def overdue(driver, clock, count=1) -> list[str]:
    """Dispatched, never signed for: at 11-04 09:00 each has its sign-for timer due."""
    numbers = [driver.register() for _ in range(count)]
    for number in numbers:
        driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    return numbers


def env(database_url, level: str | None) -> dict:
    environ = cli_env(database_url)
    environ.pop("BIHUAN_LOG_LEVEL", None)
    if level is not None:
        environ["BIHUAN_LOG_LEVEL"] = level
    return environ


def test_a_sweep_that_fired_logs_count_scheduler_and_duration(driver, core, clock, caplog):
    caplog.set_level(logging.INFO, logger="app")
    overdue(driver, clock, 2)
    assert sweep(core) == 2
    [record] = [r for r in caplog.records if r.name == "app.cases.timers"]
    assert record.levelno == logging.INFO
    assert re.fullmatch(r"timer sweep \(scheduler [^ ]+:\d+:[0-9a-f]{8}\) fired 2 timer\(s\) in \d+\.\d\d s",
                        record.getMessage())
    caplog.clear()
    assert fire_due(core) == 0
    assert caplog.records == []  # a sweep that fired nothing says nothing


def test_a_sweep_incident_logs_its_case_number(driver, core, clock, caplog):
    deploy_variant(core, "case_lifecycle.bpmn", 'escalation_reason = "sign_overdue"',
                   "escalation_reason = \"sign_overdue\"\nx = '{0}'.format(1)")
    [number] = overdue(driver, clock)
    caplog.set_level(logging.INFO, logger="app")
    assert fire_due(core) == 0
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"incident on case {number} at task escalate_sign_overdue (scheduler): ")


def test_a_task_incident_logs_its_case_number(driver, core, caplog):
    deploy_variant(core, "case_lifecycle.bpmn", 'status = "dispatched"',
                   "status = \"dispatched\"\nleak = '{0.__class__}'.format(status)")
    number = driver.register()
    caplog.set_level(logging.INFO, logger="app")
    with pytest.raises(Blocked):
        driver.dispatch(number)
    [record] = [r for r in caplog.records if r.name == "app.cases.services"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"incident on case {number} at task assign (cli): ")


def test_cli_timers_fire_logs_to_stderr_at_info(driver, core, clock, database_url):
    overdue(driver, clock)
    proc = subprocess.run([BIHUAN, "timers", "fire"], capture_output=True, text=True, timeout=120, check=False,
                          env=env(database_url, "info"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"fired": 1}  # stdout stays pure JSON
    lines = proc.stderr.strip().splitlines()
    # One line for the fired timer with its case number (app/observability/timer_log.py), then the
    # sweep's summary: nothing else, no library chatter.
    assert len(lines) == 2, proc.stderr
    assert "timer fired on case HD-" in lines[0], lines[0]
    assert FIRED.search(lines[1]).group(2) == "1", lines[1]


def test_cli_one_shot_commands_are_quiet_by_default(driver, core, clock, database_url):
    overdue(driver, clock)
    proc = subprocess.run([BIHUAN, "timers", "fire"], capture_output=True, text=True, timeout=120, check=False,
                          env=env(database_url, None))
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"fired": 1}
    assert proc.stderr == ""


def test_cli_rejects_an_unknown_log_level(core, database_url):
    proc = subprocess.run([BIHUAN, "timers", "due"], capture_output=True, text=True, timeout=120, check=False,
                          env=env(database_url, "LOUD"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: invalid BIHUAN_LOG_LEVEL 'LOUD': use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"]


def test_cli_user_errors_stay_one_line_at_info(core, database_url, monkeypatch):
    monkeypatch.setenv("BIHUAN_LOG_LEVEL", "INFO")
    assert "unknown case" in run("case", "show", "HD-19990101-0001", url=database_url, expect_ok=False)


def test_scheduler_logs_its_sweeps_at_info_by_default(driver, core, clock, database_url):
    overdue(driver, clock, 3)
    proc = subprocess.Popen([BIHUAN, "scheduler"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(database_url, None))
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
    reader.start()
    seen, match = [], None
    try:
        deadline = time.monotonic() + 60
        while match is None and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            match = FIRED.search(seen[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert match, "".join(seen)
    assert match.group(2) == "3"
    # INFO from our own loggers only: no APScheduler "Running job", no SpiffWorkflow task states
    assert seen[0].startswith(f"bihuan scheduler running (scheduler {match.group(1)})"), seen
    assert all(" INFO app." in line for line in seen[1:] if " INFO " in line), "".join(seen)
