"""Who saw whose personal data: the audit rows of reads that revealed a resident's data.

Reveals on the case page, exports with unmasked phones, downloads of residents' files and API reads
each write an audit row (in the same transaction as the read); this lists them for admins, newest
first, with keyset pagination on the audit id (the table only grows).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases.models import AuditEntry, Case

# The audit actions that mean "somebody saw a resident's personal data".
PERSONAL_READS = {"reveal_reporter": "查看报告人", "ledger_export_unmasked": "导出（含号码）",
                  "attachment_download": "下载附件", "api_read_personal": "接口读取", "follow_up_reveal": "回访拨号"}
PAGE = 50


def personal_data_reads(session: Session, *, actor: str | None = None, number: str | None = None,
                        before_id: int | None = None, since: datetime | None = None) -> dict:
    query = (select(AuditEntry, Case.number).outerjoin(Case, Case.id == AuditEntry.case_id)
             .where(AuditEntry.action.in_(list(PERSONAL_READS))).order_by(AuditEntry.id.desc()).limit(PAGE + 1))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if number:
        query = query.where(Case.number == number)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    rows = session.execute(query).all()
    items = [{"id": entry.id, "at": entry.at, "actor": entry.actor, "action": entry.action, "case": case_number,
              "source": entry.source, "detail": entry.changes} for entry, case_number in rows[:PAGE]]
    return {"rows": items, "next_before": items[-1]["id"] if len(rows) > PAGE else None}
