"""Deploys at the same moment (the CLI and a designer, two first registrations on a fresh install):
each gets its own version number, the same files give one version, the caller's unit of work keeps
what it wrote before the deploy, and nobody sees an IntegrityError.

Each deploy runs in its own thread with its own Core, as separate processes would. On PostgreSQL
the deploys are held at a barrier once every one of them has read the highest version number, so
they all race for the same next number; on SQLite writers queue at BEGIN IMMEDIATE (no barrier:
the second could never reach it while the first holds the lock).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from app.cases.models import AuditEntry
from app.core import Core
from app.processes.models import ProcessVersion
from app.processes.services import SHIPPED_BUNDLE, deploy, ensure_shipped_version
from tests.conftest import race
from workflows.bundle import read_directory
from workflows.clock import utcnow

COMPLAINT_RULE = '<outputEntry id="deadlines_rule_9_days"><text>15</text></outputEntry>'


def variant(days: int) -> dict[str, bytes]:
    files = read_directory(SHIPPED_BUNDLE)
    text = files["rules/deadlines.dmn"].decode()
    assert COMPLAINT_RULE in text
    files["rules/deadlines.dmn"] = text.replace(COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", f">{days}<")).encode()
    return files


def deploy_at_once(database_url: str, bundles: list[dict[str, bytes]]) -> list:
    """Deploy each bundle from its own thread and Core; returns ("ok", version, created) or ("error", exc)."""
    barrier = threading.Barrier(len(bundles), timeout=30)

    def run(i: int):
        own = Core(database_url)
        met = []

        @event.listens_for(own.db.engine, "after_cursor_execute")
        def _meet(_conn, _cursor, statement, *_args):
            racing = own.db.engine.dialect.name != "sqlite"
            if racing and not met and "max(process_versions.version)" in statement.lower():
                met.append(True)
                barrier.wait()  # everyone has read the same highest number

        try:
            with own.db.unit_of_work() as session:
                # what the caller wrote before deploying must survive a retried insert
                session.add(AuditEntry(at=utcnow(), actor=f"deployer{i}", case_id=None, action="test_before_deploy",
                                       changes={}, source="test"))
                session.flush()
                row, created = deploy(session, bundles[i], actor=f"deployer{i}")
                return row.version, created
        finally:
            own.close()

    return [("ok", *value) if kind == "ok" else (kind, value) for kind, value in race(run, n=len(bundles))]


def _callers_rows(core) -> list[str]:
    with core.db.read() as session:
        return sorted(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "test_before_deploy")))


def test_concurrent_deploys_of_different_files_get_consecutive_versions(core, database_url):
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
    results = deploy_at_once(database_url, [variant(10), variant(11), variant(12)])
    assert all(r[0] == "ok" for r in results), results
    assert sorted(r[1] for r in results) == [2, 3, 4] and all(r[2] for r in results)
    with core.db.read() as session:
        rows = list(session.scalars(select(ProcessVersion).order_by(ProcessVersion.version)))
    assert [row.version for row in rows] == [1, 2, 3, 4]
    assert len({row.content_hash for row in rows}) == 4
    assert {row.deployed_by for row in rows[1:]} == {"deployer0", "deployer1", "deployer2"}
    assert _callers_rows(core) == ["deployer0", "deployer1", "deployer2"]


def test_two_first_registrations_at_once_make_one_version_1(core, database_url):
    """Both deploy the shipped files on an empty install: one creates version 1, the other finds it."""
    shipped = read_directory(SHIPPED_BUNDLE)
    results = deploy_at_once(database_url, [shipped, dict(shipped)])
    assert sorted(results, key=lambda r: r[2]) == [("ok", 1, False), ("ok", 1, True)], results
    with core.db.read() as session:
        assert [row.version for row in session.scalars(select(ProcessVersion))] == [1]
    assert _callers_rows(core) == ["deployer0", "deployer1"]


def test_a_number_taken_again_and_again_is_a_clear_conflict(core, database_url, monkeypatch):
    """With no retry left the loser gets Conflict (409), not an IntegrityError, and the winner is intact.
    Only PostgreSQL can lose this race (SQLite writers queue), so there it is shown with one attempt."""
    from app.errors import Conflict
    from app.processes import services

    if core.db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite writers queue at BEGIN IMMEDIATE: no deploy can lose the race")
    monkeypatch.setattr(services, "DEPLOY_ATTEMPTS", 1)
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
    results = deploy_at_once(database_url, [variant(10), variant(11)])
    assert sorted(r[0] for r in results) == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, Conflict) and "同时发布" in str(error)
    with core.db.read() as session:
        assert [row.version for row in session.scalars(select(ProcessVersion).order_by(ProcessVersion.version))] == [1, 2]
