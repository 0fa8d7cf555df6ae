"""The designer's 分析影响 (what-if) pages and 预期与实际: the ``whatif`` blueprint, for designers only.

    GET  /designer/whatif                     whatif.form        range + subset; the draft's problems if invalid
    POST /designer/whatif                     whatif.start       start (or reuse, or join) a run → its page
    GET  /designer/whatif/<id>                whatif.show        progress bar (htmx) or the result
    GET  /designer/whatif/<id>/progress       whatif.progress    the bar; HX-Refresh once finished
    GET  /designer/whatif/<id>.json           whatif.show_json   the stored result (what the CLI prints with --json)
    GET  /designer/versions/<n>/expected      whatif.expected    预期与实际 of a deployed version

The logic is ``whatif`` (replay) and ``whatif_runs`` (storage, worker); this module is glue.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from workflows.clock import utcnow

from ..cases.models import TYPES, Case, WorkflowInstance
from ..org.models import Department
from ..reports.kpis import KPI_LABELS, compute_kpis
from . import whatif, whatif_runs, whatif_text
from .drafts import get_version
from .problem_text import N_
from .problem_text import tr as _

bp = Blueprint("whatif", __name__, template_folder="../designer/templates", url_prefix="/designer")
ROWS = ("on_time_reply_rate", "overdue", "sign_overdue", "tier1", "tier2", "tier3", "points")
ROW_LABELS = {"on_time_reply_rate": KPI_LABELS["on_time_reply_rate"], "overdue": N_("超期件数"),
              "sign_overdue": N_("签收超时"), "tier1": KPI_LABELS["supervision_tier1"],
              "tier2": KPI_LABELS["supervision_tier2"], "tier3": KPI_LABELS["supervision_tier3"],
              "points": N_("扣分（考核计分）")}


@bp.app_template_filter("pct")
def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def evidence_note(session, draft: dict | None) -> dict | None:
    """What the library's deploy form says it will attach: the draft revision's last finished run."""
    if not draft:
        return None
    run = whatif_runs.evidence(session, draft["revision"])
    if run is None or not run.result:
        return None
    return {"id": run.id, "range_from": run.range_from, "range_to": run.range_to,
            "a": pct(run.result["deployed"]["total"].get("on_time_reply_rate")),
            "b": pct(run.result["draft"]["total"].get("on_time_reply_rate"))}


@bp.before_request
def _designers_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.has("designer"):
        abort(403)
    return None


def core():
    return current_app.extensions["bihuan"]


def _departments() -> dict:
    with core().db.read() as session:
        return dict(session.execute(select(Department.code, Department.name).order_by(Department.code)).all())


def _problems(exc: whatif.DraftInvalid) -> list[dict]:
    from ..designer.views import problem_dicts
    return problem_dicts(exc.problems)


@bp.get("/whatif")
def form():
    today = (utcnow() + timedelta(hours=8)).date()
    try:
        with core().db.read() as session:
            _d, _p, info = whatif.bundles(core(), session)
    except whatif.DraftInvalid as exc:
        return render_template("designer/problems.html", title=_("草稿未通过校验，无法分析影响"), message=str(exc),
                               problems=_problems(exc), checked=False), 400
    return render_template("designer/whatif_form.html", start=(today - timedelta(days=whatif.DEFAULT_DAYS - 1)),
                           end=today, types=TYPES, departments=_departments(), info=info,
                           last=whatif_runs.latest_for_draft(core()), args=request.args)


@bp.post("/whatif")
def start():
    f = request.form
    try:
        req = whatif.parse_request(f.get("from"), f.get("to"), f.get("type"), f.get("category"), f.get("department"))
        run = whatif_runs.start(core(), req, actor=current_user.username, fresh=f.get("fresh") == "1")
    except whatif.DraftInvalid as exc:
        return render_template("designer/problems.html", title=_("草稿未通过校验，无法分析影响"), message=str(exc),
                               problems=_problems(exc), checked=False), 400
    return redirect(url_for(".show", run_id=run.id))


def _run(run_id) -> dict:
    return whatif_runs.as_dict(whatif_runs.get(core(), whatif_runs.require_run(run_id)))


@bp.get("/whatif/<run_id>/progress")
def progress(run_id):
    run = _run(run_id)
    response = current_app.make_response(render_template("designer/_whatif_progress.html", run=run))
    if run["status"] not in whatif_runs.ACTIVE:
        response.headers["HX-Refresh"] = "true"
    return response


@bp.get("/whatif/<run_id>.json")
def show_json(run_id):
    run = _run(run_id)
    return jsonify({k: v for k, v in run.items() if k not in ("created_at", "finished_at")}
                   | {"created_at": str(run["created_at"]), "finished_at": str(run["finished_at"] or "")})


@bp.get("/whatif/<run_id>")
def show(run_id):
    run = _run(run_id)
    if run["status"] in whatif_runs.ACTIVE or not run["result"]:
        return render_template("designer/whatif_run.html", run=run, result=None)
    result = run["result"]
    departments = _departments()
    rows = [{"key": k, "label": _(ROW_LABELS[k]), "deployed": result["deployed"]["total"].get(k),
             "draft": result["draft"]["total"].get(k)} for k in ROWS]
    per_dept = []
    for code in sorted(set(result["deployed"]["departments"]) | set(result["draft"]["departments"])):
        empty = whatif.empty_figures()
        a = result["deployed"]["departments"].get(code) or empty
        b = result["draft"]["departments"].get(code) or empty
        per_dept.append({"code": code, "label": departments.get(code, code or _("（未派单）")), "deployed": a, "draft": b})
    for case in result["changed"]:
        case["why"] = whatif_text.why(case["reasons"])
    for key in ("replayed", "not_replayed", "no_effect"):
        for entry in result[key]:
            entry["why_text"] = whatif_text.change_why(entry["why"])
    chart = {"labels": {"deployed": _("现行版本"), "draft": _("草稿"), "rate": _(KPI_LABELS["on_time_reply_rate"]),
                        "points": _("扣分（考核计分）"), "tiers": _("督办")},
             "departments": [{"label": d["label"], "deployed_rate": d["deployed"].get("on_time_reply_rate"),
                              "draft_rate": d["draft"].get("on_time_reply_rate"),
                              "deployed_points": d["deployed"].get("points", 0),
                              "draft_points": d["draft"].get("points", 0)} for d in per_dept],
             "tiers": {side: [result[side]["total"].get(f"tier{t}", 0) for t in (1, 2, 3)]
                       for side in ("deployed", "draft")}}
    return render_template("designer/whatif_run.html", run=run, result=result, rows=rows, per_dept=per_dept,
                           chart=chart, departments=departments, types=TYPES)


@bp.get("/versions/<int:number>/expected")
def expected(number: int):
    """预期与实际: the what-if figures the version was deployed with against the KPIs of the cases that
    really ran on it (``compute_kpis`` scoped to them: the one KPI definition, nothing redefined)."""
    with core().db.read() as session:
        version = get_version(session, number)
        summary = version.whatif_summary
        start = (version.deployed_at + timedelta(hours=8)).date()
        end = max(start, (utcnow() + timedelta(hours=8)).date())
        scope = Case.id.in_(select(WorkflowInstance.case_id)
                            .where(WorkflowInstance.process_version_id == version.id))
        actual = compute_kpis(session, start=start, end=end, scope=scope)["total"]
        ran = session.scalar(select(WorkflowInstance.id).where(WorkflowInstance.process_version_id == version.id)
                             .limit(1)) is not None
    expected_total = (summary or {}).get("draft") or {}
    den = actual.get("on_time_reply_rate_den") or 0
    actual_row = {"on_time_reply_rate": actual.get("on_time_reply_rate"),
                  "overdue": den - (actual.get("on_time_reply_rate_num") or 0),
                  "decided": den, "tier1": actual.get("supervision_tier1"), "tier2": actual.get("supervision_tier2"),
                  "tier3": actual.get("supervision_tier3")}
    expected_row = {"on_time_reply_rate": expected_total.get("on_time_reply_rate"),
                    "overdue": expected_total.get("overdue"), "decided": expected_total.get("on_time_den"),
                    "tier1": expected_total.get("tier1"), "tier2": expected_total.get("tier2"),
                    "tier3": expected_total.get("tier3")}
    return render_template("designer/whatif_expected.html", version=version, summary=summary, ran=ran,
                           start=start, end=end, expected=expected_row, actual=actual_row,
                           labels={k: _(v) for k, v in ROW_LABELS.items()})
