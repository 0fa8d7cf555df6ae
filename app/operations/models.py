"""Engine state of closed cases, moved out of ``workflow_instances`` by ``bihuan archive``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String

from sqlalchemy.orm import Mapped, mapped_column

from ..cases.models import Incident
from ..db import Base, UTCDateTime


class ArchivedState(Base):
    """The serialized workflow of one archived case. Its ``workflow_instances`` row stays (the
    joins of task pages, heatmaps and KPIs keep working) with an empty ``state``; only the blob,
    the bulk of the table, lives here, read when someone opens the case's diagram."""
    __tablename__ = "archived_states"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# /metrics counts the open incidents at every scrape: an index, not a scan of years of incidents.
Index("ix_incidents_resolved_at", Incident.resolved_at)
