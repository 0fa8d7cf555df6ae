"""Editing one node of the territory tree on /org (admin): add a child, rename, move it under
another parent, set a grid's household and resident counts.

The rules are the import's (app/org/exchange.py): codes are unique, a node sits exactly one
level under its parent (街道 → 社区 → 网格 → 微网格 → 居民小组), no parent chain is a cycle, counts
are whole numbers from 0 to ``exchange.MAX_COUNT``. Each edit checks its own input first, so
that the page can say which field is wrong, then builds the tree it would leave and runs the
import's ``exchange.check`` over it as well; it is written by the import's ``write_plan`` (so a
grid row follows its node, and its community's name when the community is renamed or the grid
moves), in one transaction with one audit row. Any error raises before anything is written.
"""
from __future__ import annotations

from dataclasses import replace

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.services import find_user
from ..cases.models import AuditEntry
from ..errors import Forbidden, Invalid, NotFound
from . import exchange
from .models import LEVEL_LABELS, LEVELS, Grid, OrgUnit

MAX_CODE, MAX_NAME = 50, 100


def _admin(session: Session, actor: str):
    person = find_user(session, actor)
    if "admin" not in person.roles:
        raise Forbidden(f"user '{person.username}' may not change the organisation (admin only)")
    return person


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields=[(field, message)])


def _node(nodes: dict, code) -> exchange.Node:
    node = nodes.get(code) if isinstance(code, str) else None
    if node is None:
        raise NotFound(f"no node '{str(code)[:MAX_CODE]}' in the organisation tree")
    return node


def clean_code(session: Session, code) -> str:
    code = code.strip() if isinstance(code, str) else ""
    if not code:
        raise _invalid("code", _("请填写编码"))
    # a code is part of the page's addresses (/org/nodes/<code>/...) and of the exchanged file's cells
    if len(code) > MAX_CODE or not code.isprintable() or any(c.isspace() or c == "/" for c in code):
        raise _invalid("code", _("编码最多 %(n)s 位，不能含空格或 /", n=MAX_CODE))
    # A code of the grids table alone (a grid not placed in the tree) is taken too: the new node
    # would otherwise adopt, or for another level remove, that grid and what names it.
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None \
            or session.scalar(select(Grid.id).where(Grid.code == code)) is not None:
        raise _invalid("code", _("编码 %(code)s 已存在", code=code))
    return code


def clean_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise _invalid("name", _("请填写名称"))
    if len(name) > MAX_NAME or not name.isprintable():
        raise _invalid("name", _("名称最多 %(n)s 个字，不能含控制字符", n=MAX_NAME))
    return name


