"""The APScheduler sweep: catch-up after downtime, and exactly-once firing."""
from __future__ import annotations

import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.cases.timers import fire_due
from app.errors import Conflict
from app.scheduler import build_scheduler
from tests.conftest import at, audit_rows
from tests.conftest import race
from tests.test_concurrency import meet_before_writing, postgres_only, written_first

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


def test_catch_up_runs_even_when_the_scheduler_starts_late(driver, core):
    """Seconds pass between planning the first sweep and starting (a slow start, a busy machine):
    the catch-up sweep still runs, instead of being skipped as "missed" until the next interval."""
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=True) as clock:
        number = driver.register()
        driver.dispatch(number)
        clock.move_to(datetime(2026, 11, 4, 9, 0, tzinfo=CST))
        scheduler = build_scheduler(core, blocking=False, seconds=3600)
        clock.shift(5)
        scheduler.start()
        try:
            assert wait_for(lambda: driver.show(number)["supervision_tier"] == 1, seconds=10)
        finally:
            scheduler.shutdown(wait=True)


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


def overdue_cases(driver, clock, count: int) -> list[str]:
    """Cases whose sign-for deadline (end of 11-03) has passed: one timer due on each."""
    numbers = [driver.register() for _ in range(count)]
    for number in numbers:
        driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    return numbers


def fired_once(core, driver, numbers) -> bool:
    return all(len(audit_rows(core, n, "timer")) == 1 and "urge" in driver.ready(n) for n in numbers)


@pytest.mark.parametrize("count", [1, 3])
def test_sweep_of_a_state_changed_meanwhile(driver, core, clock, caplog, count):
    """A case changes between the sweep's read and its write: a chunk is redone case by case;
    a single case waits for the next sweep. Nothing fires twice, nothing crashes."""
    numbers = overdue_cases(driver, clock, count)
    caplog.set_level(logging.INFO, logger="app")
    # The claim is an UPDATE too: the concurrent writer gets in before the version-checked state write.
    with written_first(core.db.engine, "UPDATE WORKFLOW_INSTANCES SET STATE",
                       "UPDATE workflow_instances SET version = version + 1") as hits:
        fired = fire_due(core)
    assert hits
    if count == 1:
        assert fired == 0 and audit_rows(core, numbers[0], "timer") == []
        assert f"case {numbers[0]} changed meanwhile; retried next sweep" in caplog.text
        assert fire_due(core) == 1
    else:
        assert fired == count
    assert fired_once(core, driver, numbers)


@pytest.mark.parametrize("count", [1, 2])
def test_sweep_colliding_with_a_concurrent_writers_row(driver, core, clock, caplog, count):
    """A row the sweep inserts is already there (IntegrityError): handled like a changed case, never a crash."""
    numbers = overdue_cases(driver, clock, count)
    caplog.set_level(logging.INFO, logger="app")
    with written_first(core.db.engine, "INSERT INTO READY_TASKS") as hits:
        fired = fire_due(core)
    assert hits
    if count == 1:
        assert fired == 0
        [line] = [r for r in caplog.records if r.levelno == logging.WARNING and "retried next sweep" in r.message]
        assert f"case {numbers[0]}:" in line.message and "ready_tasks" in line.message
        assert fire_due(core) == 1
    else:
        assert fired == count
    assert fired_once(core, driver, numbers)


def test_two_sweeps_that_read_the_same_versions(driver, core, clock):
    """Two schedulers, both past their reads before either claims (PostgreSQL): SKIP LOCKED gives
    them disjoint claims, each timer fires once, and neither sweep fails on the other's rows."""
    postgres_only(core)
    numbers = overdue_cases(driver, clock, 4)
    with meet_before_writing(core.db.engine, 2):
        results = race(lambda _i: fire_due(core), n=2)
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(value for _, value in results) == 4
    assert fired_once(core, driver, numbers)


def test_sweep_racing_a_user_completion(driver, core, clock):
    """The handler signs for while the sweep escalates the overdue sign-for (PostgreSQL, both have read):
    one of them wins; the other gets the clear conflict or leaves the case to the next sweep."""
    postgres_only(core)
    [number] = overdue_cases(driver, clock, 1)
    task_id = driver.task(number, "sign_for")["id"]
    actions = [lambda: fire_due(core),
               lambda: core.cases.complete_task(task_id, user="handler", data={"decision": "sign_for"})]
    with meet_before_writing(core.db.engine, 2):
        (sweep_kind, fired), (user_kind, user_result) = race(lambda i: actions[i](), n=2)
    assert sweep_kind == "ok", fired
    if user_kind == "ok":
        assert fired == 0 and audit_rows(core, number, "timer") == []
        assert driver.ready(number) == ["handle"]
    else:
        assert isinstance(user_result, Conflict), repr(user_result)
        assert fired == 1 and driver.ready(number) == ["sign_for", "urge"]
    assert fire_due(core) == 0
