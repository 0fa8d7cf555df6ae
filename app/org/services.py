"""The org domain's services: the tree and teams for the pages, import/export, routing by grid
and field (直接责任人), and giving a departed professional's tasks back to their department.

Routing: ``routing.dmn`` (category → department) runs inside the process; ``grid_fields.dmn``
(category → field) runs here, from the case's own process version, when a handler task
appears for a case with a grid. The person is then one indexed lookup in the grid's team:
the professional of that field in that grid, seconded by the case's department, still active.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import and_, select, update

from workflows.bundle import read_directory
from workflows.clock import utcnow
from workflows.model import Bundle, hash_files
from workflows.rules import DecisionError, evaluate

from ..auth.models import User
from ..auth.services import find_user
from ..cases.models import AuditEntry, Case, ReadyTask
from ..errors import Forbidden
from ..processes.services import SHIPPED_BUNDLE
from . import exchange
from .models import LEVELS, Department, Grid, GridTeamMember, OrgUnit

FIELD_DECISION = "grid_fields"
log = logging.getLogger(__name__)


# -- routing by grid and field ---------------------------------------------------------------------
@lru_cache(maxsize=1)
def _shipped_bundle() -> Bundle:
    files = {k: v for k, v in read_directory(SHIPPED_BUNDLE).items() if k.endswith(".dmn")}
    return Bundle(files=files, content_hash=hash_files(files))


def field_for(bundle, script_engine, category: str | None) -> str | None:
    """The field (专业领域) ``grid_fields.dmn`` gives a category; None when no rule matches.

    A process version deployed before the table existed uses the shipped table, so routing by
    grid works at once after an upgrade; a designer's version with its own table wins."""
    if not category:
        return None
    # A table's answer for a category never changes within one version (same content hash), so it is
    # kept per (hash, category): the DMN engine then runs once per category, not once per dispatch.
    key = (getattr(bundle, "content_hash", None), category)
    if key in _fields:
        return _fields[key]
    value = _field_from_tables(bundle, script_engine, category)
    if len(_fields) < 10_000:
        _fields[key] = value
    return value


_fields: dict[tuple, str | None] = {}


def _field_from_tables(bundle, script_engine, category: str) -> str | None:
    for source in (bundle, _shipped_bundle()):
        if source is None:
            continue
        try:
            value = evaluate(source, FIELD_DECISION, {"category": category}, script_engine).get("grid_field")
        except DecisionError as exc:
            if "is not in this process version" in str(exc):
                continue
            log.warning("grid field decision failed for category %r: %s", category, exc)
            return None
        return value if isinstance(value, str) and value else None
    return None


def responsible_person(session, grid: str, field: str, department: str) -> str | None:
    """The active professional of ``field`` in ``grid`` seconded by ``department`` (one index probe)."""
    return session.scalar(
        select(GridTeamMember.username)
        .join(User, and_(User.username == GridTeamMember.username, User.active.is_(True),
                         User.department == department))
        .where(GridTeamMember.grid == grid, GridTeamMember.field == field,
               GridTeamMember.role == "professional_grid_worker", GridTeamMember.department == department)
        .order_by(GridTeamMember.id).limit(1))


def direct_assignee(session, case: Case, snapshot, task_role: str | None) -> str | None:
    """Who a new handler task of ``case`` goes to directly (直接责任人), or None for the department pool."""
    if task_role != "handler" or not case.grid or not case.department or not case.category:
        return None
    field = field_for(snapshot.bundle, snapshot.script_engine, case.category)
    if field is None:
        return None
    return responsible_person(session, case.grid, field, case.department)


