"""The APScheduler sweep: catch-up after downtime, and exactly-once firing."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from app.cases.timers import fire_due
from app.scheduler import build_scheduler
from tests.conftest import audit_rows
from tests.test_concurrency import race

CST = ZoneInfo("Asia/Shanghai")


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_scheduler_catches_up_on_start(driver, core):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=True) as clock:
        number = driver.register(type="咨询")
        driver.dispatch(number)
        driver.sign(number)
        # the scheduler was down while the deadline (end of 11-04) passed
        clock.move_to(datetime(2026, 11, 9, 9, 0, tzinfo=CST))
        scheduler = build_scheduler(core, blocking=False, seconds=3600)
        scheduler.start()
        try:
            assert wait_for(lambda: driver.show(number)["supervision_tier"] == 1)
        finally:
            scheduler.shutdown(wait=True)
    assert [r.actor for r in audit_rows(core, number, "timer")] == ["scheduler"]


def test_overlapping_sweeps_fire_each_timer_once(driver, core):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=False) as clock:
        numbers = [driver.register(type="咨询") for _ in range(4)]
        for number in numbers:
            driver.dispatch(number)
        clock.move_to(datetime(2026, 11, 6, 9, 0, tzinfo=CST))
        results = race(lambda _i: fire_due(core), n=2)
        assert all(kind == "ok" for kind, _ in results), results
        assert sum(value for _, value in results) == 4
        for number in numbers:
            assert len(audit_rows(core, number, "timer")) == 1
            assert [i["tier"] for i in driver.show(number)["supervision"]] == [1]
        assert fire_due(core) == 0


def test_sweep_reads_only_due_instances(driver, core):
    """Nothing due: the sweep is one indexed query and touches no workflow state."""
    from sqlalchemy import event

    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=False):
        for _ in range(3):
            driver.dispatch(driver.register())
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(core.db.engine, "before_cursor_execute", listener)
        try:
            assert fire_due(core) == 0
        finally:
            event.remove(core.db.engine, "before_cursor_execute", listener)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "next_timer_at" in selects[0] and "state" not in selects[0].split("FROM")[0]
