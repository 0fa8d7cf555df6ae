"""Engine work never holds the database's write lock (issue 14, finding 9).

A designer's script may run up to the sandbox's budget. While it runs, other people must be able to
write: on SQLite a write transaction holds the whole database's write lock, on PostgreSQL an open
transaction pins a pooled connection and whatever rows it touched. So ``register`` and
``complete_task`` read, run the engine in memory with no transaction open, then write in one short
transaction; a case that another action changed meanwhile is redone on the fresh state.
"""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select, text

from app.cases.models import Case, WorkflowInstance
from app.cases.services import OPTIMISTIC_ATTEMPTS
from app.errors import Conflict
from tests.conftest import audit_rows


def another_writer_can_write(core) -> bool:
    """Whether a second connection could take the write lock at this moment, without waiting."""
    if core.db.engine.dialect.name == "sqlite":
        conn = sqlite3.connect(core.db.engine.url.database, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:  # "database is locked"
            return False
        finally:
            conn.close()
    with core.db.engine.connect() as conn:  # a row another transaction updated would make this wait
        conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
        conn.execute(text("UPDATE cases SET urgent = urgent"))
        conn.rollback()
    return True


def spy(monkeypatch, core, method: str, during):
    """Run ``during()`` each time the engine's ``method`` runs, after the real work; calls are counted."""
    real = getattr(core.engine, method)
    calls = []

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(during())
        return result

    monkeypatch.setattr(core.engine, method, wrapped)
    return calls


def connections_in_use(core) -> int:
    return core.db.engine.pool.checkedout()


def test_completion_runs_the_engine_with_no_transaction_open(driver, core, monkeypatch):
    number = driver.register()
    seen = spy(monkeypatch, core, "complete", lambda: (connections_in_use(core), another_writer_can_write(core)))
    driver.dispatch(number)
    assert seen == [(0, True)]
    assert driver.show(number)["status"] == "dispatched"


def test_registration_runs_the_engine_with_no_transaction_open(driver, core, monkeypatch):
    driver.register()  # the shipped version is deployed by the first registration, in its transaction
    seen = spy(monkeypatch, core, "start", lambda: (connections_in_use(core), another_writer_can_write(core)))
    number = driver.register()
    assert seen == [(0, True)]
    assert driver.ready(number) == ["dispatch"]


def bump_version(core, number: str) -> None:
    """Another action committed on the case: its instance's version moves on."""
    with core.db.unit_of_work() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        inst = session.scalars(select(WorkflowInstance).where(WorkflowInstance.case_id == case_id)).one()
        session.execute(text("UPDATE workflow_instances SET version = version + 1 WHERE id = :id"), {"id": inst.id})


def test_a_case_changed_during_the_engine_work_is_redone_on_the_fresh_state(driver, core, monkeypatch):
    number = driver.register()
    calls = spy(monkeypatch, core, "complete", lambda: bump_version(core, number) if not calls else None)
    result = driver.dispatch(number)
    assert len(calls) == 2  # the first result was thrown away, the engine ran again on the new version
    assert result["status"] == "dispatched"
    assert [row.task_bpmn_id for row in audit_rows(core, number, "complete")] == ["dispatch"]


def test_a_case_that_keeps_changing_is_a_conflict_that_changes_nothing(driver, core, monkeypatch):
    number = driver.register()
    before = driver.show(number)
    calls = spy(monkeypatch, core, "complete", lambda: bump_version(core, number))
    with pytest.raises(Conflict, match="changed by someone else at the same time"):
        driver.dispatch(number)
    assert len(calls) == OPTIMISTIC_ATTEMPTS
    after = driver.show(number)
    assert (after["status"], after["tasks"], after["history"]) == (before["status"], before["tasks"], before["history"])


def test_reopening_a_closed_case_runs_the_engine_with_no_transaction_open(driver, core, monkeypatch):
    from app.intake.repeat_calls import attach_call
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    seen = spy(monkeypatch, core, "start_by_message",
               lambda: (connections_in_use(core), another_writer_can_write(core)))
    assert attach_call(core, number, user="operator", text="问题又出现了", reopen=True)["reopened"]
    assert seen == [(0, True)]
    assert driver.show(number)["status"] == "handling"


def test_a_volunteer_redemption_runs_the_engine_with_no_transaction_open(core, monkeypatch):
    from app.volunteers import ledger, redemption
    from tests.volunteer_helpers import OFFICE, reward, volunteer
    first, vid, rid = volunteer(core, "13800002101"), volunteer(core, "13800002102"), reward(core, 50, 3)
    with core.db.unit_of_work() as session:
        for someone in (first, vid):
            ledger.post(session, someone, 60, "service", earned_year=2026, confirmed_by="organiser")
    redemption.apply(core, first, rid)  # deploys the shipped version (in a write transaction) the first time
    started = spy(monkeypatch, core, "start", lambda: (connections_in_use(core), another_writer_can_write(core)))
    completed = spy(monkeypatch, core, "complete", lambda: (connections_in_use(core), another_writer_can_write(core)))
    applied = redemption.apply(core, vid, rid)
    assert redemption.complete(core, OFFICE, applied["id"], {"decision": "approve"})["status"] == "approved"
    assert started == [(0, True)] and completed == [(0, True)]
