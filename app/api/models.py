"""Client systems that call the JSON API, their keys, idempotent POSTs and the webhook outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..privacy.crypto import EncryptedText

SCOPES = {"intake": "登记诉求", "read": "查询案件", "tasks": "办理待办", "reports": "统计指标"}
EVENTS = {"case.registered": "已受理", "case.dispatched": "已派单", "case.replied": "已答复",
          "case.closed": "已办结", "case.escalated": "已督办"}


class ApiClient(Base):
    """A registered client system (e.g. the governance platform, a department's own system).

    It acts through a system account (``user_id``) whose roles follow from its scopes, so that the
    API is held to exactly the browser's role rules (app/api/keys.py ``roles_for``)."""
    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    department: Mapped[str | None] = mapped_column(String(50), ForeignKey("departments.code"), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Webhooks: where events go, which ones, and the secret they are signed with (encrypted at rest,
    # because signing needs it back; shown once when set).
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    webhook_events: Mapped[list] = mapped_column(JSON, default=list)
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText("api_clients.webhook_secret"), nullable=True)
    # Requests per minute for each of its keys (Flask-Limiter); NULL: the configured default.
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(50))


class ApiKey(Base):
    """A key is ``bh_<prefix>_<secret>``: the prefix finds the row, only the SHA-256 of the whole key
    is stored (a key is 256 random bits, so a slow hash adds nothing but latency)."""
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(50))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotentRequest(Base):
    """What an ``Idempotency-Key`` POST answered, so that a replay gets the same answer."""
    __tablename__ = "api_idempotency"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_api_idempotency_client_key"),)


class WebhookDelivery(Base):
    """One event for one client system, written in the transaction of the event and sent later by
    the scheduler (app/api/webhooks.py). Delivered at least once, in order per (client, case)."""
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True)
    event: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The drain reads due rows in order; "is an earlier one of this case still pending" is one
    # probe of the second index; the admins' incident list reads failed rows.
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_client_case_status", "client_id", "case_id", "status", "id"))
