"""Human-readable case numbers: HD-YYYYMMDD-NNNN, per Shanghai calendar day."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from workflows.workdays import SHANGHAI

from ..db import adding_upsert
from .models import CaseCounter


def next_case_number(session: Session, at: datetime) -> str:
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    # One atomic upsert: concurrent registrations on PostgreSQL serialise on the counter row.
    last = session.scalar(adding_upsert(CaseCounter.__table__, ("day",), ("last",), returning="last"),
                          {"day": day, "last": 1})
    return f"HD-{day}-{last:04d}"



