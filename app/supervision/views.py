"""The supervision board (督办台): GET /supervision?tier=1|2|3.

Each supervisor sees their own tier; viewer, admin and dispatcher may switch between all three.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from workflows.clock import utcnow

from ..auth.models import User
from ..tasks.worklist import version_labels
from ..web.terms import in_english
from .board import TIER_ROLES, board_rows, open_counts, tiers_for
from .models import TIERS

bp = Blueprint("supervision", __name__, template_folder="templates", url_prefix="/supervision")


def _task_url(task_id: str) -> str:
    return url_for("tasks.task", task_id=task_id)


@bp.get("")
@login_required
def board():
    tiers = tiers_for(current_user)
    if not tiers:
        abort(403)
    try:
        tier = int(request.args.get("tier", tiers[0]))
    except ValueError:
        abort(404)
    if tier not in TIERS:
        abort(404)
    if tier not in tiers:
        abort(403)
    now = utcnow()
    core = current_app.extensions["bihuan"]
    calendar = core.calendar.current()
    with core.db.read() as session:
        rows = board_rows(session, tier, now, calendar=calendar)
        # The center also closes escalations the department has answered (核实销号), whatever the tier.
        replied = board_rows(session, None, now, status="replied", calendar=calendar) if tier == 1 else []
        counts = open_counts(session)
        # 批示督办 (app/joint): listed and counted apart from the escalations.
        from ..joint.services import instruction_counts, instruction_rows
        instructions = instruction_rows(session) if tier == 3 else []
        instructed = instruction_counts(session)
        everything = [*rows, *replied]
        # The case page's words (app/cases/views.py Labels): task names in the English of each case's
        # process version (the designer's 标签翻译) when in English, people by name, not login.
        translations = version_labels(core, session, [r.number for r in everything]
                                      + [i["number"] for i in instructions]) if in_english() else {}
        logins = {r.task_assignee for r in everything} | {i["instruction"].instructed_by for i in instructions}
        logins |= {r.last_action["by"] for r in everything if r.last_action}
        people = dict(session.execute(select(User.username, User.display_name)
                                      .where(User.username.in_(logins - {None}))).all()) if logins - {None} else {}
    return render_template("supervision/board.html", tier=tier, tiers=tiers, rows=rows, replied=replied,
                           counts=counts, now=now, task_url=_task_url, instructions=instructions,
                           instructed=instructed, translations=translations, people=people,
                           may_act=TIER_ROLES[tier] in current_user.roles,
                           may_close="supervisor_center" in current_user.roles)
