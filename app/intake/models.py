"""Repeat calls (回头件/催单): a resident calling again about a case already registered."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class RepeatCall(Base):
    __tablename__ = "repeat_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(20))
    # Masked (139****5678): enough to tell callers apart, and no phone number kept outside the case.
    caller_phone_masked: Mapped[str | None] = mapped_column(String(30), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    # True when the call reopened the closed case as 重办 through the diagram's 回头件重办 start.
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
