"""Full-text index over a case's text and address (案件查询 "内容或地址"): one per database.

* SQLite: an FTS5 table ``cases_fts`` with the trigram tokenizer, an external-content index of
  ``cases`` kept current by triggers, so it commits or rolls back with the case itself.
* PostgreSQL: GIN trigram indexes (``pg_trgm``) on ``cases.text`` and ``cases.address``; an
  index is part of its table, so it is transactional by nature. ``LIKE '%…%'`` uses them.

A trigram index can only look up fragments of three characters or more. Shorter ones (two
Chinese characters, "路灯") fall back to a scan bounded to the newest ``SHORT_SCAN_LIMIT`` cases
that pass the other filters, and the page says so (see app/cases/search.py).

Neither object is in the SQLAlchemy models (FTS5 virtual tables and opclass indexes are
dialect DDL); migrations create them with ``create(op)`` and ``include_object`` keeps the
models-vs-migrations comparison (tests/test_schema.py) from reporting them.

Known limit (PostgreSQL, measured at 1 000 000 cases): the planner cannot estimate how many
cases a '%…%' pattern matches; for a common fragment ("路灯不亮", 20 900 matches, estimated 99) it
reads every match through the GIN bitmap and sorts (~350-500 ms) instead of walking the primary
key newest-first and stopping after a page (~1 ms). To do: look in the newest cases by id first,
and use the index only when that finds less than a page.

A future migration that *recreates* ``cases`` on SQLite (alembic batch "move and copy") drops
the triggers: it must call ``drop(op)`` before and ``create(op)`` after.
"""
from __future__ import annotations

from sqlalchemy import column, or_, table, text

from .models import Case

MIN_INDEXED = 3  # characters a trigram lookup needs
SHORT_SCAN_LIMIT = 5_000  # newest cases a short fragment is looked for in: 20 000 cost 30-60 ms of CPU on SQLite
FTS_TABLE = "cases_fts"
TRGM_INDEXES = ("ix_cases_text_trgm", "ix_cases_address_trgm")
# PostgreSQL only, for number-prefix search (migration 0043); like the above, dialect DDL, not a model.
PATTERN_INDEXES = ("ix_cases_number_c",)

SQLITE_TABLE = (f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, address, content='cases', content_rowid='id',"
                " tokenize='trigram')")
SQLITE_REBUILD = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"  # index the cases already there
SQLITE_TRIGGERS = {
    "cases_fts_insert": f"CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN"
    f" INSERT INTO {FTS_TABLE}(rowid, text, address) VALUES (new.id, new.text, new.address); END",
    "cases_fts_delete": f"CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text, address) VALUES ('delete', old.id, old.text, old.address);"
    " END",
    "cases_fts_update": f"CREATE TRIGGER cases_fts_update AFTER UPDATE OF text, address ON cases BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text, address) VALUES ('delete', old.id, old.text, old.address);"
    f" INSERT INTO {FTS_TABLE}(rowid, text, address) VALUES (new.id, new.text, new.address); END",
}


def _trgm_schema(conn) -> str:
    """The schema pg_trgm lives in, creating it in ``public`` when the database has none.

    An extension belongs to one schema per *database*. Tests and benches each migrate into a
    schema of their own that is dropped afterwards; creating pg_trgm there would make the next
    run's CREATE EXTENSION IF NOT EXISTS a no-op pointing at a vanished schema, and dropping
    one run's schema would cascade to every other run's indexes. So it goes to ``public``
    (pg_trgm is a trusted extension: the database owner may create it) and the operator class
    is named with its schema."""
    found = conn.execute(text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                              " WHERE e.extname = 'pg_trgm'")).scalar()
    if found:
        return found
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    return "public"


def create(op) -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for statement in (SQLITE_TABLE, SQLITE_REBUILD, *SQLITE_TRIGGERS.values()):
            conn.execute(text(statement))
    elif conn.dialect.name == "postgresql":
        schema = _trgm_schema(conn)
        for name, column in zip(TRGM_INDEXES, ("text", "address")):
            conn.execute(text(f'CREATE INDEX {name} ON cases USING gin ({column} "{schema}".gin_trgm_ops)'))


def drop(op) -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
    elif conn.dialect.name == "postgresql":
        for name in TRGM_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))  # the extension stays: others may use it


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For alembic's compare: the index objects above are not models, and not drift."""
    if type_ == "table" and name and name.startswith(FTS_TABLE):
        return False  # cases_fts and its shadow tables (_data, _idx, _docsize, _config)
    if type_ == "index" and (name in TRGM_INDEXES or name in PATTERN_INDEXES):
        return False
    return True


def indexable(fragment: str) -> bool:
    return len(fragment) >= MIN_INDEXED


def restrict(query, dialect: str, fragment: str):
    """``query`` over ``cases`` narrowed to the cases whose text or address contains ``fragment``
    (three characters or more), through the index; and the column that orders those cases by id.

    On SQLite the FTS table is joined and the order is its rowid: FTS5 walks a phrase's matches
    in rowid order itself, so newest-first stops after one page instead of collecting every
    match (a common fragment matches tens of thousands of cases at 1 000 000)."""
    if dialect == "sqlite":
        fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
        phrase = '"' + fragment.replace('"', '""') + '"'  # one FTS5 phrase = the exact substring
        return query.join(fts, fts.c.rowid == Case.id).where(fts.c[FTS_TABLE].op("MATCH")(phrase)), fts.c.rowid
    pattern = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(or_(Case.text.like(pattern, escape="\\"), Case.address.like(pattern, escape="\\"))), Case.id
