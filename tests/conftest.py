"""Fixtures: a frozen clock, a real, freshly migrated database (SQLite, or PostgreSQL when
BIHUAN_TEST_DATABASE_URL is set), demo users, and a small driver for cases.

Every test runs on a frozen clock, never on today's date: ``TEST_NOW`` (Monday 2026-11-02 10:00
Shanghai unless ``BIHUAN_TEST_CLOCK`` names another instant, as the far-future guard does).
Tests that need a particular day take the ``clock`` fixture, which starts at 2026-11-02 10:00
whatever ``BIHUAN_TEST_CLOCK`` says, and travel from there.

On PostgreSQL each run gets its own schema (dropped at the end), so leftovers
from earlier runs never matter.
"""
from __future__ import annotations

import os
import tempfile
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import make_url

from app.audit import guard as audit_guard
from app.core import Core
from app.migrate import upgrade
from app.models import Base
from app.auth.models import User, UserRole
from app.seed import DEMO_USERS, seed_demo

# The suite logs in thousands of times: argon2 at its cheapest parameters here (app/auth/passwords.py
# hasher, never in production mode); the CLI subprocesses inherit it.
os.environ.setdefault("BIHUAN_TEST_CHEAP_PASSWORD_HASH", "1")
# Fixed keys for personal data, shared with the CLI subprocesses through the environment (a test
# run must not write instance/data_keys.json into the checkout).
os.environ.setdefault("BIHUAN_DATA_KEYS", "test1:" + "dGVzdC1kYXRhLWtleS10ZXN0LWRhdGEta2V5LTAwMDA=")
os.environ.setdefault("BIHUAN_INDEX_KEY", "dGVzdC1pbmRleC1rZXktdGVzdC1pbmRleC1rZXktMDA=")
# A scheduler started by a test (in process or a CLI subprocess) runs the nightly 附件清理: it must list
# a store of its own, never the checkout's instance/attachments (whose files the test database does
# not name, so they would all look unreferenced).
os.environ.setdefault("BIHUAN_ATTACHMENTS_DIR", tempfile.mkdtemp(prefix="bihuan-test-attachments-"))

KEEP_TABLES = {"users", "user_roles", "departments", "grids", "alembic_version", "org_units", "grid_team_members"}
CST = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    """A Shanghai wall-clock time, as caseworkers and the calendar see it."""
    return datetime(*args, tzinfo=CST)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# The fixed day the suite lives on: a Monday inside the statutory calendar.
DEFAULT_TEST_NOW = at(2026, 11, 2, 10, 0)
TEST_NOW = (datetime.fromisoformat(os.environ["BIHUAN_TEST_CLOCK"]) if os.environ.get("BIHUAN_TEST_CLOCK")
            else DEFAULT_TEST_NOW)
assert TEST_NOW.tzinfo is not None, "BIHUAN_TEST_CLOCK needs a UTC offset, e.g. 2030-01-02T10:00+08:00"


