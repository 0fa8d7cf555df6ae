"""Two people completing the same task at once: one wins, one gets a clear conflict, nothing is lost."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from app.cases.models import WorkflowInstance
from app.errors import Conflict
from app.processes.models import ProcessVersion
from tests.conftest import CST, audit_rows, race
from workflows.clock import utcnow

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def written_first(engine, prefix: str, sql: str | None = None):
    """Another writer gets in first, inside the transaction about to run a statement starting with ``prefix``.

    Just before that statement, ``sql`` (default: the statement itself, with its parameters) runs on
    the same connection, so in the same transaction: as if a concurrent writer had committed it
    between the action's reads and its writes. Only the first such statement is affected.
    """
    hits: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if hits or not statement.lstrip().upper().startswith(prefix):
            return
        hits.append(statement)
        side = conn.connection.cursor()
        try:
            if sql is not None:
                side.execute(sql)
            elif executemany:
                side.executemany(statement, parameters)
            else:
                side.execute(statement, parameters)
        finally:
            side.close()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield hits
    finally:
        event.remove(engine, "before_cursor_execute", before)


@contextmanager
def meet_before_writing(engine, parties: int):
    """Each thread waits at its first write until ``parties`` threads are there: all have read, none written.

    Only on PostgreSQL: on SQLite a writer's BEGIN IMMEDIATE makes the others wait before they read.
    """
    barrier = threading.Barrier(parties, timeout=30)
    local = threading.local()

    def before(conn, cursor, statement, parameters, context, executemany):
        if not getattr(local, "met", False) and statement.lstrip().upper().startswith(WRITES):
            local.met = True
            barrier.wait()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)


def postgres_only(core):
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises writers, so two can never have read the same version")


@pytest.mark.parametrize("attempt", range(3))
def test_two_completions_of_one_task(driver, core, attempt):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    categories = ["城市管理", "治安"]

    def complete(i):
        return core.cases.complete_task(task_id, user="dispatcher", data={
            "decision": "dispatch", "category": categories[i], "difficulty": "normal"})

    results = race(complete)
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"], results
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, Conflict)
    winner = next(value for kind, value in results if kind == "ok")

    case = driver.show(number)
    assert case["status"] == "dispatched"
    assert case["category"] == winner["category"]  # the loser changed nothing
    assert [h.task_bpmn_id for h in audit_rows(core, number, "complete")] == ["dispatch"]
    assert driver.ready(number) == ["sign_for"]
    with core.db.read() as session:
        inst = session.scalars(select(WorkflowInstance)).one()
        assert inst.version == 2  # written at intake, then by exactly one completion


def test_stale_instance_version_is_a_conflict(driver, core):
    """The optimistic lock itself: a writer holding an old version cannot overwrite a newer state."""
    from sqlalchemy.orm.exc import StaleDataError

    number = driver.register()
    with core.db.sessions() as stale:
        old = stale.scalars(select(WorkflowInstance)).one()
        stale.commit()  # end the read; the object keeps version 1 (expire_on_commit is off)
        driver.dispatch(number)
        old.state = old.state + b"\0"
        with pytest.raises(StaleDataError):
            stale.commit()
    assert driver.show(number)["status"] == "dispatched"


@pytest.mark.parametrize("stage", ["dispatch", "verify"])
def test_completion_of_a_state_changed_meanwhile_is_a_conflict(driver, core, stage):
    """The instance's version moves on between complete_task's read and its write: a clear conflict."""
    number = driver.register()
    if stage == "verify":
        driver.dispatch(number)
        driver.sign(number)
        driver.reply(number)
    task = driver.task(number, stage)
    before = driver.show(number)
    data = {"verify_result": "passed"} if stage == "verify" else {
        "decision": "dispatch", "category": "治安", "difficulty": "normal"}

    bump = "UPDATE workflow_instances SET version = version + 1"
    with written_first(core.db.engine, "UPDATE WORKFLOW_INSTANCES", bump) as hits, \
            pytest.raises(Conflict, match="changed by someone else at the same time"):
        core.cases.complete_task(task["id"], user="dispatcher", data=data)
    assert hits, "complete_task wrote no version-checked UPDATE"
    after = driver.show(number)
    assert (after["status"], after["tasks"], after["history"]) == (before["status"], before["tasks"], before["history"])
    # nothing is left half-done: the same submission goes through once the case is read afresh
    assert core.cases.complete_task(task["id"], user="dispatcher", data=data)["status"] != before["status"]


@pytest.mark.parametrize("stage", ["dispatch", "sign_for", "handle", "verify"])
def test_two_completions_that_read_the_same_version(driver, core, stage):
    """A real race on PostgreSQL: both have read the case before either writes; one wins, one conflicts."""
    postgres_only(core)
    number = driver.register()
    steps = {"dispatch": [], "sign_for": [driver.dispatch], "handle": [driver.dispatch, driver.sign],
             "verify": [driver.dispatch, driver.sign, driver.reply]}[stage]
    for step in steps:
        step(number)
    task_id = driver.task(number, stage)["id"]
    user, forms = {
        "dispatch": ("dispatcher", [{"decision": "dispatch", "category": c, "difficulty": "normal"}
                                    for c in ("城市管理", "治安")]),
        "sign_for": ("handler", [{"decision": "sign_for"}] * 2),
        "handle": ("handler", [{"decision": "reply", "reply_text": t} for t in ("已修复", "已清理")]),
        "verify": ("dispatcher", [{"verify_result": "passed", "verify_note": t} for t in ("现场已修复", "复查通过")]),
    }[stage]

    with meet_before_writing(core.db.engine, 2):
        results = race(lambda i: core.cases.complete_task(task_id, user=user, data=forms[i]))
    assert sorted(kind for kind, _ in results) == ["error", "ok"], results
    [error] = [value for kind, value in results if kind == "error"]
    assert isinstance(error, Conflict) and "changed by someone else" in str(error), repr(error)
    [winner] = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
    [done] = [r for r in audit_rows(core, number, "complete") if r.task_id == task_id]
    assert done.changes["data"] == forms[winner]


def test_concurrent_registrations_get_distinct_numbers(driver, core):
    """Eight intakes at once on a fresh install (the first of the day, and the first deploy of the
    shipped process among them): eight cases, eight numbers, one process version, no error."""
    results = race(lambda i: driver.register(text=f"第{i}号诉求"), n=8)
    assert all(kind == "ok" for kind, _ in results), results
    numbers = sorted(value for _, value in results)
    today = utcnow().astimezone(CST).strftime("%Y%m%d")
    assert numbers == [f"HD-{today}-{n:04d}" for n in range(1, 9)]
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessVersion)) == 1


def test_an_integrity_error_nobody_else_caused_is_not_called_a_conflict(driver, core):
    """The safety net only covers concurrent writers: with the case as it was read, the error stays a bug."""
    from sqlalchemy.exc import IntegrityError

    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    data = {"decision": "dispatch", "category": "城市管理", "difficulty": "normal"}
    # sign_for's row is inserted twice in the same transaction, by nobody else
    with written_first(core.db.engine, "INSERT INTO READY_TASKS") as hits, pytest.raises(IntegrityError):
        core.cases.complete_task(task_id, user="dispatcher", data=data)
    assert hits and driver.ready(number) == ["dispatch"]
