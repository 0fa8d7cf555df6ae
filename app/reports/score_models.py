"""Closed months of department scoring (考核计分): the frozen ranking and the rules version used."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class ScoreMonth(Base):
    """One row per closed month. Written once: later rule or case edits never reach it."""
    __tablename__ = "score_months"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM; unique = re-closing is refused
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(50), default="")
    rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # process version, None = shipped
    rules_hash: Mapped[str] = mapped_column(String(64))
    ranking: Mapped[dict] = mapped_column(JSON)  # the month's result exactly as month_scores gave it
