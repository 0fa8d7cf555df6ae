"""System administration: users, departments and the working-day calendar overrides.

Each action checks that the actor is an active admin, validates the whole form (every field
message at once), then writes the change and one audit row (case_id NULL) in one transaction.
Passwords are hashed with argon2 and never appear in an audit row, a log line or a page.
"""
from __future__ import annotations

import re
from datetime import date, datetime

import chinese_calendar
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.models import ROLES, User
from ..auth.passwords import policy_problem
from ..auth.services import create_user as _create_user
from ..auth.services import find_user, set_active, set_password, update_user
from ..calendar.importing import import_schedule
from ..calendar.services import (calendar_status, correct_day, list_provisional, set_provisional, strict_day,
                                 uncorrect_day)
from ..calendar.services import list_overrides as _list_overrides
from ..cases.models import AuditEntry, Case, ReadyTask
from ..errors import Forbidden, Invalid, NotFound
from ..org.models import Department, Grid
from ..org.services import release_tasks

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,50}$")
DEPARTMENT_CODE = re.compile(r"^[a-z_]+$")
OPEN_STATUSES = ("registered", "dispatched", "returned", "handling", "replied", "verified")


def _now() -> datetime:
    return utcnow()


def _audit(session: Session, actor: str, action: str, changes: dict) -> None:
    session.add(AuditEntry(at=_now(), actor=actor, case_id=None, action=action, changes=changes, source="web"))


def _admin(session: Session, actor: str) -> User:
    # The views already refuse non-admins; services check again so no other caller can skip it.
    user = find_user(session, actor)
    if "admin" not in user.roles:
        raise Forbidden(_("只有系统管理员可以执行此操作。"))
    return user


def _raise_if(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise Invalid(_("请修正标出的字段。"), fields=errors)


# -- users -----------------------------------------------------------------------------------
def choices(session: Session) -> dict:
    """What the user forms offer: roles, departments and grids."""
    return {"roles": ROLES,
            "departments": {d.code: d.name for d in session.scalars(select(Department).order_by(Department.id))},
            "grids": {g.code: f"{g.name}（{g.community}）" if g.community else g.name
                      for g in session.scalars(select(Grid).order_by(Grid.code))}}


def list_users(core) -> dict:
    with core.db.read() as session:
        users = session.scalars(select(User).order_by(User.active.desc(), User.username)).all()
        rows = [{"id": u.id, "username": u.username, "display_name": u.display_name, "roles": sorted(u.roles),
                 "department": u.department, "grid": u.grid, "active": u.active, "created_at": u.created_at}
                for u in users]
        return {"users": rows, **choices(session)}


def get_user(core, user_id: int) -> dict:
    with core.db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("没有这个用户。"))
        claimed = session.scalar(select(func.count()).select_from(ReadyTask)
                                 .where(ReadyTask.assignee == user.username))
        return {"user": {"id": user.id, "username": user.username, "display_name": user.display_name,
                         "roles": sorted(user.roles), "department": user.department or "",
                         "grid": user.grid or "", "active": user.active, "totp": bool(user.totp_secret)},
                "claimed": claimed, **choices(session)}


def reset_totp(core, actor: str, user_id: int) -> dict:
    """Remove a user's lost second factor (audited); they enrol again at their next login."""
    from ..auth import totp
    with core.db.unit_of_work() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("没有这个用户。"))
        if not user.totp_secret:
            raise Invalid(_("该用户没有启用双重验证。"), fields=[("totp", "not enrolled")])
        totp.reset(session, user, actor, source="admin")
        return {"username": user.username}


def _profile_errors(session: Session, roles: list[str], department: str, grid: str, display_name: str,
                    ) -> list[tuple[str, str]]:
    errors = []
    if not roles:
        errors.append(("roles", _("至少选择一个角色。")))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        errors.append(("roles", _("未知角色：%(roles)s", roles="、".join(unknown))))
    if department and session.scalar(select(Department.id).where(Department.code == department)) is None:
        errors.append(("department", _("没有这个部门。")))
    elif "handler" in roles and not department:
        errors.append(("department", _("承办部门人员必须选择所属部门。")))
    if grid and session.scalar(select(Grid.id).where(Grid.code == grid)) is None:
        errors.append(("grid", _("没有这个网格。")))
    if len(display_name) > 100:
        errors.append(("display_name", _("姓名最多 100 个字。")))
    return errors


