"""Webhooks out: events queued in the transaction that caused them, sent later by the scheduler.

``queue_events`` is called by the case projection (app/cases/projection.py) after every engine
action, next to the notifications: it writes one ``webhook_deliveries`` row per subscribed client
for each event the action caused (case.registered, .dispatched, .replied, .closed, .escalated).
Nothing is sent from inside that transaction.

``drain`` (the scheduler, every ``BIHUAN_WEBHOOK_DRAIN_SECONDS``) sends them:

* in order per (client, case): only the oldest unsent delivery of a case is ever due, so a later
  event never overtakes an earlier one that is failing;
* at least once, with a stable ``X-Bihuan-Event-Id`` (the row's event id) the receiver
  de-duplicates on, and ``X-Bihuan-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``
  under the client's signing secret;
* claimed under a lease in one short write transaction (several schedulers never send a row
  twice at once), posted with no transaction open, several cases in parallel, and the outcomes
  written back in one transaction;
* retried after 30 s, 1, 2, 4 ... minutes (at most an hour), and given up after
  ``BIHUAN_WEBHOOK_MAX_ATTEMPTS`` tries (default 8): the row becomes ``failed``, which is the
  incident an admin sees (and can re-queue) on the API clients page.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from workflows.clock import utcnow

from ..cases.models import FINISHED_STATUSES, AuditEntry, Case
from ..errors import Invalid, NotFound
from .models import ApiClient, WebhookDelivery

log = logging.getLogger(__name__)
BATCH = 200
WORKERS = 8
TIMEOUT = 10
LEASE = timedelta(minutes=5)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS = 8
TIME_BUDGET = 25.0  # seconds one drain may run before leaving the rest to the next one


def backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def max_attempts() -> int:
    try:
        return max(1, int(os.environ.get("BIHUAN_WEBHOOK_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS))
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# -- queueing (inside the action's transaction) ---------------------------------------------------
def events_of(registered: bool, changes: dict, opened: list) -> list[str]:
    events = []
    if registered:
        events.append("case.registered")
    if "dispatched_at" in changes or "reassigned_at" in changes:
        events.append("case.dispatched")
    if (changes.get("replied_at") or [None, None])[1]:
        events.append("case.replied")
    if opened or ("supervision_tier" in changes and (changes["supervision_tier"][1] or 0)
                  > (changes["supervision_tier"][0] or 0)):
        events.append("case.escalated")
    status = changes.get("status")
    if status and status[1] in FINISHED_STATUSES:
        events.append("case.closed")
    return events


def _receives(client: ApiClient, case: Case) -> bool:
    """The same cases the client may read (app/api/keys.py client_case_scope), decided in Python."""
    if case.external_source == client.name or case.registered_by == f"api-{client.name}":
        return True
    if client.department:
        return case.department == client.department
    return "read" in (client.scopes or [])


def _iso(value):
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def payload_of(case: Case, event: str, event_id: str, now: datetime, data: dict) -> dict:
    body = {"number": case.number, "status": case.status, "channel": case.channel, "type": case.type,
            "category": case.category, "department": case.department, "external_id": case.external_id,
            "registered_at": _iso(case.registered_at), "deadline": _iso(case.deadline),
            "dispatched_at": _iso(case.dispatched_at), "replied_at": _iso(case.replied_at),
            "closed_at": _iso(case.closed_at), "supervision_tier": case.supervision_tier,
            "satisfaction": case.satisfaction}
    if event in ("case.replied", "case.closed"):
        body["reply_text"] = data.get("reply_text")  # the department's answer, as the form took it
    if case.status == "refused":
        body["refuse_reason"] = case.refuse_reason
    return {"id": event_id, "event": event, "occurred_at": _iso(now), "case": body}


def _subscribers(session: Session) -> list:
    """The clients with a webhook, read once per transaction: a timer sweep commits fifty cases'
    events in one, and each case would otherwise read the same few rows again."""
    transaction = session.get_transaction()
    cached = session.info.get("bihuan.webhook_clients")
    if transaction is None or cached is None or cached[0] is not transaction:
        cached = session.info["bihuan.webhook_clients"] = (transaction, session.scalars(
            select(ApiClient).where(ApiClient.active.is_(True), ApiClient.webhook_url.is_not(None))).all())
    return cached[1]


def queue_events(session: Session, case: Case, *, registered: bool, changes: dict, opened: list, data: dict,
                 now: datetime) -> int:
    """Write the deliveries one action's events are worth; returns how many."""
    events = events_of(registered, changes, opened)
    if not events:
        return 0
    with session.no_autoflush:
        clients = _subscribers(session)
        rows = []
        for client in clients:
            if not _receives(client, case):
                continue
            for event in events:
                if event in (client.webhook_events or []):
                    event_id = str(uuid.uuid4())
                    rows.append(WebhookDelivery(event_id=event_id, client_id=client.id, case_id=case.id, event=event,
                                                payload=payload_of(case, event, event_id, now, data),
                                                status="pending", attempts=0, next_attempt_at=now, created_at=now))
        session.add_all(rows)
    return len(rows)


# -- sending (the scheduler) -----------------------------------------------------------------------
_local = threading.local()


def _connection(scheme: str, netloc: str, fresh: bool = False):
    """A kept-alive connection per drain thread and receiver (a new TCP/TLS handshake per event
    would cap the drain rate)."""
    pool = _local.__dict__.setdefault("pool", {})
    key = (scheme, netloc)
    if fresh and key in pool:
        pool.pop(key).close()
    if key not in pool:
        factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        pool[key] = factory(netloc, timeout=TIMEOUT)
    return pool[key]


