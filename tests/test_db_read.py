"""Read sessions (app/db.py, Database.read): one that only read ends with COMMIT, so psycopg keeps its
prepared statements; whatever one wrote is still dropped, as before."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, text, update

from app.auth.models import User


@pytest.fixture
def endings(core):
    """How each transaction on the core's engine ended: a list of 'commit' / 'rollback'."""
    seen: list[str] = []
    listeners = [("commit", lambda conn: seen.append("commit")),
                 ("rollback", lambda conn: seen.append("rollback"))]
    for name, fn in listeners:
        event.listen(core.db.engine, name, fn)
    yield seen
    for name, fn in listeners:
        event.remove(core.db.engine, name, fn)


def _display_name(core, username: str) -> str:
    with core.db.read() as session:
        return session.scalar(select(User.display_name).where(User.username == username))


def test_a_read_that_only_read_ends_with_commit(core, endings):
    with core.db.read() as session:
        assert session.scalar(select(User.display_name).where(User.username == "operator"))
        session.scalar(text("SELECT 1"))
    assert endings == ["commit"]


def test_a_read_session_that_raised_rolls_back(core, endings):
    with pytest.raises(RuntimeError):
        with core.db.read() as session:
            session.scalar(select(User.id).limit(1))
            raise RuntimeError("the caller failed")
    assert endings == ["rollback"]


@pytest.mark.parametrize("how", ["pending", "flushed", "statement"])
def test_what_a_read_session_wrote_is_dropped(core, endings, how):
    before = _display_name(core, "operator")
    endings.clear()
    with core.db.read() as session:
        if how == "statement":
            session.execute(update(User).where(User.username == "operator").values(display_name="改过"))
        else:
            user = session.scalars(select(User).where(User.username == "operator")).one()
            user.display_name = "改过"
            if how == "flushed":
                session.flush()
    assert endings == ["rollback"]
    assert _display_name(core, "operator") == before != "改过"


def test_a_read_after_a_session_that_wrote_commits_again(core, endings):
    """The flag is per transaction: a read after a session that wrote on the same connection commits."""
    with core.db.read() as session:
        session.execute(update(User).where(User.username == "operator").values(display_name="改过"))
    with core.db.read() as session:
        session.scalar(select(User.id).limit(1))
    assert endings == ["rollback", "commit"]


def test_postgresql_keeps_prepared_statements_across_reads(core):
    """The point of ending reads with COMMIT: a statement run in many short reads gets prepared once
    (psycopg prepares after 5 runs on a connection) instead of being forgotten at every ROLLBACK."""
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's, on PostgreSQL")
    query = select(User.display_name).where(User.username == "operator")
    for _ in range(60):  # each pooled connection runs it several times, whichever the pool hands out
        with core.db.read() as session:
            session.scalar(query)
    with core.db.read() as session:
        prepared = session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any("FROM users" in statement and "display_name" in statement for statement in prepared), prepared

