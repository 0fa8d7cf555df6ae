"""Erasing residents' personal data a set time after their case closed (PIPL: no longer than needed).

After ``BIHUAN_RETENTION_DAYS`` (default 3 years) from ``closed_at``, a case's reporter name and phone
are erased and phone-like or ID-card-like numbers in its text are masked. Everything else stays —
type, category, department, timestamps, audit trail — so ledgers and KPIs keep counting it. Each
case gets an ``anonymise`` audit row in the same transaction. Idempotent (``anonymised_at``): the
daily job may run on several schedulers or twice without harm.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import select

from workflows.clock import utcnow

from ..cases.models import AuditEntry, Case
from .masking import mask_free_text

DEFAULT_RETENTION_DAYS = 3 * 365


def retention_days() -> int:
    raw = os.environ.get("BIHUAN_RETENTION_DAYS", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100 * 365 else DEFAULT_RETENTION_DAYS


def erase_due(db, now: datetime | None = None, batch: int = 200, dry_run: bool = False) -> dict:
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days())
    erased: list[str] = []
    while True:
        with db.unit_of_work() as session:
            cases = session.scalars(select(Case).where(Case.anonymised_at.is_(None), Case.closed_at < cutoff)
                                    .order_by(Case.closed_at, Case.id).limit(batch)).all()
            if dry_run:
                return {"due": len(cases), "cutoff": cutoff.isoformat(), "dry_run": True}
            for case in cases:
                case.reporter_name = None
                case.reporter_phone = None
                case.text = mask_free_text(case.text)
                case.anonymised_at = now
                session.add(AuditEntry(at=now, actor="retention", case_id=case.id, action="anonymise",
                                       changes={"fields": ["reporter_name", "reporter_phone", "text"],
                                                "closed_at": case.closed_at.isoformat()}, source="scheduler"))
                erased.append(case.number)
        if len(cases) < batch:
            return {"erased": len(erased), "cases": erased[:100], "cutoff": cutoff.isoformat()}
