"""Several real `bihuan scheduler` processes against one database: dynamic claims, kill -9, cron periods.

Every process gets the test's instant as its clock (BIHUAN_TEST_NOW, ticking from its start; see
workflows/clock.py), shifted by the real time elapsed since the test froze it, so that the clocks of
processes started at different moments agree, as synchronised machines' clocks do.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.cases.models import AuditEntry, Case, WorkflowInstance
from app.reports.report_models import JobRun, Report
from app.scheduling.models import SchedulerHeartbeat
from tests.conftest import at
from tests.test_cli import BIHUAN, cli_env
from tests.test_retention import closed_case

LEASE = 3  # seconds: short, so that the takeover happens within the test


def postgres_only(core):
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers on one file: several schedulers racing and a takeover after "
                    "kill -9 are exercised against PostgreSQL (BIHUAN_TEST_DATABASE_URL)")


class Cluster:
    def __init__(self, database_url: str, frozen_at, **env):
        self.url, self.frozen_at, self.started = database_url, frozen_at, time.monotonic()
        self.env = {"BIHUAN_SWEEP_SECONDS": "1", "BIHUAN_CLAIM_LEASE_SECONDS": str(LEASE),
                    "BIHUAN_LOG_LEVEL": "WARNING",
                    # the nightly 附件清理 lists this store, never the checkout's own instance/attachments
                    "BIHUAN_ATTACHMENTS_DIR": tempfile.mkdtemp(prefix="bihuan-attachments-"), **env}
        self.procs: list[subprocess.Popen] = []

    def now(self):
        return self.frozen_at + timedelta(seconds=time.monotonic() - self.started)

    def start(self) -> subprocess.Popen:
        environ = {**cli_env(self.url), **self.env, "BIHUAN_TEST_NOW": self.now().isoformat()}
        proc = subprocess.Popen([BIHUAN, "scheduler"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=environ)
        self.procs.append(proc)
        return proc

    def stop(self) -> list[str]:
        errors = []
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            errors.append(err or "")
        return errors


def wait_until(condition, seconds: float = 120, step: float = 0.02) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def overdue(driver, clock, count: int) -> list[str]:
    """``count`` cases dispatched on 11-02 and never signed for: each has its sign-for deadline due at 11-04."""
    numbers = [driver.register() for _ in range(count)]
    for number in numbers:
        driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    return numbers


def fired_timers(core) -> Counter:
    """(case id, timer name) -> how many audit rows say it fired."""
    with core.db.read() as session:
        rows = session.execute(select(AuditEntry.case_id, AuditEntry.changes).where(
            AuditEntry.action.in_(("timer", "reminder")), AuditEntry.source == "scheduler")).all()
    return Counter((case_id, name) for case_id, changes in rows for name in changes["timers"])


def still_due(core, before) -> int:
    with core.db.read() as session:
        return session.scalar(select(func.count()).select_from(WorkflowInstance)
                              .where(WorkflowInstance.next_timer_at <= before))


def test_many_timers_three_schedulers_one_killed_mid_sweep(driver, core, clock, database_url):
    """A scheduler is killed (SIGKILL) while it holds claims on due timers it has not fired yet: two
    others take its claims over once the lease expires, and every timer fires exactly once."""
    postgres_only(core)
    t0 = time.monotonic()
    numbers = overdue(driver, clock, 120)
    print(f"created {len(numbers)} overdue cases in {time.monotonic() - t0:.1f} s")
    horizon = at(2026, 11, 4, 9, 0)
    assert still_due(core, horizon) == len(numbers)
    cluster = Cluster(database_url, horizon)
    victim = cluster.start()
    mark = f"%:{victim.pid}:%"

    def unfired_claims():
        with core.db.read() as session:
            return set(session.scalars(select(WorkflowInstance.id).where(
                WorkflowInstance.claimed_by.like(mark), WorkflowInstance.next_timer_at <= horizon)))

    try:
        # Mid-sweep: it has fired some timers and holds claims on due ones it has not fired.
        assert wait_until(lambda: bool(fired_timers(core)) and bool(unfired_claims())), cluster.stop()
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = cluster.now()
        orphans = unfired_claims()
        assert orphans, "the victim held no unfired claims when it died"
        assert 0 < still_due(core, horizon) < len(numbers)
        cluster.start()
        cluster.start()
        assert wait_until(lambda: still_due(core, horizon) == 0, seconds=180), cluster.stop()
        print(f"the survivors fired the rest {(cluster.now() - killed_at).total_seconds():.1f} s after the kill")
        with core.db.read() as session:
            taken = session.execute(select(WorkflowInstance.id, WorkflowInstance.claimed_by,
                                           WorkflowInstance.updated_at).where(WorkflowInstance.id.in_(orphans))).all()
    finally:
        errors = cluster.stop()
    assert not any("Traceback" in e for e in errors[1:]), errors
    # The dead one's claims were taken over: fired by another process after the kill, not re-claimed by it.
    assert all(claimed is None or f":{victim.pid}:" not in claimed for _, claimed, _ in taken), taken
    assert all(updated >= killed_at - timedelta(seconds=1) for _, _, updated in taken), (killed_at, taken)
    # Exactly once: one audit row per case, naming each timer once, and the escalation it caused.
    counts = fired_timers(core)
    assert counts and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]
    with core.db.read() as session:
        ids = dict(session.execute(select(Case.number, Case.id).where(Case.number.in_(numbers))).all())
    assert {case_id for case_id, _ in counts} == set(ids.values())
    for number in numbers[:10] + numbers[-10:]:
        assert "urge" in driver.ready(number), number
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(WorkflowInstance)
                              .where(WorkflowInstance.claimed_by.like(mark))) == 0


def test_two_schedulers_run_each_cron_period_once_and_catch_up(driver, core, clock, database_url):
    """Two processes start together after downtime: the missed weekly reports (W45, W46) and the
    nightly erasure are each done once, by one of them."""
    postgres_only(core)
    clock.move_to(at(2026, 11, 16, 9, 0))
    old = closed_case(driver, core, 3 * 365 + 1)  # past the retention period
    with core.db.unit_of_work() as session:  # the last report before the downtime: W44
        session.add(JobRun(job="weekly_report", period="2026-W44", ran_at=at(2026, 11, 2, 8, 0), runner="test"))
    cluster = Cluster(database_url, at(2026, 11, 16, 9, 0))

    def runs():
        with core.db.read() as session:
            return sorted(session.execute(select(JobRun.job, JobRun.period)).all())

    try:
        cluster.start()
        cluster.start()
        expected = [("attachment_cleanup", "2026-11-16"), ("erase_personal_data", "2026-11-16"),
                    ("weekly_report", "2026-W44"),
                    ("weekly_report", "2026-W45"), ("weekly_report", "2026-W46")]
        assert wait_until(lambda: runs() == expected, seconds=120, step=0.2), runs()

        def both_swept():
            with core.db.read() as session:
                return session.scalar(select(func.count()).select_from(SchedulerHeartbeat)) == 2
        assert wait_until(both_swept, seconds=60, step=0.2)
        time.sleep(3)  # both have run every start-up job by now; a second run would show
    finally:
        errors = cluster.stop()
    assert not any("Traceback" in e for e in errors), errors
    assert runs() == expected
    with core.db.read() as session:
        reports = sorted(session.scalars(select(Report.period).where(Report.kind == "weekly")))
        erased = session.scalars(select(AuditEntry).where(AuditEntry.action == "anonymise")).all()
        case = session.scalars(select(Case).where(Case.number == old)).one()
    assert reports == ["2026-W45", "2026-W46"]
    assert len(erased) == 1 and case.reporter_phone is None

