"""In-app notifications (站内通知) and the outbox (待发送) the scheduler drains to outbound channels."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

KINDS = ("task_arrived", "task_due_soon", "task_overdue", "supervision_opened", "case_closed", "repeat_call")


class Notification(Base):
    """One thing one user should know; the text is made from ``kind`` and ``params`` when shown, in
    the reader's language."""
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True)
    case_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The bell counts a user's unread ones; the list pages through a user's newest.
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),
                      Index("ix_notifications_user_created", "user_id", "created_at"))


class OutboxMessage(Base):
    """A message for one outbound channel, written in the transaction of the event it reports and
    sent later by the scheduler (app/notifications/outbox.py): a slow or broken channel never holds
    up, nor rolls back, the case."""
    __tablename__ = "notification_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))        # email | webhook | sms
    recipient: Mapped[str] = mapped_column(String(500))     # an address, a phone, or a robot URL
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True)
    status: Mapped[str] = mapped_column(String(20))         # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The drain reads pending rows in due order: one index range whatever has been sent before.
    __table_args__ = (Index("ix_notification_outbox_status_next", "status", "next_attempt_at"),)