def clean_count(value, field: str) -> int | None:
    """Blank clears the figure; otherwise a whole number from 0 to MAX_COUNT."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 9:
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int) or not 0 <= text <= exchange.MAX_COUNT:
        raise _invalid(field, _("应为 0 到 %(max)s 的整数", max=exchange.MAX_COUNT))
    return text


def _parent(nodes: dict, code, field: str = "parent") -> exchange.Node:
    code = code.strip() if isinstance(code, str) else ""
    if not code:
        raise _invalid(field, _("请选择上级节点"))
    if code not in nodes:
        raise _invalid(field, _("上级节点 %(code)s 不存在", code=code[:MAX_CODE]))
    return nodes[code]


def _write(session: Session, nodes: dict, changed: list[str], *, actor: str, action: str, changes: dict,
           source: str) -> None:
    errors: list[dict] = []
    exchange.check(session, [(0, node) for node in nodes.values()], [], errors)
    if errors:  # the field checks above should have said it; the import's rules have the last word
        raise Invalid("; ".join(e["reason"] for e in errors[:5]), fields=[("_form", errors[0]["reason"])])
    old = exchange.current_nodes(session)
    plan = exchange.Plan(nodes=nodes, members=exchange.current_members(session),
                         added=[c for c in changed if c not in old], changed=[c for c in changed if c in old])
    exchange.write_plan(session, plan)
    session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action=action, changes=changes, source=source))
    session.flush()


def add_child(session: Session, actor: str, *, parent, code, name, source: str = "web") -> dict:
    """A node one level under ``parent`` (a 社区 under a 街道, ..., a 居民小组 under a 微网格)."""
    person = _admin(session, actor)
    nodes = exchange.current_nodes(session)
    errors: list[tuple[str, str]] = []
    level = None
    try:
        above = _parent(nodes, parent)
        if above.level == LEVELS[-1]:
            raise _invalid("parent", _("%(level)s是最末一级，不能再添加下级", level=_(LEVEL_LABELS[above.level])))
        level = LEVELS[LEVELS.index(above.level) + 1]
    except Invalid as exc:
        errors += exc.fields
    clean = {}
    for key, check in (("code", lambda: clean_code(session, code)), ("name", lambda: clean_name(name))):
        try:
            clean[key] = check()
        except Invalid as exc:
            errors += exc.fields
    if errors:
        raise Invalid("; ".join(message for _field, message in errors), fields=errors)
    code, name = clean["code"], clean["name"]
    nodes[code] = exchange.Node(code, name, level, above.code)
    _write(session, nodes, [code], actor=person.username, action="org_node_add", source=source,
           changes={"code": code, "name": name, "level": level, "parent": above.code})
    return {"code": code, "name": name, "level": level, "parent": above.code}


def rename(session: Session, actor: str, code, name, source: str = "web") -> dict:
    person = _admin(session, actor)
    nodes = exchange.current_nodes(session)
    node = _node(nodes, code)
    name = clean_name(name)
    if name != node.name:
        nodes[node.code] = replace(node, name=name)
        _write(session, nodes, [node.code], actor=person.username, action="org_node_rename", source=source,
               changes={"code": node.code, "name": [node.name, name]})
    return {"code": node.code, "name": name}


def move(session: Session, actor: str, code, parent, source: str = "web") -> dict:
    """Put a node (with everything under it) under another parent of the level just above its own."""
    person = _admin(session, actor)
    nodes = exchange.current_nodes(session)
    node = _node(nodes, code)
    if node.level == LEVELS[0]:
        raise _invalid("parent", _("街道是最上一级，不能移动"))
    above = _parent(nodes, parent)
    # A node's own descendants sit deeper, so the level rule alone would refuse them; the walk up
    # says why, and holds for a tree that an older import left uneven.
    at, seen = above.code, set()
    while at is not None and at in nodes and at not in seen:
        if at == node.code:
            raise _invalid("parent", _("不能移到自身或其下级之下"))
        seen.add(at)
        at = nodes[at].parent
    wanted = LEVELS[LEVELS.index(node.level) - 1]
    if above.level != wanted:
        raise _invalid("parent", _("%(level)s只能放在%(wanted)s之下，%(code)s是%(actual)s",
                                   level=_(LEVEL_LABELS[node.level]), wanted=_(LEVEL_LABELS[wanted]),
                                   code=above.code, actual=_(LEVEL_LABELS[above.level])))
    if above.code != node.parent:
        nodes[node.code] = replace(node, parent=above.code)
        _write(session, nodes, [node.code], actor=person.username, action="org_node_move", source=source,
               changes={"code": node.code, "parent": [node.parent, above.code]})
    return {"code": node.code, "parent": above.code}


def set_counts(session: Session, actor: str, code, households, residents, source: str = "web") -> dict:
    """A grid's 户数 and 人口 (blank clears one)."""
    person = _admin(session, actor)
    nodes = exchange.current_nodes(session)
    node = _node(nodes, code)
    if node.level != "grid":
        raise _invalid("_form", _("只有网格记录户数和人口"))
    errors: list[tuple[str, str]] = []
    values = {}
    for field, value in (("households", households), ("residents", residents)):
        try:
            values[field] = clean_count(value, field)
        except Invalid as exc:
            errors += exc.fields
    if errors:
        raise Invalid("; ".join(message for _field, message in errors), fields=errors)
    if (node.households, node.residents) != (values["households"], values["residents"]):
        nodes[node.code] = replace(node, **values)
        _write(session, nodes, [node.code], actor=person.username, action="org_grid_counts", source=source,
               changes={"code": node.code, "households": [node.households, values["households"]],
                        "residents": [node.residents, values["residents"]]})
    return {"code": node.code, **values}
