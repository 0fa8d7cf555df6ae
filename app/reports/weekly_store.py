"""Generating, storing and finding weekly 专报.

A report is stored once, with its figures and the three rendered files, and is read back as stored from
then on: an old report never changes, whatever later happens to the cases or the rules. A week that has
not ended yet can be looked at (a draft, computed now, never stored) but is not filed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..errors import Invalid, NotFound
from ..processes.problem_text import tr as _
from .periods import Period, parse_week, previous_week
from .report_models import Report
from .weekly import weekly_figures

KIND = "weekly"
FORMATS = ("html", "docx", "xlsx")
MIMETYPES = {"html": "text/html; charset=utf-8",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def stored(session: Session, period: Period) -> Report | None:
    return session.scalars(select(Report).where(Report.kind == KIND, Report.period == period.key)).first()


def _previous_items(session: Session, period: Period) -> list[dict] | None:
    before = stored(session, previous_week(period))
    return before.figures.get("key_items", []) if before is not None else None


def figures_for(core, session: Session, period: Period, generated_at: datetime) -> dict:
    figures = weekly_figures(core, session, period, _previous_items(session, period))
    figures["generated_at"] = generated_at.isoformat()
    return figures


def render_all(figures: dict) -> dict[str, bytes | str]:
    from .weekly_docx import render_docx
    from .weekly_html import render_html
    from .weekly_xlsx import render_xlsx
    return {"html": render_html(figures), "docx": render_docx(figures), "xlsx": render_xlsx(figures)}


def store_weekly(core, session: Session, period: Period, actor: str) -> Report:
    """The stored report of an ended week, generated now in the caller's transaction if there is none."""
    existing = stored(session, period)
    if existing is not None:
        return existing
    now = utcnow()
    if period.end > now:
        raise Invalid(_("%(week)s 尚未结束，专报在下周一生成", week=period.key))
    figures = figures_for(core, session, period, now)
    files = render_all(figures)
    row = Report(kind=KIND, period=period.key, number=figures["number"], generated_at=now, generated_by=actor,
                 rules_version=figures["rules_version"], rules_hash=figures["rules_hash"] or "",
                 figures=figures, html=files["html"], docx=files["docx"], xlsx=files["xlsx"])
    session.add(row)
    session.flush()
    return row


def weekly_report(core, week: str, actor: str) -> dict:
    """``bihuan report weekly`` and the page: the stored report of an ended week (filed now if missing),
    or a draft of the running week. {"period", "stored", "figures", "files"}."""
    period = parse_week(week)
    now = utcnow()
    if period.start > now:
        raise Invalid(_("%(week)s 尚未开始", week=period.key))
    if period.end > now:
        with core.db.read() as session:
            figures = figures_for(core, session, period, now)
        figures["draft"] = True
        return {"period": period.key, "stored": False, "figures": figures, "files": render_all(figures)}
    try:
        with core.db.unit_of_work() as session:
            row = store_weekly(core, session, period, actor)
            return _as_result(row)
    except IntegrityError:  # the scheduler filed the same week a moment ago: read its report
        with core.db.read() as session:
            return _as_result(stored(session, period))


def _as_result(row: Report) -> dict:
    return {"period": row.period, "stored": True, "figures": row.figures,
            "files": {"html": row.html, "docx": row.docx, "xlsx": row.xlsx}}


def stored_file(core, week: str, fmt: str) -> tuple[str, bytes | str]:
    if fmt not in FORMATS:
        raise Invalid(_("不支持的格式：%(format)s（可选 html、docx、xlsx）", format=fmt))
    period = parse_week(week)
    with core.db.read() as session:
        row = stored(session, period)
        if row is None:
            raise NotFound(_("%(week)s 的专报尚未生成", week=period.key))
        return row.period, getattr(row, fmt)


def list_reports(session: Session) -> list[dict]:
    rows = session.execute(select(Report.period, Report.number, Report.generated_at, Report.generated_by,
                                  Report.rules_version).where(Report.kind == KIND)
                           .order_by(Report.period.desc())).all()
    return [{"period": r.period, "number": r.number, "generated_at": r.generated_at, "generated_by": r.generated_by,
             "rules_version": r.rules_version} for r in rows]
