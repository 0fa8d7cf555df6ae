"""Database plumbing: one engine per URL, sessions, and the unit of work.

A unit of work is one transaction: every service action opens one, changes the
workflow state, the case columns, the ready tasks and the audit log inside it,
and commits once. Any exception rolls the whole action back.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from datetime import timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator, bindparam, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def default_database_url(instance_path: str | Path = "instance") -> str:
    url = os.environ.get("BIHUAN_DATABASE_URL")
    if url:
        return url
    path = Path(instance_path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'bihuan.db'}"


# Set on a connection when its transaction ran anything but a SELECT (see Database.read).
WROTE = "bihuan_wrote"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the web app read while the scheduler writes; foreign keys are off by default.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the lock at BEGIN so two of them queue instead of failing on lock
            # upgrade; readers use a plain deferred BEGIN and never block each other under WAL.
            immediate = conn.get_execution_options().get("bihuan_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    # Registered after SQLite's BEGIN above, so that the BEGIN it runs does not count as a write.
    @event.listens_for(engine, "begin")
    def _transaction_begins(conn):
        conn.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(conn, _cursor, statement, _params, _context, _many):
        if not conn.info.get(WROTE) and statement.lstrip()[:6].upper() != "SELECT":
            conn.info[WROTE] = True
    return engine


T = TypeVar("T")
log = logging.getLogger(__name__)
RETRY_ATTEMPTS = 3
# PostgreSQL error classes that say "try the transaction again": serialization failure, deadlock,
# and the connection exceptions and admin shutdowns a failover produces (class 08, 57P01-57P03).
TRANSIENT_SQLSTATES = ("40001", "40P01", "57P01", "57P02", "57P03")
TRANSIENT_CLASSES = ("08",)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` failed the transaction for a reason a fresh attempt may not meet: a connection
    lost (failover, a killed backend, a restart) or a serialization failure or deadlock."""
    if not isinstance(exc, DBAPIError) or getattr(exc, "bihuan_commit_unknown", False):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return bool(code) and (code in TRANSIENT_SQLSTATES or code[:2] in TRANSIENT_CLASSES)


