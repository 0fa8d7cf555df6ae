"""app/db.insert_rows: plain rows, one statement on PostgreSQL, read back as the ORM wrote them;
batched_inserts: the rows of many calls written by one statement when the block ends."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import StatementError

from app.auth.models import User
from app.cases.models import Case
from app.db import batched_inserts, insert_rows
from app.notifications.models import Notification, OutboxMessage


def test_rows_read_back_as_written(core, driver):
    number = driver.register(type="咨询")
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        user_ids = sorted(session.scalars(select(User.id)).all())[:2]
    at = datetime(2026, 11, 2, 2, 0, 0, 123456, tzinfo=timezone.utc)
    local = at.astimezone(timezone(timedelta(hours=8)))  # written as UTC, whatever zone it came in
    rows = [{"user_id": uid, "kind": "repeat_call", "case_id": case_id, "case_number": number, "task_id": task,
             "params": {"case": number, "text": "引号\"、反斜杠\\ 与 'single'", "nested": {"n": [1, None, True]}},
             "created_at": local, "read_at": None} for uid, task in zip(user_ids, ["t-1", None])]
    statements = []
    with core.db.unit_of_work() as session:
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(session.connection(), "before_cursor_execute", listener)
        insert_rows(session, Notification.__table__, rows)
        insert_rows(session, OutboxMessage.__table__, [])  # nothing to insert: no statement
        event.remove(session.connection(), "before_cursor_execute", listener)
    assert len([s for s in statements if "INSERT" in s]) == 1
    with core.db.read() as session:
        got = session.scalars(select(Notification).where(Notification.kind == "repeat_call",
                                                         Notification.case_id == case_id)
                              .order_by(Notification.user_id)).all()
        assert [(n.user_id, n.task_id, n.params, n.created_at, n.read_at) for n in got] == \
            [(r["user_id"], r["task_id"], r["params"], at, None) for r in rows]


def test_a_naive_instant_is_refused_and_nothing_is_written(core, driver):
    number = driver.register(type="咨询")
    with core.db.read() as session:
        before = session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1))
    # A programmer's mistake, not a user's: SQLAlchemy wraps the error on SQLite, not in the PostgreSQL path.
    with pytest.raises((ValueError, StatementError), match="naive"):
        with core.db.unit_of_work() as session:
            insert_rows(session, Notification.__table__, [
                {"user_id": min(session.scalars(select(User.id))), "kind": "repeat_call", "case_id": None, "case_number": number, "task_id": None,
                 "params": {}, "created_at": datetime(2026, 11, 2, 10, 0), "read_at": None}])
    with core.db.read() as session:
        assert session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) == before


def test_a_batch_writes_many_calls_rows_once_at_its_end_and_nothing_after_an_error(core, driver):
    number = driver.register(type="咨询")
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        user_ids = sorted(session.scalars(select(User.id)).all())[:3]
    at = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)

    def rows(kind):
        return [{"user_id": uid, "kind": kind, "case_id": case_id, "case_number": number, "task_id": None,
                 "params": {"case": number}, "created_at": at, "read_at": None} for uid in user_ids]

    def written(kind):
        with core.db.read() as session:
            return session.scalars(select(Notification.user_id).where(Notification.kind == kind)
                                   .order_by(Notification.user_id)).all()

    statements = []
    with core.db.unit_of_work() as session:
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(session.connection(), "before_cursor_execute", listener)
        with batched_inserts(session):
            insert_rows(session, Notification.__table__, rows("repeat_call")[:2])
            insert_rows(session, Notification.__table__, rows("repeat_call")[2:])
            assert statements == []  # held until the block ends
        event.remove(session.connection(), "before_cursor_execute", listener)
    assert len([s for s in statements if "INSERT" in s]) == 1
    assert written("repeat_call") == user_ids

    with pytest.raises(RuntimeError):
        with core.db.unit_of_work() as session:
            with batched_inserts(session):
                insert_rows(session, Notification.__table__, rows("case_closed"))
                raise RuntimeError("the action failed")
    assert written("case_closed") == []
    with core.db.unit_of_work() as session:  # and the batch is gone: the next insert is written at once
        insert_rows(session, Notification.__table__, rows("case_closed")[:1])
        assert session.info.get("bihuan_batched_inserts") is None
    assert written("case_closed") == user_ids[:1]
