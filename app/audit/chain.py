"""A hash chain over the audit log, so that a changed, removed or inserted row is found.

Each row stores ``row_hash = sha256(prev_hash || canonical(row))`` and the ``prev_hash`` it built
on. The chain is kept **per partition**: one chain per case (``case_id``), and for the rows that
belong to no case (admin work, deploys, the calendar) one chain per actor. Why partitions: a single
global tail would serialise every audited write in the system on one lock held to commit; per case,
the writers that share a tail are the ones already serialised by the case's optimistic lock, and
the rest proceed in parallel. To make that certain (a reveal, a supervision record and a task
completion can touch one case together), a writer takes a lock on its partition before reading the
tail: ``pg_advisory_xact_lock`` on PostgreSQL, held to commit; on SQLite every writer already holds
the database's write lock from ``BEGIN IMMEDIATE``.

Rows are linked in ``before_flush`` for every ORM session, so every ``session.add(AuditEntry(...))``
anywhere in the app is chained without knowing it. Code that inserts audit rows with Core (bulk
generators) links them first with ``link_rows``.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from datetime import datetime, timezone

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from ..cases.models import AuditEntry

GENESIS = "0" * 64
# Distinguishes our advisory locks from any other user of pg_advisory_xact_lock on the database.
LOCK_NAMESPACE = 0x41554449  # "AUDI"


def _instant(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row) -> bytes:
    """The bytes a row's hash covers: every column but the id and the hashes, in a fixed form."""
    get = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    fields = [_instant(get("at")), get("actor") or "", get("case_id"), get("action") or "", get("task_id"),
              get("task_bpmn_id"), get("task_name"), get("changes") or {}, get("source") or ""]
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def row_hash(prev_hash: str, row) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()


def partition(case_id: int | None, actor: str | None) -> tuple:
    return ("case", case_id) if case_id is not None else ("actor", actor or "")


def _lock_number(key: tuple) -> int:
    number = key[1] if key[0] == "case" else -(zlib.crc32(key[1].encode()) % 2_000_000_000) - 1
    return number % 2_147_483_647 if number >= 0 else number


def _lock_partition(session: Session, key: tuple) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": _lock_number(key)})


# A timer sweep commits fifty cases' rows in one flush: their partitions are locked, in key order
# (so that two such flushes cannot deadlock), and their tails read, in one statement each.
_LOCK_MANY = text("SELECT pg_advisory_xact_lock(:ns, k) FROM unnest(CAST(:keys AS integer[])) AS k")
_TAILS_MANY = text("SELECT k, (SELECT row_hash FROM audit_log WHERE case_id = k ORDER BY id DESC LIMIT 1) "
                   "FROM unnest(CAST(:keys AS integer[])) AS k")


def _open_partitions(session: Session, keys) -> dict:
    """Lock each partition and read its tail hash: {key: tail}."""
    tails: dict = {}
    cases = sorted({key[1] for key in keys if key[0] == "case"})
    if len(cases) > 1 and session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_MANY, {"ns": LOCK_NAMESPACE, "keys": [_lock_number(("case", c)) for c in cases]})
        tails = {("case", k): tail or GENESIS for k, tail in session.execute(_TAILS_MANY, {"keys": cases})}
    for key in keys:
        if key not in tails:
            _lock_partition(session, key)
            tails[key] = _tail(session, key)
    return tails


def tail_statement(key: tuple):
    """The last row's hash of a partition. Every action runs it: it must be one step down an index
    ((case_id, id), or (case_id, actor, id) for rows without a case), never a walk of the log."""
    if key[0] == "case":
        where = [AuditEntry.case_id == key[1]]
    else:
        where = [AuditEntry.case_id.is_(None), AuditEntry.actor == key[1]]
    return select(AuditEntry.row_hash).where(*where).order_by(AuditEntry.id.desc()).limit(1)


def _tail(session: Session, key: tuple) -> str:
    return session.execute(tail_statement(key)).scalar_one_or_none() or GENESIS


def link_rows(session: Session, rows: list[dict], new_cases: range | None = None) -> None:
    """Fill ``prev_hash``/``row_hash`` of plain dicts about to be inserted with Core, in list order.

    ``new_cases``: ids of cases inserted in this same transaction. Their chains start here, so
    they need neither the tail query nor the lock (nobody else can write rows for a case that is
    not committed yet); a bulk load of a million cases would otherwise pay two round trips each.
    """
    keys = dict.fromkeys(partition(row.get("case_id"), row.get("actor")) for row in rows)
    fresh = {key: GENESIS for key in keys if new_cases is not None and key[0] == "case" and key[1] in new_cases}
    tails = {**_open_partitions(session, [key for key in keys if key not in fresh]), **fresh}
    for row in rows:
        key = partition(row.get("case_id"), row.get("actor"))
        row["prev_hash"] = tails[key]
        row["row_hash"] = tails[key] = row_hash(tails[key], row)


def _before_flush(session: Session, _context, _instances) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEntry)]
    if not new:
        return
    new.sort(key=lambda obj: inspect(obj).insert_order or 0)  # the order the rows will be inserted in
    with session.no_autoflush:
        tails = _open_partitions(session, list(dict.fromkeys(partition(e.case_id, e.actor) for e in new)))
        for entry in new:
            if entry.changes is None:
                entry.changes = {}
            key = partition(entry.case_id, entry.actor)
            entry.prev_hash = tails[key]
            entry.row_hash = tails[key] = row_hash(tails[key], entry)


def install() -> None:
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def verify(session: Session, batch: int = 5000) -> dict:
    """Walk every partition in id order; the first row whose link or hash does not hold, if any."""
    tails: dict = {}
    checked, last_id = 0, 0
    columns = [AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.case_id, AuditEntry.action,
               AuditEntry.task_id, AuditEntry.task_bpmn_id, AuditEntry.task_name, AuditEntry.changes,
               AuditEntry.source, AuditEntry.prev_hash, AuditEntry.row_hash]
    while True:
        rows = session.execute(select(*columns).where(AuditEntry.id > last_id).order_by(AuditEntry.id)
                               .limit(batch)).mappings().all()
        if not rows:
            return {"ok": True, "checked": checked, "partitions": len(tails)}
        for row in rows:
            key = partition(row["case_id"], row["actor"])
            expected_prev = tails.get(key, GENESIS)
            if row["prev_hash"] != expected_prev:
                return _broken(row, checked, "link", "the row does not continue its chain (a row before it "
                                                      "was removed or inserted)")
            if row["row_hash"] != row_hash(expected_prev, row):
                return _broken(row, checked, "content", "the row's content does not match its hash (it was changed)")
            tails[key] = row["row_hash"]
            checked += 1
        last_id = rows[-1]["id"]


def _broken(row, checked: int, kind: str, reason: str) -> dict:
    return {"ok": False, "checked": checked, "first_broken": {"id": row["id"], "case_id": row["case_id"],
                                                             "action": row["action"], "kind": kind, "reason": reason}}
