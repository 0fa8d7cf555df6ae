"""The 台账 and KPI pages, and the ledger exports.

    GET /ledgers                 reports.ledgers        the ledger rows of a filter (app/reports/ledger.py
                                                        lists the URL parameters), keyset pages
    GET /ledgers/export.<fmt>    reports.ledger_export  the same rows as .xlsx or .csv
    GET /kpis                    reports.kpis           every KPI for a range, by a dimension, each figure
                                                        a link to the ledger rows behind it

Every logged-in user may open them; the rows and figures are scoped with case_scope (a handler
sees only their department). Bad input re-renders the page with the message, as a 400.
"""
from __future__ import annotations

import tempfile
from datetime import date, timedelta

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..cases.models import CHANNELS, DIFFICULTIES, STATUSES, TYPES
from ..cases.visibility import case_scope, case_scope_parts
from ..errors import Invalid
from ..supervision.models import REASONS, TIERS
from . import ledger
from .exports import export_ledger
from .kpis import BY, COUNTS, KPI_LABELS, RATES, SUPERVISION, compute_kpis, parse_range

bp = Blueprint("reports", __name__, template_folder="templates")

MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}


def _core():
    return current_app.extensions["bihuan"]


def _departments(session) -> dict:
    names = ledger.department_names(session)
    if "handler" in current_user.roles and current_user.department and not _sees_all():
        return {current_user.department: names.get(current_user.department, current_user.department)}
    return names


def _sees_all() -> bool:
    from ..cases.visibility import SEE_ALL_CASES
    return bool(set(current_user.roles) & SEE_ALL_CASES)


@bp.get("/ledgers")
@login_required
def ledgers():
    args = request.args.to_dict()
    error, result, f = None, {"rows": [], "next": None}, ledger.LedgerFilter()
    with _core().db.read() as session:
        departments = _departments(session)
        units = ledger.department_names(session)  # any unit may co-handle another department's case
        try:
            f = ledger.parse_filter(session, args)
            result = ledger.page(session, f, scope=case_scope_parts(current_user), after=args.get("after"))
        except Invalid as exc:
            error = str(exc)
    _translate_rows(result["rows"])
    query = f.query_args() if not error else {k: v for k, v in args.items() if k in ledger.FILTER_KEYS and v}
    return render_template(
        "reports/ledgers.html", f=f, rows=result["rows"], next_cursor=result["next"], error=error, args=query,
        first_page=bool(args.get("after")), departments=departments, units=units, types=TYPES, difficulties=DIFFICULTIES,
        channels=CHANNELS, statuses=STATUSES, tiers=TIERS, kpi_labels=KPI_LABELS,
    ), 400 if error else 200


def _translate_rows(rows: list[dict]) -> None:
    """The Chinese labels of a page's rows in the user's language, each distinct label looked up once."""
    seen: dict[str, str] = {}

    def tr(text):
        if not text:
            return text
        if text not in seen:
            seen[text] = _(text)
        return seen[text]
    for row in rows:
        for key in ("channel", "status", "satisfaction"):
            row[key] = tr(row[key])
        row["tier_label"] = tr(TIERS.get(row["tier"], "")) if row["tier"] else ""


@bp.get("/ledgers/export.<fmt>")
@login_required
def ledger_export(fmt: str):
    if fmt not in MIME:
        raise Invalid(_("未知的导出格式：%(fmt)s（可用 xlsx 或 csv）", fmt=fmt))
    args = {k: v for k, v in request.args.items() if k in ledger.FILTER_KEYS}
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # spills to disk for big exports
    export_ledger(_core(), args=args, fmt=fmt, out=out, user=current_user, source="web")
    out.seek(0)
    stamp = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return send_file(out, mimetype=MIME[fmt], as_attachment=True, download_name=f"ledger-{stamp}.{fmt}")


def _default_range() -> tuple[date, date]:
    today = utcnow().astimezone(SHANGHAI).date()
    return today.replace(day=1), today


@bp.get("/kpis")
@login_required
def kpis():
    start, end = _default_range()
    raw_from, raw_to = request.args.get("from") or start.isoformat(), request.args.get("to") or end.isoformat()
    by = request.args.get("by") or "department"
    error, data = None, None
    try:
        if by not in BY:
            raise Invalid(_("未知的分组：%(by)s", by=by))
        start, end = parse_range(raw_from, raw_to)
        with _core().db.read() as session:
            data = compute_kpis(session, start=start, end=end, by=by, scope=case_scope(current_user))
    except Invalid as exc:
        error = str(exc)
    last_month_end = start.replace(day=1) - timedelta(days=1)
    presets = {_("本月"): (_default_range()), _("上月"): (last_month_end.replace(day=1), last_month_end),
               _("今年"): (date(end.year, 1, 1), end)}
    return render_template(
        "reports/kpis.html", data=data, error=error, by=by, dims=BY, raw_from=raw_from, raw_to=raw_to,
        rates=RATES, counts=COUNTS, supervision=SUPERVISION, labels=KPI_LABELS, reasons=REASONS, presets=presets,
        drill=_drill_url,
    ), 400 if error else 200


def _drill_url(data: dict, kpi: str, part: str, key=None) -> str | None:
    """The ledger URL for the cases behind one figure; None where no filter can select the row."""
    args = {"kpi": kpi, "part": part, "from": data["from"], "to": data["to"]}
    if data.get("by") and key is not False:
        if key is None:
            return None  # an empty dimension (no category, no grid) has no filter value
        args[data["by"]] = key
    return url_for("reports.ledgers", **args)