def _password_errors(password: str, confirm: str, username: str = "") -> list[tuple[str, str]]:
    problem = policy_problem(password, username)
    if problem:
        return [("password", problem)]
    if password != confirm:
        return [("password_confirm", _("两次输入的密码不一致。"))]
    return []


def create_user(core, actor: str, *, username: str, display_name: str, roles: list[str], department: str,
                grid: str, password: str, password_confirm: str) -> dict:
    username, display_name = username.strip(), display_name.strip()
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        errors = []
        if not USERNAME.match(username):
            errors.append(("username", _("用户名为 2–50 位字母、数字或 _ . -。")))
        elif session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
            errors.append(("username", _("用户名“%(name)s”已被使用。", name=username)))
        errors += _profile_errors(session, roles, department, grid, display_name)
        errors += _password_errors(password, password_confirm, username)
        _raise_if(errors)
        user = _create_user(session, username, password, sorted(set(roles)), display_name, department or None,
                            grid or None)
        session.flush()
        _audit(session, actor, "user_create", {"user": username, "roles": sorted(user.roles),
                                               "department": user.department, "grid": user.grid})
        return {"id": user.id, "username": username}


def edit_user(core, actor: str, user_id: int, *, display_name: str, roles: list[str], department: str,
              grid: str) -> dict:
    display_name = display_name.strip()
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("没有这个用户。"))
        errors = _profile_errors(session, roles, department, grid, display_name)
        if user.username == actor and "admin" not in roles:
            # Otherwise one click could leave the system without anyone able to undo it.
            errors.append(("roles", _("不能取消自己的系统管理员角色。")))
        _raise_if(errors)
        changes = update_user(user, roles=sorted(set(roles)), display_name=display_name,
                              department=department or None, grid=grid or None)
        if changes:
            _audit(session, actor, "user_update", {"user": user.username, **changes})
        return {"id": user.id, "username": user.username, "changes": changes}


def set_user_active(core, actor: str, user_id: int, active: bool) -> dict:
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("没有这个用户。"))
        if user.username == actor:
            raise Invalid(_("不能停用自己的账号。"))
        if user.active == active:
            return {"username": user.username, "active": active, "released": 0}
        set_active(user, active)
        released = 0
        if not active:
            # A claimed task would otherwise stay hidden from colleagues behind someone who left.
            # A professional grid worker's directly assigned tasks go back to the department pool,
            # with an audit row on each case (app/org/services.py).
            released = release_tasks(session, user.username, actor=actor)
        _audit(session, actor, "user_activate" if active else "user_deactivate",
               {"user": user.username, "released_tasks": released})
        return {"username": user.username, "active": active, "released": released}


def reset_password(core, actor: str, user_id: int, password: str, password_confirm: str) -> dict:
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("没有这个用户。"))
        _raise_if(_password_errors(password, password_confirm, user.username))
        set_password(user, password)
        _audit(session, actor, "user_password_reset", {"user": user.username})
        return {"username": user.username}


# -- departments -----------------------------------------------------------------------------
def list_departments(core) -> list[dict]:
    with core.db.read() as session:
        users = dict(session.execute(select(User.department, func.count()).where(User.active)
                                     .group_by(User.department)).all())
        open_cases = dict(session.execute(select(Case.department, func.count())
                                          .where(Case.status.in_(OPEN_STATUSES)).group_by(Case.department)).all())
        return [{"code": d.code, "name": d.name, "users": users.get(d.code, 0), "open_cases": open_cases.get(d.code, 0)}
                for d in session.scalars(select(Department).order_by(Department.id))]


def _name_errors(session: Session, name: str, code: str | None = None) -> list[tuple[str, str]]:
    if not name:
        return [("name", _("请填写部门名称。"))]
    if len(name) > 100:
        return [("name", _("部门名称最多 100 个字。"))]
    clash = session.scalar(select(Department.code).where(Department.name == name))
    if clash is not None and clash != code:
        return [("name", _("已有同名部门。"))]
    return []


