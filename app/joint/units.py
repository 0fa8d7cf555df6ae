"""协办单位 (co-handling units): the communities and outside organisations registered as units that
can take a part in 联动处置 (``departments`` rows of kind community or outside).

The admin page (/admin/units) and ``bihuan joint unit`` share these rules: a code is letters,
digits and _ (fixed once created), a name is required and unique among units; a unit is renamed
or deactivated, never deleted (its parts and cases keep naming it). A deactivated unit is refused
as a co-handler of a new dispatch (app/joint/hooks.py). Every change is one transaction with its
audit row (actions ``unit``, ``unit_add``, ``unit_rename``, ``unit_active``).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.services import find_user
from ..cases.models import AuditEntry
from ..errors import Forbidden, Invalid, NotFound
from ..org.models import Department
from .models import UNIT_KINDS, CoHandler

# The page lists and adds these kinds; sub-district departments are managed on /admin/departments.
PAGE_KINDS = ("community", "outside")


def _audit(session: Session, actor: str, action: str, changes: dict, source: str) -> None:
    from workflows.clock import utcnow
    session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action=action, changes=changes, source=source))


def _admin(session: Session, user: str):
    person = find_user(session, user)
    if "admin" not in person.roles:
        raise Forbidden(f"user '{person.username}' may not manage units (admin only)")
    return person


def clean_code(code) -> str:
    code = (code or "").strip() if isinstance(code, str) else ""
    if not code or len(code) > 50 or not code.replace("_", "").isalnum() or not code.isascii():
        raise Invalid("the code is letters, digits and _ (at most 50)", fields=[("code", "代码只能用字母、数字和下划线（最多 50 位）")])
    return code


def clean_name(session: Session, name, code: str | None = None) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 100 or not name.isprintable():
        raise Invalid("the name is required (at most 100 characters)", fields=[("name", "请填写名称（最多 100 字）")])
    clash = session.scalar(select(Department.code).where(Department.name == name))
    if clash is not None and clash != code:
        raise Invalid(f"the name '{name}' is taken by unit '{clash}'", fields=[("name", f"名称已被 {clash} 使用")])
    return name


def clean_kind(kind, allowed=tuple(UNIT_KINDS)) -> str:
    if kind not in allowed:
        raise Invalid(f"unknown kind '{kind}': use one of {', '.join(allowed)}", fields=[("kind", "类型不正确")])
    return kind


def register(session: Session, user: str, *, code, name, kind, source: str = "cli") -> dict:
    """``bihuan joint unit``: register a unit, or rename an existing one and set its kind."""
    kind, code = clean_kind(kind), clean_code(code)
    person = _admin(session, user)
    name = clean_name(session, name, code)
    row = session.scalars(select(Department).where(Department.code == code)).first()
    if row is None:
        session.add(Department(code=code, name=name, kind=kind, active=True))
    else:
        row.name, row.kind = name, kind
    _audit(session, person.username, "unit", {"code": code, "name": name, "kind": kind}, source)
    return {"code": code, "name": name, "kind": kind}


def add(session: Session, user: str, *, code, name, kind, source: str = "web") -> dict:
    """The page's 新增: a new community or outside unit; an existing code is refused (not overwritten)."""
    person = _admin(session, user)
    errors = []
    for check in (lambda: clean_kind(kind, PAGE_KINDS), lambda: clean_code(code)):
        try:
            check()
        except Invalid as exc:
            errors += exc.fields
    code = (code or "").strip()
    if not errors and session.scalar(select(Department.id).where(Department.code == code)) is not None:
        errors.append(("code", f"代码 {code} 已存在"))
    try:
        name = clean_name(session, name)
    except Invalid as exc:
        errors += exc.fields
    if errors:
        raise Invalid("; ".join(message for _field, message in errors), fields=errors)
    session.add(Department(code=code, name=name, kind=kind, active=True))
    _audit(session, person.username, "unit_add", {"code": code, "name": name, "kind": kind}, source)
    return {"code": code, "name": name, "kind": kind}


def _unit(session: Session, code: str) -> Department:
    row = session.scalars(select(Department).where(Department.code == code,
                                                   Department.kind.in_(PAGE_KINDS))).first() \
        if isinstance(code, str) and len(code) <= 50 and code.isprintable() else None
    if row is None:
        raise NotFound(f"no co-handling unit '{str(code)[:50]}'")
    return row


def rename(session: Session, user: str, code: str, name, source: str = "web") -> dict:
    person = _admin(session, user)
    row = _unit(session, code)
    name = clean_name(session, name, code)
    if name != row.name:
        _audit(session, person.username, "unit_rename", {"code": code, "name": [row.name, name]}, source)
        row.name = name
    return {"code": code, "name": name}


def set_active(session: Session, user: str, code: str, active: bool, source: str = "web") -> dict:
    person = _admin(session, user)
    row = _unit(session, code)
    if row.active != active:
        _audit(session, person.username, "unit_active", {"code": code, "active": [row.active, active]}, source)
        row.active = active
    return {"code": code, "active": active}


def listing(session: Session) -> list[dict]:
    """The community and outside units with their parts (open and all), by kind then code."""
    parts = dict(session.execute(select(CoHandler.unit, func.count()).group_by(CoHandler.unit)).all())
    open_parts = dict(session.execute(select(CoHandler.unit, func.count())
                                      .where(CoHandler.fed_back_at.is_(None), CoHandler.missing_at.is_(None))
                                      .group_by(CoHandler.unit)).all())
    rows = session.scalars(select(Department).where(Department.kind.in_(PAGE_KINDS))
                           .order_by(Department.kind, Department.code))
    return [{"code": d.code, "name": d.name, "kind": d.kind, "active": d.active, "parts": parts.get(d.code, 0),
             "open_parts": open_parts.get(d.code, 0)} for d in rows]
