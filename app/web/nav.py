"""The navigation bar: each entry shows only to the roles it serves and only once its blueprint exists."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

TASK_ROLES = ("dispatcher", "handler", "supervisor_center", "supervisor_discipline", "supervisor_party", "leader")
SUPERVISORS = ("supervisor_center", "supervisor_discipline", "supervisor_party")

# (endpoint, label, roles that see it; None = every logged-in user)
NAV = (
    ("tasks.worklist", _l("我的待办"), TASK_ROLES),
    ("intake.register", _l("受理登记"), ("operator", "dispatcher", "admin")),
    ("patrol.log", _l("巡查日志"), ("grid_worker",)),
    ("intake.patrol", _l("网格上报"), ("grid_worker",)),
    ("feeds.opinion", _l("舆情导入"), ("operator", "admin")),
    ("cases.search", _l("案件查询"), None),
    ("supervision.board", _l("督办台"), SUPERVISORS + ("viewer", "dispatcher", "admin")),
    ("dashboard.index", _l("领导驾驶舱"), ("viewer", "dispatcher", "admin") + SUPERVISORS),
    ("reports.index", _l("统计报表"), ("viewer", "dispatcher", "admin") + SUPERVISORS),
    ("reports.ledgers", _l("台账"), None),
    ("reports.kpis", _l("KPI 指标"), ("viewer", "dispatcher", "admin", "operator", "handler") + SUPERVISORS),
    ("scores.month", _l("考核计分"), ("viewer", "dispatcher", "admin", "handler") + SUPERVISORS),
    ("weekly.index", _l("调度研判专报"), ("viewer", "dispatcher", "admin") + SUPERVISORS),
    ("volunteers.index", _l("志愿者积分"), ("volunteer_organiser", "volunteer_admin")),
    ("patrol.overview", _l("巡查督查"), ("inspector", "viewer", "dispatcher", "admin")),
    ("patrol.ranking", _l("网格员考核"), ("inspector", "viewer", "dispatcher", "admin")),
    ("org.map_page", _l("网格地图"), ("viewer", "dispatcher", "admin") + SUPERVISORS),
    ("org.index", _l("组织架构"), ("admin",)),
    ("designer.library", _l("流程管理"), ("designer",)),
    ("admin.users", _l("系统管理"), ("admin",)),
    ("auth.totp_setup", _l("双重验证"), ("admin", "designer")),
)


# Roles whose work is one page land there rather than on the first entry of the bar.
LANDING = {"admin": "admin.users", "designer": "designer.library"}


def nav_items() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label, roles in NAV:
        if endpoint not in current_app.view_functions:
            continue
        if roles is None or current_user.has(*roles):
            items.append({"endpoint": endpoint, "label": label, "url": url_for(endpoint)})
    return items


def home_endpoint(user) -> str:
    """Where a user lands after login: their role's own page, else the first page made for one of
    their roles, else search."""
    for role, endpoint in LANDING.items():
        if role in user.roles and endpoint in current_app.view_functions:
            return endpoint
    for endpoint, _label, roles in NAV:
        if endpoint in current_app.view_functions and roles is not None and user.has(*roles):
            return endpoint
    return "cases.search" if "cases.search" in current_app.view_functions else "health.health"