@pytest.fixture(scope="session", autouse=True)
def _frozen_session_clock():
    """Session fixtures (migrating, seeding) run on the frozen clock too."""
    with time_machine.travel(TEST_NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def frozen_clock(_frozen_session_clock):
    """Each test starts at ``TEST_NOW``, frozen; ``frozen_clock.move_to(...)`` travels on."""
    with time_machine.travel(TEST_NOW, tick=False) as traveller:
        yield traveller


def _postgres_schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("BIHUAN_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'bihuan-test.db'}"
        upgrade(url)
        yield url
        return
    schema = f"bihuan_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_schema_url(base, schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _seeded(database_url):
    core = Core(database_url)
    seed_demo(core)
    core.close()
    return True


def _clear(core: Core) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    with core.db.unit_of_work() as session:
        # Users a test created (the admin pages' tests) would join the demo users' queues and
        # receive their notifications in later tests: only the seeded ones stay.
        extra = select(User.id).where(User.username.not_in(list(DEMO_USERS)))
        session.execute(delete(UserRole).where(UserRole.user_id.in_(extra)))
        session.execute(delete(User).where(User.username.not_in(list(DEMO_USERS))))
        # A second factor a test enrolled (tests/test_totp.py) must not follow the demo user around.
        session.execute(update(User).where(User.totp_secret.is_not(None)).values(totp_secret=None,
                                                                                   totp_last_step=None))
        if session.get_bind().dialect.name == "postgresql":
            # TRUNCATE costs per table (new files for the table and each index): all ~80 of them took
            # 200-900 ms a test, minutes over the suite. Only those a test wrote to are emptied.
            dirty = _written_tables(session, tables)
            if dirty:
                session.execute(text("TRUNCATE " + ", ".join(f'"{name}"' for name in dirty)
                                     + " RESTART IDENTITY CASCADE"))
        else:
            # The audit log refuses DELETE (app/audit/guard.py); a test database is emptied without it.
            for statement in audit_guard.statements("sqlite", install=False):
                session.execute(text(statement))
            for table in tables:
                session.execute(table.delete())
            for statement in audit_guard.statements("sqlite", install=True):
                session.execute(text(statement))


def _written_tables(session, tables) -> list[str]:
    """The tables with a row, or whose id sequence was drawn from since its last restart (a test
    whose transaction rolled back leaves an empty table and a used sequence: ids must restart)."""
    names = [t.name for t in tables]
    with_rows = set(session.execute(text(" UNION ALL ".join(
        f"(SELECT '{name}' FROM \"{name}\" LIMIT 1)" for name in names))).scalars())
    drawn = set(session.execute(text(
        "SELECT t.relname FROM pg_sequences s"
        " JOIN pg_namespace n ON n.nspname = s.schemaname"
        " JOIN pg_class sc ON sc.relname = s.sequencename AND sc.relnamespace = n.oid"
        " JOIN pg_depend d ON d.objid = sc.oid AND d.deptype IN ('a', 'i')"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " WHERE s.schemaname = current_schema() AND s.last_value IS NOT NULL")).scalars())
    return [name for name in names if name in with_rows or name in drawn]


def _cover_test_years(core: Core) -> None:
    """When ``TEST_NOW`` lies in a year chinesecalendar does not know (the far-future guard), give
    the calendar that year and the next as if their official schedules had been imported: the
    statutory holidays by rule, no make-up days. Nothing to do on the default date."""
    from app.calendar.models import CalendarOverride, CalendarYear
    from workflows.holidays import statutory_holidays
    from workflows.workdays import library_covers
    if library_covers(TEST_NOW.year):
        return  # the default day: the calendar is exactly what the library and each test make it
    years = [y for y in (TEST_NOW.year, TEST_NOW.year + 1) if not library_covers(y)]
    with core.calendar.changing() as session:
        for year in years:
            session.add(CalendarYear(year=year, status="official", note="test calendar", changed_at=TEST_NOW,
                                     changed_by="test"))
            session.add_all(CalendarOverride(day=day, workday=False, note=name, source="official",
                                             updated_at=TEST_NOW, updated_by="test")
                            for day, name in statutory_holidays(year).items())


@pytest.fixture
def core(database_url, _seeded, monkeypatch):
    monkeypatch.setenv("BIHUAN_DATABASE_URL", database_url)
    c = Core(database_url)
    _clear(c)
    _cover_test_years(c)
    yield c
    c.close()


class Driver:
    """Drives cases through the real service layer by BPMN task id, as the tests read best."""

    def __init__(self, core: Core):
        self.core = core

    def register(self, type="投诉", channel="phone", text="小区门口路灯不亮", **kw) -> str:
        kw.setdefault("user", "operator")
        return self.core.cases.register(channel=channel, type=type, text=text, **kw)["number"]

    def tasks(self, number: str) -> list[dict]:
        return self.core.cases.show(number)["tasks"]

    def task(self, number: str, bpmn_id: str) -> dict:
        matches = [t for t in self.tasks(number) if t["task"] == bpmn_id]
        assert matches, f"{bpmn_id} is not ready on {number}: {[t['task'] for t in self.tasks(number)]}"
        return matches[0]

    def do(self, number: str, bpmn_id: str, user: str, **data) -> dict:
        return self.core.cases.complete_task(self.task(number, bpmn_id)["id"], user=user, data=data)

    def ready(self, number: str) -> list[str]:
        return sorted(t["task"] for t in self.tasks(number))

    def show(self, number: str) -> dict:
        return self.core.cases.show(number)

    # the common stretches of the loop
    def dispatch(self, number, category="城市管理", difficulty="normal", **extra):
        return self.do(number, "dispatch", "dispatcher", decision="dispatch", category=category,
                       difficulty=difficulty, **extra)

    def sign(self, number, user="handler"):
        return self.do(number, "sign_for", user, decision="sign_for")

    def reply(self, number, user="handler", text="已修复"):
        return self.do(number, "handle", user, decision="reply", reply_text=text)

    def fire(self, at: datetime | None = None) -> int:
        from app.cases.timers import fire_due
        return fire_due(self.core, at)


@pytest.fixture
def driver(core) -> Driver:
    return Driver(core)


@pytest.fixture
def clock(frozen_clock):
    """For tests written around particular days: 2026-11-02 10:00 Shanghai (a Monday inside the
    statutory calendar), whatever ``TEST_NOW`` is. ``clock.move_to(...)`` travels on."""
    frozen_clock.move_to(DEFAULT_TEST_NOW)
    return frozen_clock


def audit_rows(core: Core, number: str, action: str | None = None) -> list:
    from app.cases.models import AuditEntry, Case
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        query = select(AuditEntry).where(AuditEntry.case_id == case_id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def deploy_variant(core: Core, file: str, old: str, new: str) -> int:
    """Deploy the shipped bundle with one text replacement; returns the new version number."""
    from app.processes.services import SHIPPED_BUNDLE, deploy, ensure_shipped_version
    from workflows.bundle import read_directory
    files = read_directory(SHIPPED_BUNDLE)
    text_ = files[file].decode()
    assert old in text_, f"{old!r} not in {file}"
    files[file] = text_.replace(old, new, 1).encode()
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
        row, created = deploy(session, files, actor="test")
        assert created
        return row.version


# -- the web app ---------------------------------------------------------------------------------
@pytest.fixture
def app(core):
    from app import create_app
    # Tests move the clock by days while a client stays logged in: the idle and absolute session
    # limits would log it out. tests/test_sessions.py checks those limits on an app of its own.
    return create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                       "SESSION_IDLE_MINUTES": 10 ** 7, "SESSION_MAX_HOURS": 10 ** 6}, core=core)


class WebClient:
    """Flask's test client, logged in as one demo user; every request is a real request."""

    def __init__(self, app, username: str | None):
        self.client = app.test_client()
        self.username = username
        if username:
            response = self.client.post("/login", data={"username": username, "password": "bihuan123"})
            assert response.status_code == 302, f"login as {username} failed: {response.status_code}"

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data=data, **kw)


