"""Re-encrypting personal fields: legacy plaintext after the upgrade, and everything still under an
old key after a new one was put in front of BIHUAN_DATA_KEYS. In batches, one transaction each, so
a city's table is rotated without one long lock; safe to interrupt and run again."""
from __future__ import annotations

from sqlalchemy import and_, column, not_, or_, select, table, update

from .crypto import PREFIX, keyring

# The raw stored text, without the EncryptedText type that would decrypt it on the way out.
_cases = table("cases", column("id"), column("reporter_name"), column("reporter_phone"),
               column("reporter_phone_index"))
FIELDS = {"reporter_name": "cases.reporter_name", "reporter_phone": "cases.reporter_phone"}
# Staff's second-factor secrets (app/auth/totp.py): a handful of rows, rotated in one go.
_users = table("users", column("id"), column("totp_secret"))


def _stale(current: str, reindex: bool):
    under_current = f"{PREFIX}:{current}:%"
    conditions = [and_(_cases.c[name].is_not(None), not_(_cases.c[name].like(under_current))) for name in FIELDS]
    conditions.append(and_(_cases.c.reporter_phone.is_not(None), _cases.c.reporter_phone_index.is_(None)))
    if reindex:
        conditions.append(_cases.c.reporter_phone.is_not(None))
    return or_(*conditions)


def rotate(db, batch: int = 500, reindex: bool = False) -> dict:
    """Encrypt under the current key every reporter field that is not; with ``reindex``, also
    recompute every blind index (after the index key changed)."""
    ring = keyring()
    done, last_id = 0, 0
    while True:
        with db.unit_of_work() as session:
            rows = session.execute(select(_cases).where(_cases.c.id > last_id, _stale(ring.current, reindex))
                                   .order_by(_cases.c.id).limit(batch)).mappings().all()
            for row in rows:
                plain = {name: ring.decrypt(row[name], context) if row[name] is not None else None
                         for name, context in FIELDS.items()}
                values = {name: ring.encrypt(value, FIELDS[name]) if value is not None else None
                          for name, value in plain.items()}
                values["reporter_phone_index"] = ring.index(plain["reporter_phone"])
                session.execute(update(_cases).where(_cases.c.id == row["id"]).values(**values))
        if not rows:
            return {"rotated": done + _rotate_totp(db, ring), "key": ring.current, "reindexed": reindex}
        done += len(rows)
        last_id = rows[-1]["id"]


def _rotate_totp(db, ring) -> int:
    context = "users.totp_secret"
    with db.unit_of_work() as session:
        rows = session.execute(select(_users).where(_users.c.totp_secret.is_not(None), not_(
            _users.c.totp_secret.like(f"{PREFIX}:{ring.current}:%")))).all()
        for user_id, stored in rows:
            session.execute(update(_users).where(_users.c.id == user_id).values(
                totp_secret=ring.encrypt(ring.decrypt(stored, context), context)))
    return len(rows)


def status(db) -> dict:
    """How many stored values each key holds (and how many are still plaintext)."""
    counts: dict[str, int] = {}
    with db.read() as session:
        for name in FIELDS:
            for (value,) in session.execute(select(_cases.c[name]).where(_cases.c[name].is_not(None))):
                key = value.split(":", 2)[1] if value.startswith(PREFIX + ":") else "plaintext"
                counts[key] = counts.get(key, 0) + 1
    return {"current": keyring().current, "values_by_key": counts}