def add_department(core, actor: str, *, code: str, name: str) -> dict:
    code, name = code.strip(), name.strip()
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        errors = []
        if not DEPARTMENT_CODE.match(code) or len(code) > 50:
            errors.append(("code", _("代码只能用小写字母和下划线（最多 50 位）。")))
        elif session.scalar(select(Department.id).where(Department.code == code)) is not None:
            errors.append(("code", _("代码“%(code)s”已存在。", code=code)))
        errors += _name_errors(session, name)
        _raise_if(errors)
        session.add(Department(code=code, name=name))
        _audit(session, actor, "department_add", {"code": code, "name": name})
        return {"code": code, "name": name}


def rename_department(core, actor: str, code: str, name: str) -> dict:
    name = name.strip()
    with core.db.unit_of_work() as session:
        _admin(session, actor)
        department = session.scalars(select(Department).where(Department.code == code)).first()
        if department is None:
            raise NotFound(_("没有这个部门。"))
        _raise_if(_name_errors(session, name, code))
        old = department.name
        if old != name:
            department.name = name
            _audit(session, actor, "department_rename", {"code": code, "name": [old, name]})
        return {"code": code, "name": name}


# -- the working-day calendar ----------------------------------------------------------------
def statutory_kind(day: date) -> str | None:
    """What chinesecalendar alone says of ``day``: 'workday', 'holiday', or None beyond its years."""
    try:
        return "workday" if chinese_calendar.is_workday(day) else "holiday"
    except NotImplementedError:
        return None


def calendar_overview(core, show_all: bool, today: date) -> dict:
    """Everything the calendar page shows: how far it reaches, the entries, the 暂定 deadlines."""
    with core.db.read() as session:
        rows = _list_overrides(session, None if show_all else today)
        provisional = list_provisional(session, limit=50)
        status = calendar_status(session, core.calendar.current(), today)
    for row in rows:
        day = date.fromisoformat(row["date"])
        row["weekday"] = day.weekday()
        row["statutory"] = statutory_kind(day)
        row["past"] = day < today
    return {"status": status, "overrides": rows, "provisional": provisional}


def add_calendar_override(core, actor: str, *, day: str, kind: str, note: str) -> dict:
    day, note = day.strip(), note.strip()
    errors = []
    parsed = strict_day(day)
    if parsed is None:
        errors.append(("day", _("日期格式应为 YYYY-MM-DD。")))
    if kind not in ("workday", "holiday"):
        errors.append(("kind", _("请选择“工作日”或“休息日”。")))
    if len(note) > 200:
        errors.append(("note", _("说明最多 200 个字。")))
    _raise_if(errors)
    with core.calendar.changing() as session:
        _admin(session, actor)
        return correct_day(session, parsed, kind, note, actor, source="web")


def remove_calendar_override(core, actor: str, day: str) -> dict:
    parsed = strict_day(day)
    if parsed is None:
        raise NotFound(_("没有这一天的调整。"))
    with core.calendar.changing() as session:
        _admin(session, actor)
        removed = uncorrect_day(session, parsed, actor, source="web")
        if removed is None:
            raise NotFound(_("没有这一天的调整。"))
        return removed


def import_calendar(core, actor: str, *, content: bytes, year: str, note: str) -> dict:
    """Import a year's official schedule (see app/calendar/importing.py), as an admin."""
    errors = []
    year = year.strip()
    if year and not (year.isdigit() and 1900 <= int(year) <= 2200):
        errors.append(("year", _("年份应为四位数字。")))
    if len(note.strip()) > 200:
        errors.append(("note", _("说明最多 200 个字。")))
    if not content.strip():
        errors.append(("file", _("请上传或粘贴放假安排。")))
    _raise_if(errors)
    with core.db.read() as session:
        _admin(session, actor)
    return import_schedule(core, content, year=int(year) if year else None, note=note.strip(), actor=actor,
                           source="web")


def set_provisional_year(core, actor: str, year: int, on: bool) -> dict:
    with core.calendar.changing() as session:
        _admin(session, actor)
        return set_provisional(session, year, on, actor)
