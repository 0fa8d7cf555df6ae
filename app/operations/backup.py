"""``bihuan backup FILE`` and ``bihuan restore FILE [--force]``.

SQLite is copied through its online backup API: a consistent copy while the app keeps serving.
PostgreSQL is dumped with ``pg_dump`` in custom format (compressed, restorable table by table with
``pg_restore``), which must be of the server's major version or newer. When the database URL
selects a schema (``options=-csearch_path=...``), only that schema is dumped and restored.

Restore refuses a database that already holds cases or users unless ``--force``: restoring over a
live database replaces everything in it. Stop the web workers and schedulers first (docs/deploy.md).
Personal data stays encrypted in the backup (it is in the columns); the keys are not in it: keep
``BIHUAN_DATA_KEYS``/``instance/data_keys.json`` backed up separately, or the restore is unreadable.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from ..errors import BihuanError, Invalid

DATA_TABLES = ("cases", "users")
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


def backup(url: str, file: str) -> dict:
    target = Path(file)
    if target.exists():
        raise Invalid(f"{file} exists: choose a new file name (a backup never overwrites one)")
    if not target.parent.exists():
        raise Invalid(f"folder {target.parent} does not exist")
    if url.startswith("sqlite"):
        return _sqlite_backup(_sqlite_path(url), target)
    return _pg_backup(url, target)


def restore(url: str, file: str, force: bool = False) -> dict:
    source = Path(file)
    if not source.is_file():
        raise Invalid(f"no backup file {file}")
    head = source.open("rb").read(16)
    sqlite = url.startswith("sqlite")
    if sqlite and not head.startswith(SQLITE_MAGIC):
        raise Invalid(f"{file} is not a SQLite backup (the database is SQLite)")
    if not sqlite and not head.startswith(PGDUMP_MAGIC):
        raise Invalid(f"{file} is not a pg_dump custom-format backup (the database is PostgreSQL)")
    held = holdings(url)
    if held and not force:
        raise Invalid(f"the database is not empty ({', '.join(f'{n} {t}' for t, n in held.items())}); "
                      "restoring replaces everything in it: add --force to do so")
    if sqlite:
        return _sqlite_restore(source, _sqlite_path(url))
    return _pg_restore(url, source)


def holdings(url: str) -> dict[str, int]:
    """Rows in the tables that make a database worth keeping (cases, users); {} when empty."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
            counts = {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar()
                      for name in DATA_TABLES if name in existing}
    finally:
        engine.dispose()
    return {name: count for name, count in counts.items() if count}


# -- SQLite ---------------------------------------------------------------------------------------
def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise Invalid("an in-memory SQLite database cannot be backed up or restored")
    return Path(path)


def _sqlite_backup(path: Path, target: Path) -> dict:
    if not path.exists():
        raise Invalid(f"no database at {path}")
    source = sqlite3.connect(path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=1024)  # in steps: writers are never held up for the whole copy
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
        source.close()
    return {"backup": str(target), "database": "sqlite", "bytes": target.stat().st_size}


def _sqlite_restore(source: Path, path: Path) -> dict:
    backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if not backup_db.execute("SELECT 1 FROM sqlite_master WHERE name='alembic_version'").fetchone():
            raise Invalid(f"{source} is a SQLite file but not a Bihuan database (no alembic_version)")
        live = sqlite3.connect(path, timeout=30)
        try:
            backup_db.backup(live)  # page by page into the live file, under its write lock
        finally:
            live.close()
    finally:
        backup_db.close()
    return {"restored": str(source), "database": "sqlite", "into": str(path)}


# -- PostgreSQL -----------------------------------------------------------------------------------
def _pg_args(url: str) -> tuple[list[str], dict, str | None]:
    """Connection options for pg_dump/pg_restore, the password in the environment, and the schema."""
    u = make_url(url)
    args = ["--dbname", u.database or "postgres"]
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    schema = None
    match = re.search(r"search_path=([^\s,]+)", unquote(str(u.query.get("options", ""))))
    if match:
        schema = match.group(1).strip('"')
    return args, env, schema


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BihuanError(f"{name} is not installed (apt-get install postgresql-client-<server major version>)")
    return found


def _major(version: str) -> int:
    return int(re.match(r"\D*(\d+)", version).group(1))


def _check_versions(url: str, tool: str) -> str:
    """pg_dump refuses a newer server; say which versions meet, before it fails halfway."""
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
    client = _major(out.split()[-1])
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            server_text = conn.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    server = _major(server_text)
    if client < server:
        raise BihuanError(f"{Path(tool).name} is version {client} but the server is PostgreSQL {server}: install "
                          f"postgresql-client-{server} (a client older than the server cannot dump it)")
    return server_text


def _run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BihuanError(f"{Path(command[0]).name} failed: {lines[0] if lines else f'exit {done.returncode}'}")


def _pg_backup(url: str, target: Path) -> dict:
    tool = _tool("pg_dump")
    server = _check_versions(url, tool)
    args, env, schema = _pg_args(url)
    command = [tool, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args]
    if schema:
        command += ["--schema", schema]
    try:
        _run(command, env)
    except BihuanError:
        target.unlink(missing_ok=True)
        raise
    return {"backup": str(target), "database": "postgresql", "server": server, "schema": schema,
            "bytes": target.stat().st_size}


def _pg_restore(url: str, source: Path) -> dict:
    tool = _tool("pg_restore")
    server = _check_versions(url, tool)
    args, env, schema = _pg_args(url)
    if schema:
        # A schema's dump leaves out the database's extensions; the trigram indexes need pg_trgm
        # where the migrations put it (app/cases/fulltext.py).
        from ..cases.fulltext import _trgm_schema
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                _trgm_schema(conn)
        finally:
            engine.dispose()
    # One transaction: a restore that fails halfway leaves the database as it was. --clean drops what
    # the dump is about to create (the schema's objects, or the database's) first.
    command = [tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
               "--clean", "--if-exists", *args]
    _run(command + [str(source)], env)
    return {"restored": str(source), "database": "postgresql", "server": server, "schema": schema}
