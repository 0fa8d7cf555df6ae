"""Login throttling that slows an attacker without locking a victim out.

Three counters of failed logins over the last hour, kept in the database so that every web worker
counts the same ones:

* one account from one address (limit 5): a guesser at one machine;
* one account from every address (limit 20): a guesser spread over many machines;
* one address for every account (limit 30): one machine trying many accounts.

Past a limit the next try must wait, 2 s doubling with every further failure, at most 15 minutes —
a back-off, never a lockout, so a victim is at worst slowed for a while, not shut out for good.
Two rules keep attackers from turning the throttle against others or around itself:

* A **device cookie** (signed, set on a successful login, naming the account) exempts its holder
  from the account-wide and address-wide counters for that account: the real user at their own
  browser logs in while somebody elsewhere hammers their name, and colleagues behind the same
  office NAT or reverse proxy are not slowed by one noisy machine. Only the pair counter applies.
* A successful login clears only the failures of *that account from that address*. (It used to
  clear the address's failures too, so anyone could reset the counter by logging into their own
  account between guesses at someone else's.)

The trade-off: an attacker who holds a victim's device cookie is limited by the pair counter alone;
the cookie is HttpOnly and, behind HTTPS, Secure, like the session cookie itself.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from workflows.clock import utcnow

from .models import LoginAttempt

WINDOW = timedelta(hours=1)
PAIR_LIMIT, ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 20, 30
BASE_DELAY_SECONDS, MAX_DELAY_SECONDS = 2, 15 * 60
DEVICE_COOKIE = "bihuan_device"
DEVICE_MAX_AGE = 180 * 24 * 3600


def _counter(session, since, *conditions) -> tuple[int, datetime | None]:
    count, last = session.execute(select(func.count(), func.max(LoginAttempt.at))
                                  .where(LoginAttempt.at >= since, *conditions)).one()
    return count or 0, last


def _wait(count: int, last: datetime | None, limit: int, now: datetime) -> float:
    if count < limit or last is None:
        return 0.0
    delay = min(BASE_DELAY_SECONDS * 2 ** min(count - limit, 20), MAX_DELAY_SECONDS)
    return max(0.0, (last + timedelta(seconds=delay) - now).total_seconds())


def retry_after(session, username: str, remote_addr: str, trusted_device: bool = False,
                now: datetime | None = None) -> int:
    """Seconds this login must still wait (0: it may try now)."""
    now = now or utcnow()
    since = now - WINDOW
    waits = [_wait(*_counter(session, since, LoginAttempt.username == username,
                             LoginAttempt.remote_addr == remote_addr), PAIR_LIMIT, now)]
    if not trusted_device:
        waits.append(_wait(*_counter(session, since, LoginAttempt.username == username), ACCOUNT_LIMIT, now))
        waits.append(_wait(*_counter(session, since, LoginAttempt.remote_addr == remote_addr), ADDRESS_LIMIT, now))
    longest = max(waits)
    return int(longest) + (1 if longest % 1 else 0)


def record_failure(session, username: str, remote_addr: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    session.add(LoginAttempt(username=username[:50], remote_addr=remote_addr[:64], at=now))
    # Old rows are useless for the window; dropping them here keeps the table small without a job.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - WINDOW))


def clear_failures(session, username: str, remote_addr: str) -> None:
    """After a success: that account's failures from that address only (see the module docstring)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                               LoginAttempt.remote_addr == remote_addr))


def _serializer(secret_key) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="bihuan-device")


def device_token(secret_key, username: str) -> str:
    return _serializer(secret_key).dumps({"u": username})


def is_trusted_device(secret_key, token: str | None, username: str) -> bool:
    if not token or len(token) > 500:
        return False
    try:
        data = _serializer(secret_key).loads(token, max_age=DEVICE_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return False
    return isinstance(data, dict) and data.get("u") == username
