"""What the calendar adds to every page: the admins' coverage banner and the 暂定 (provisional) mark.

The calendar's own admin page lives with the other admin pages (app/admin/); this blueprint has
no routes, only the template helpers, so every domain's templates can mark a provisional deadline.
"""
from __future__ import annotations

from flask import Blueprint, current_app
from flask_login import current_user

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from .services import WARN_DAYS

bp = Blueprint("calendar", __name__, template_folder="templates")


def _calendar():
    return current_app.extensions["bihuan"].calendar.current()


@bp.app_template_filter("provisional")
def provisional(value) -> bool:
    """Whether a deadline lies in a year that runs on the provisional calendar (shown as 暂定)."""
    if not value:
        return False
    try:
        return _calendar().is_provisional(value)
    except (TypeError, ValueError):
        return False


@bp.app_context_processor
def coverage_banner() -> dict:
    """From WARN_DAYS days before the official calendar runs out, admins see it on every page."""
    if not (current_user.is_authenticated and current_user.has("admin")):
        return {}
    today = utcnow().astimezone(SHANGHAI).date()
    official, reach = _calendar().covered_until(today)
    days_left = (official - today).days if official else -1
    if days_left > WARN_DAYS:
        return {}
    return {"calendar_banner": {"covered_until": official.isoformat() if official else None, "days_left": days_left,
                                "next_year": official.year + 1 if official else today.year,
                                "provisional_until": reach.isoformat() if reach and reach != official else None}}
