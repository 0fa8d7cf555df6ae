"""A transaction that fails because its connection died (a failover, a killed backend) is retried
from the start; one that may have committed is not (app/db.py, retry_transient)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.cases.models import AuditEntry, Case
from app.db import is_transient


@pytest.fixture
def postgres(core):
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's; SQLite has no server connection to lose")
    admin = create_engine(core.db.engine.url, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


def _kill_once(core, admin, statement_start: str):
    """Terminate this process's backend the first time it is about to run ``statement_start``."""
    state = {"killed": 0}

    def before(conn, cursor, statement, parameters, context, executemany):
        if not state["killed"] and statement.lstrip().upper().startswith(statement_start):
            state["killed"] += 1
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    event.listen(core.db.engine, "before_cursor_execute", before)
    return state, lambda: event.remove(core.db.engine, "before_cursor_execute", before)


def test_a_killed_backend_mid_action_is_retried_once_and_the_case_registered_once(core, driver, postgres):
    state, stop = _kill_once(core, postgres, "INSERT INTO AUDIT_LOG")
    try:
        number = driver.register(text="断电后重试的诉求")
    finally:
        stop()
    assert state["killed"] == 1
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case).where(Case.text == "断电后重试的诉求")) == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .join(Case, Case.id == AuditEntry.case_id).where(Case.number == number)) == 1
    # and the completed task too, through the whole service action
    driver.dispatch(number)
    state, stop = _kill_once(core, postgres, "UPDATE WORKFLOW_INSTANCES")
    try:
        driver.sign(number)
    finally:
        stop()
    assert state["killed"] == 1
    assert driver.show(number)["status"] == "handling"
    assert driver.ready(number) == ["handle"]


def test_database_run_retries_an_action_whose_backend_was_killed(core, postgres):
    attempts = []

    def action(session):
        attempts.append(1)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
        if len(attempts) == 1:
            with postgres.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return session.execute(text("SELECT 41 + 1")).scalar()

    assert core.db.run(action) == 42 and len(attempts) == 2


def test_what_is_not_transient_is_not_retried(core):
    calls = []

    def duplicate(session):
        calls.append(1)
        session.execute(text("SELECT 1"))
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        core.db.run(duplicate)
    assert len(calls) == 1
    unknown = DBAPIError("COMMIT", {}, Exception("server closed the connection"), connection_invalidated=True)
    assert is_transient(unknown)
    unknown.bihuan_commit_unknown = True
    assert not is_transient(unknown)
