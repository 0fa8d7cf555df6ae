"""Human-readable case numbers: HD-YYYYMMDD-NNNN, per Shanghai calendar day."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflows.workdays import SHANGHAI

from .models import CaseCounter


def next_case_number(session: Session, at: datetime) -> str:
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # One atomic upsert: concurrent registrations on PostgreSQL serialise on the counter row.
    stmt = insert(CaseCounter).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[CaseCounter.day], set_={"last": CaseCounter.last + 1})
    last = session.scalar(stmt.returning(CaseCounter.last))
    return f"HD-{day}-{last:04d}"



