"""One row per scheduler process: when it last swept, what it fired. /readyz and the admin page read it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class SchedulerHeartbeat(Base):
    __tablename__ = "scheduler_heartbeats"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # the claim owner: host:pid:nonce
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sweep_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_fired: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    fired_total: Mapped[int] = mapped_column(Integer, default=0)