def post(url: str, secret: str, event_id: str, event: str, body: bytes, now: datetime) -> None:
    """One signed POST; raises on anything but a 2xx answer (a redirect too: the receiver must give
    its final URL)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": "bihuan-webhooks/1", "X-Bihuan-Event": event,
               "X-Bihuan-Event-Id": event_id, "X-Bihuan-Signature": sign(secret or "", int(now.timestamp()), body)}
    for attempt in (0, 1):
        conn = _connection(parts.scheme, parts.netloc, fresh=attempt > 0)
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read(64 * 1024)
            if response.will_close:
                _connection(parts.scheme, parts.netloc, fresh=True)
            break
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest):
            conn.close()
            if attempt:  # a kept-alive connection the receiver had closed gets one fresh try
                raise
        except Exception:
            _local.__dict__.get("pool", {}).pop((parts.scheme, parts.netloc), conn).close()
            raise
    if not 200 <= response.status < 300:
        raise RuntimeError(f"HTTP {response.status} from the receiver")


def _claim(core, now: datetime) -> list[dict]:
    """The due head of each (client, case) queue, leased to this drain."""
    earlier = aliased(WebhookDelivery)
    # Plain equality (not IS NOT DISTINCT FROM) so that both databases probe the index; a delivery
    # without a case has no order to keep.
    blocked = exists().where(and_(earlier.client_id == WebhookDelivery.client_id,
                                  earlier.case_id == WebhookDelivery.case_id,
                                  earlier.status == "pending", earlier.id < WebhookDelivery.id))
    with core.db.unit_of_work() as session:
        query = (select(WebhookDelivery, ApiClient).join(ApiClient, ApiClient.id == WebhookDelivery.client_id)
                 .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, ~blocked)
                 .order_by(WebhookDelivery.id).limit(BATCH))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return []
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([d.id for d, _c in rows]))
                        .values(next_attempt_at=now + LEASE))
        return [{"id": d.id, "event_id": d.event_id, "event": d.event, "payload": d.payload,
                 "attempts": d.attempts, "url": c.webhook_url if c.active else None, "secret": c.webhook_secret,
                 "client": c.name} for d, c in rows]


def _send(row: dict, now: datetime, sender) -> str | None:
    if not row["url"]:
        return "the client is inactive or has no webhook URL"
    body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    try:
        sender(row["url"], row["secret"], row["event_id"], row["event"], body, now)
    except Exception as exc:  # noqa: BLE001 - any failure is the delivery's, never the drain's
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None


def drain(core, now: datetime | None = None, sender=post, budget: float = TIME_BUDGET) -> dict[str, int]:
    """Send every due delivery (each case's in order); returns {"sent", "retry", "failed"}."""
    now = now or utcnow()
    limit = max_attempts()
    result = {"sent": 0, "retry": 0, "failed": 0}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while time.monotonic() - started < budget:
            rows = _claim(core, now)
            if not rows:
                break
            errors = list(pool.map(lambda r: _send(r, now, sender), rows))
            sent = [row["id"] for row, error in zip(rows, errors) if error is None]
            with core.db.unit_of_work() as session:
                if sent:  # the common case in one statement
                    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(sent)).values(
                        status="sent", sent_at=now, attempts=WebhookDelivery.attempts + 1, last_error=None))
                    result["sent"] += len(sent)
                for row, error in zip(rows, errors):
                    if error is None:
                        continue
                    attempts = row["attempts"] + 1
                    if attempts >= limit:
                        values = {"status": "failed", "attempts": attempts, "last_error": error}
                        result["failed"] += 1
                        log.warning("webhook %s (%s) to %s given up after %d attempt(s): %s", row["event_id"],
                                    row["event"], row["client"], attempts, error)
                    else:
                        values = {"attempts": attempts, "last_error": error, "next_attempt_at": now + backoff(attempts)}
                        result["retry"] += 1
                    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row["id"]).values(**values))
    return result


def safe_drain(core) -> dict:
    """The scheduler's job: a failing drain (the database away) is logged and retried next time."""
    try:
        return drain(core)
    except Exception:  # noqa: BLE001 - never kill the scheduler
        log.exception("webhook outbox drain failed")
        return {}


# -- the admins' view -------------------------------------------------------------------------------
def failed_deliveries(session: Session, limit: int = 100) -> list[dict]:
    rows = session.execute(select(WebhookDelivery, ApiClient.name, Case.number)
                           .join(ApiClient, ApiClient.id == WebhookDelivery.client_id)
                           .outerjoin(Case, Case.id == WebhookDelivery.case_id)
                           .where(WebhookDelivery.status == "failed")
                           .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    return [{"id": d.id, "event_id": d.event_id, "event": d.event, "client": name, "case": number,
             "attempts": d.attempts, "last_error": d.last_error, "created_at": d.created_at} for d, name, number in rows]


def retry_delivery(core, delivery_id: int, *, actor: str) -> None:
    with core.db.unit_of_work() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            raise NotFound(f"unknown delivery {delivery_id}")
        if row.status != "failed":
            raise Invalid(f"delivery {delivery_id} is {row.status}, not failed")
        row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, utcnow(), None
        session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action="api_webhook_retry",
                               changes={"delivery": delivery_id, "event_id": row.event_id}, source="web"))