def release_tasks(session, username: str, *, actor: str, source: str = "web") -> int:
    """A professional who leaves: their open tasks go back to the department pool, one audit row each.

    A leader's 领导签批销号 has no pool: it is released to everyone who may instruct (the leaders and
    the party tier's supervisors, app/joint/hooks.py), audited as 签批销号转交 and told to them, so
    the case can still close."""
    from ..cases.services import audit
    from ..joint.hooks import INSTRUCT_ROLES, LEADER_ROLE, SIGN_OFF_RELEASED
    from ..notifications.services import instructing_users, notify_users
    rows = session.execute(select(ReadyTask, Case).join(Case, Case.id == ReadyTask.case_id)
                           .where(ReadyTask.assignee == username)).all()
    now = utcnow()
    for task, case in rows:
        if task.role == LEADER_ROLE:
            audit(session, actor=actor, action=SIGN_OFF_RELEASED, case=case, source=source, task=task, at=now,
                  changes={"assignee": [username, None], "reason": "user_deactivated",
                           "released_to": sorted(INSTRUCT_ROLES)})
        else:
            audit(session, actor=actor, action="unassign", case=case, source=source, task=task,
                  changes={"assignee": [username, None], "reason": "user_deactivated"})
    if rows:
        session.execute(update(ReadyTask).where(ReadyTask.assignee == username).values(assignee=None)
                        .execution_options(synchronize_session=False))
        for task, case in rows:
            if task.role == LEADER_ROLE:
                others = [u for u in instructing_users(session) if u.username != username]
                notify_users(session, case, others, "task_arrived", task.id, {"task": task.name, "due": ""}, now)
    return len(rows)


# -- the tree and the teams for the pages ----------------------------------------------------------
def _require_admin(session, actor: str) -> None:
    if "admin" not in find_user(session, actor).roles:
        raise Forbidden("only an administrator may change the organisation")


def tree(session) -> dict:
    nodes = exchange.current_nodes(session)
    ordered = exchange.tree_order(nodes)
    depth: dict[str, int] = {}
    for node in ordered:
        depth[node.code] = depth.get(node.parent, -1) + 1 if node.parent in nodes else 0
    members = exchange.member_order(exchange.current_members(session).values())
    names = dict(session.execute(select(User.username, User.display_name)).all())
    active = dict(session.execute(select(User.username, User.active)).all())
    departments = dict(session.execute(select(Department.code, Department.name)).all())
    teams: dict[str, list[dict]] = {}
    for m in members:
        teams.setdefault(m.grid, []).append({"role": m.role, "username": m.username, "name": names.get(m.username, ""),
                                             "active": bool(active.get(m.username)), "department": m.department,
                                             "department_name": departments.get(m.department or "", ""),
                                             "field": m.field})
    counts = {level: 0 for level in LEVELS}
    for node in nodes.values():
        counts[node.level] += 1
    return {"nodes": [{"code": n.code, "name": n.name, "level": n.level, "parent": n.parent, "depth": depth[n.code],
                       "households": n.households, "residents": n.residents, "has_geometry": bool(n.geometry)}
                      for n in ordered],
            "teams": teams, "counts": counts,
            "unplaced_grids": sorted(set(session.scalars(select(Grid.code))) - set(nodes))}


def team(session, grid: str) -> list[dict]:
    return tree_team(session, [grid]).get(grid, [])


def tree_team(session, grids: list[str]) -> dict[str, list[dict]]:
    rows = session.execute(
        select(GridTeamMember, User.display_name, User.active, Department.name)
        .join(User, User.username == GridTeamMember.username)
        .outerjoin(Department, Department.code == GridTeamMember.department)
        .where(GridTeamMember.grid.in_(grids))).all()
    out: dict[str, list[dict]] = {}
    order = {"grid_leader": 0, "grid_worker": 1, "professional_grid_worker": 2}
    for m, name, active, department in sorted(rows, key=lambda r: (order[r[0].role], r[0].field or "", r[0].username)):
        out.setdefault(m.grid, []).append({"role": m.role, "username": m.username, "name": name, "active": active,
                                           "department": department or "", "field": m.field or ""})
    return out


def export_xlsx(core) -> bytes:
    with core.db.read() as session:
        return exchange.export_workbook(session)


def import_xlsx(core, content: bytes, *, actor: str, apply: bool = False, source: str = "web") -> dict:
    """Dry run (default) or apply; bad files raise ``exchange.ImportRejected`` and write nothing."""
    if not apply:
        with core.db.read() as session:
            _require_admin(session, actor)
            return {"applied": False, **exchange.plan(session, content).summary()}
    with core.db.unit_of_work() as session:
        _require_admin(session, actor)
        p = exchange.plan(session, content)
        result = {"applied": True, **p.summary()}
        exchange.write_plan(session, p)
        session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action="org_import", source=source,
                               changes={**result["counts"], "added": p.added[:200], "removed": p.removed[:200],
                                        "changed": p.changed[:200]}))
        return result


def unit_names(session) -> dict[str, str]:
    return dict(session.execute(select(OrgUnit.code, OrgUnit.name)).all())