def retry_transient(attempts: int = RETRY_ATTEMPTS, pause: float = 0.2):
    """Run the whole action again when its transaction failed transiently (is_transient).

    The action must open its own unit of work, so a retry starts from a fresh read: everything the
    failed attempt did was rolled back with it. A connection lost during COMMIT is not retried,
    because the server may have committed; the caller gets the error (a 5xx, a failed sweep that the
    next sweep redoes), never a doubled action. The pool replaces the dead connection
    (pool_pre_ping checks each one before use).
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except DBAPIError as exc:
                    if attempt == attempts or not is_transient(exc):
                        raise
                    log.warning("transaction failed (%s); retrying, attempt %d of %d",
                                str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__,
                                attempt + 1, attempts)
                    time.sleep(pause * attempt)
        return wrapper
    return decorate


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(self.engine.execution_options(bihuan_write=True), expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        session = self.write_sessions()
        try:
            yield session
            try:
                session.commit()
            except DBAPIError as exc:
                # The connection died during COMMIT: the server may or may not have committed, so
                # this action must not be retried blindly (see retry_transient).
                exc.bihuan_commit_unknown = True
                raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def run(self, action: Callable[[Session], T], attempts: int = RETRY_ATTEMPTS) -> T:
        """``action(session)`` in a unit of work, retried on a transient failure (see retry_transient)."""
        @retry_transient(attempts)
        def once() -> T:
            with self.unit_of_work() as session:
                return action(session)
        return once()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading. It ends with COMMIT when it only read, else with ROLLBACK: what a
        read session wrote is dropped, as it always was.

        Why COMMIT: psycopg forgets every prepared statement at a ROLLBACK (and sends DEALLOCATE ALL
        before the next query), and returning a connection to the pool rolls back. Ending each read
        that way meant PostgreSQL parsed most statements afresh, and a lifecycle spent 4 round trips
        on DEALLOCATE ALL (bench/lifecycle.py measures the difference)."""
        session = self.sessions()
        try:
            yield session
            if session.in_transaction() and not (session.new or session.dirty or session.deleted) \
                    and not session.connection().info.get(WROTE, True):
                session.commit()
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    def dispose(self) -> None:
        self.engine.dispose()


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive values)."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@functools.cache
def adding_upsert(table, keys: tuple[str, ...], added: tuple[str, ...], returning: str | None = None):
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c`` for each column in ``added``,
    as one SQL text for both databases (SQLite ≥ 3.24 and PostgreSQL spell it alike).

    Why text: SQLAlchemy never caches its dialect INSERT … ON CONFLICT constructs (their
    ``inherit_cache`` is False), so each execution compiled the statement anew: 19 compiles, about
    13 ms of CPU, per case lifecycle, and more per escalation timer. A text is compiled once."""
    columns = [c.name for c in table.columns if c.name in keys or c.name in added]

    def quoted(names):
        return ", ".join(f'"{n}"' for n in names)
    name = f'"{table.name}"'
    sql = (f"INSERT INTO {name} ({quoted(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
           f"ON CONFLICT ({quoted(keys)}) DO UPDATE SET "
           + ", ".join(f'"{c}" = {name}."{c}" + excluded."{c}"' for c in added)
           + (f' RETURNING {name}."{returning}"' if returning else ""))
    return text(sql).bindparams(*[bindparam(c, type_=table.c[c].type) for c in columns])


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    """Insert plain rows (all with the same keys) that nothing reads back in the transaction.

    On PostgreSQL this is one statement with one parameter whatever the number of rows: the rows
    travel as one JSON array, ``INSERT … SELECT … FROM json_to_recordset(…)``. psycopg's executemany
    sends one INSERT per row, SQLAlchemy's multi-row VALUES makes a statement too long for psycopg
    to cache its parsing, and arrays per column are escaped value by value in Python; an escalation
    tells some 30 people, and each of those ways spent a sixth to a quarter of a timer sweep on
    these rows. SQLite runs in-process, where executemany is as cheap."""
    if not rows:
        return
    batch = session.info.get(_BATCHED_INSERTS)
    if batch is not None:
        batch.setdefault((table, tuple(rows[0])), []).extend(rows)
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    names = tuple(rows[0])
    statement, converted = _recordset_insert(table, names, dialect)
    if converted:
        rows = [{**row, **{name: convert(row[name]) for name, convert in converted}} for row in rows]
    session.execute(statement, {"rows": json.dumps(rows, ensure_ascii=False, default=str)})


@contextmanager
def held(session: Session, key: str, value):
    """``value`` in ``session.info[key]`` for the duration of the block only: what one batch of
    work (the timer sweep's chunk) read or collects for the functions it calls."""
    session.info[key] = value
    try:
        yield value
    finally:
        session.info.pop(key, None)


_BATCHED_INSERTS = "bihuan_batched_inserts"


@contextmanager
def batched_inserts(session: Session):
    """Within the block, ``insert_rows`` only collects its rows; they are written when the block
    ends without an error, one statement per table (and set of columns). The timer sweep wraps a
    chunk in it: its 25 escalations' notifications are one INSERT, not 25."""
    with held(session, _BATCHED_INSERTS, {}) as batch:
        yield
    for (table, _names), rows in batch.items():
        insert_rows(session, table, rows)


@functools.cache
def _recordset_insert(table, names: tuple[str, ...], dialect):
    columns = [table.c[name] for name in names]
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM json_to_recordset(CAST(:rows AS json)) '
           f"AS t({', '.join(f'{chr(34)}{c.name}{chr(34)} {c.type.compile(dialect)}' for c in columns)})")
    # UTCDateTime and its kind convert before they are written (to UTC); the rest is JSON as it is.
    converted = tuple((c.name, functools.partial(_bind, c.type, dialect)) for c in columns
                      if isinstance(c.type, TypeDecorator))
    return text(sql), converted


def _bind(kind, dialect, value):
    return None if value is None else kind.process_bind_param(value, dialect)
