"""What the calendar adds to every page: the admins' coverage banner and the 暂定 (provisional) mark.

The calendar's own admin page lives with the other admin pages (app/admin/); this blueprint has
no routes, only the template helpers, so every domain's templates can mark a provisional deadline.
"""
from __future__ import annotations

from flask import Blueprint, current_app
from flask_login import current_user

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from .services import coverage

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
    """From ``services.WARN_DAYS`` days before the official calendar runs out, admins see it on every page."""
    if not (current_user.is_authenticated and current_user.has("admin")):
        return {}
    reach = coverage(_calendar(), utcnow().astimezone(SHANGHAI).date())
    return {"calendar_banner": reach} if reach["warning"] else {}