@pytest.fixture
def login(app):
    """``login('dispatcher')`` gives a client with that user's session; ``login(None)`` an anonymous one."""
    return lambda username: WebClient(app, username)


# -- shared helpers for concurrency and served apps ----------------------------------------------
def race(fn, n: int = 2, timeout: float = 60) -> list:
    """Run ``fn(i)`` for i in 0..n-1 on n threads released together; ("ok", result) or ("error", exc)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait(timeout=timeout)
        try:
            results[i] = ("ok", fn(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            results[i] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * 3)
    return results


@contextmanager
def serve_app(app):
    """``app`` on a free port of 127.0.0.1, one thread per request, as ``bihuan serve`` runs it."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


# Volunteer organisers' communities belong with the demo users (app/volunteers/demo.py).
KEEP_TABLES.add("vol_organisers")
# gridorg: the suite seeds only grid_pro of the 92 professional grid workers (app/org/demo.py), so
# the other tests' cases in G01–G03 keep going to their department's pool.
os.environ.setdefault("BIHUAN_DEMO_PROFESSIONALS", "0")


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass (BIHUAN_TEST_DATABASE_URL) runs only the tests that reach a database
    (through ``database_url``: ``core``, ``driver``, ``app`` and the rest). The others (the sandbox,
    forms, layout, parsing, the calendar's rules) do not depend on the database and have already run
    in the SQLite pass; running them twice only lengthened CI."""
    if not os.environ.get("BIHUAN_TEST_DATABASE_URL"):
        return
    keep, skip = [], []
    for item in items:
        (keep if "database_url" in getattr(item, "fixturenames", ()) else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep
