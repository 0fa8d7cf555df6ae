"""Append-only in the database itself: triggers refuse UPDATE and DELETE on ``audit_log``.

The application never updates or deletes audit rows; the triggers make that a property of the
database, so a bug, a console session or an injected statement cannot do it either. On PostgreSQL,
also grant the application's role only SELECT and INSERT on the table (docs/security.md); the
triggers do not cover TRUNCATE, which only the table's owner may run.
"""
from __future__ import annotations

SQLITE_INSTALL = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be updated'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted'); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"]

POSTGRES_INSTALL = [
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$""",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]
POSTGRES_DROP = ["DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"]


def statements(dialect: str, install: bool = True) -> list[str]:
    if dialect == "postgresql":
        return POSTGRES_INSTALL if install else POSTGRES_DROP
    return SQLITE_INSTALL if install else SQLITE_DROP
