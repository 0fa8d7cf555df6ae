"""Import and export of the territory tree and the 1+1+N teams as .xlsx with Chinese headers.

Offices exchange these lists as spreadsheets, so the file is the interface: two sheets,
``组织架构`` (one row per node) and ``网格团队`` (one row per person and position). An import is
read and checked completely before anything is written: every bad row is reported with its
sheet, row number and reason, and one bad row writes nothing. ``plan`` is the dry run (what
would be added, changed, removed); ``apply_import`` writes the same plan in one transaction
with one audit row.

Export is deterministic (tree order, then code; teams by grid, position, person), so export →
import → export gives the same cells.
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import delete, func, select

from ..auth.models import User
from ..cases.models import Case
from ..errors import Invalid
from .models import LEVEL_LABELS, LEVELS, TEAM_ROLE_LABELS, TEAM_ROLES, Department, Grid, GridTeamMember, OrgUnit

TREE_SHEET = "组织架构"
TEAM_SHEET = "网格团队"
TREE_HEADERS = ("编码", "名称", "层级", "上级编码", "户数", "人口", "边界GeoJSON")
TEAM_HEADERS = ("网格编码", "职务", "用户名", "姓名", "部门编码", "专业领域")
MAX_ROWS = 100_000
MAX_COUNT = 10_000_000  # households or residents of one grid
MAX_FILE_BYTES = 50 * 1024 * 1024
LEVEL_BY_LABEL = {label: key for key, label in LEVEL_LABELS.items()}
ROLE_BY_LABEL = {label: key for key, label in TEAM_ROLE_LABELS.items()}


class ImportRejected(Invalid):
    """The file has bad rows; ``errors`` lists each as {"sheet", "row", "reason"}. Nothing was written."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        first = "; ".join(_describe(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"import rejected, nothing written: {first}{more}")


def _describe(error: dict) -> str:
    where = f"{error['sheet']} row {error['row']}: " if error.get("row") else (
        f"{error['sheet']}: " if error.get("sheet") else "")
    return where + error["reason"]


# -- reading the current state -------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    code: str
    name: str
    level: str
    parent: str | None
    households: int | None = None
    residents: int | None = None
    geometry: str | None = None


@dataclass(frozen=True)
class Member:
    grid: str
    role: str
    username: str
    department: str | None
    field: str | None

    @property
    def key(self) -> tuple:
        return (self.grid, self.role, self.username, self.field or "")


def current_nodes(session) -> dict[str, Node]:
    grids = {g.code: g for g in session.scalars(select(Grid))}
    nodes = {}
    for unit in session.scalars(select(OrgUnit)):
        grid = grids.get(unit.code) if unit.level == "grid" else None
        nodes[unit.code] = Node(unit.code, unit.name, unit.level, unit.parent_code,
                                grid.households if grid else None, grid.residents if grid else None,
                                grid.geometry if grid else None)
    return nodes


def current_members(session) -> dict[tuple, Member]:
    rows = session.scalars(select(GridTeamMember))
    return {m.key: m for m in (Member(r.grid, r.role, r.username, r.department, r.field) for r in rows)}


def tree_order(nodes: dict[str, Node]) -> list[Node]:
    """Depth first from the roots, children by code; nodes under no known root come last by code."""
    children: dict[str | None, list[Node]] = {}
    for node in nodes.values():
        parent = node.parent if node.parent in nodes else None
        children.setdefault(parent, []).append(node)
    out: list[Node] = []
    seen: set[str] = set()
    stack = sorted(children.get(None, []), key=lambda n: (LEVELS.index(n.level), n.code), reverse=True)
    while stack:
        node = stack.pop()
        if node.code in seen:
            continue
        seen.add(node.code)
        out.append(node)
        stack.extend(sorted(children.get(node.code, []), key=lambda n: n.code, reverse=True))
    out.extend(sorted((n for n in nodes.values() if n.code not in seen), key=lambda n: n.code))
    return out


def member_order(members) -> list[Member]:
    return sorted(members, key=lambda m: (m.grid, TEAM_ROLES.index(m.role), m.field or "", m.username))


# -- export ----------------------------------------------------------------------------------------
def export_workbook(session) -> bytes:
    nodes = current_nodes(session)
    members = current_members(session).values()
    names = dict(session.execute(select(User.username, User.display_name)).all())
    wb = Workbook()
    tree = wb.active
    tree.title = TREE_SHEET
    tree.append(TREE_HEADERS)
    for node in tree_order(nodes):
        tree.append([node.code, node.name, LEVEL_LABELS[node.level], node.parent or "",
                     node.households, node.residents, node.geometry or ""])
    teams = wb.create_sheet(TEAM_SHEET)
    teams.append(TEAM_HEADERS)
    for m in member_order(members):
        teams.append([m.grid, TEAM_ROLE_LABELS[m.role], m.username, names.get(m.username, ""),
                      m.department or "", m.field or ""])
    for sheet, widths in ((tree, (12, 16, 8, 12, 8, 8, 40)), (teams, (10, 12, 14, 12, 22, 12))):
        for i, width in enumerate(widths):
            sheet.column_dimensions[chr(ord("A") + i)].width = width
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def workbook_cells(content: bytes) -> dict[str, list[list]]:
    """Every sheet's cell values, for comparing two exports (the zip itself carries timestamps)."""
    wb = load_workbook(BytesIO(content), read_only=True, data_only=True)
    try:
        return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


# -- parsing and checking an import ------------------------------------------------------------
def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _count(value, label: str, errors: list, sheet: str, row: int) -> int | None:
    if value is None or _text(value) == "":
        return None
    try:
        number = float(_text(value))
    except ValueError:
        number = math.nan
    if not number.is_integer() or number < 0 or number > MAX_COUNT:
        errors.append({"sheet": sheet, "row": row, "reason": f"{label} '{_text(value)}' is not a whole number ≥ 0"})
        return None
    return int(number)


def _ring_ok(ring) -> bool:
    if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
        return False
    for point in ring:
        if not (isinstance(point, list) and len(point) in (2, 3)
                and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in point)):
            return False
        if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
            return False
    return True


def parse_geometry(text: str) -> str:
    """A GeoJSON Polygon/MultiPolygon (or a Feature holding one) as canonical text; ValueError says why."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("boundary is not valid JSON") from None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValueError("boundary must be a GeoJSON Polygon or MultiPolygon")
    coords = value.get("coordinates")
    polygons = [coords] if value["type"] == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons or not all(
            isinstance(p, list) and p and all(_ring_ok(r) for r in p) for p in polygons):
        raise ValueError("boundary coordinates must be closed rings of ≥ 4 [longitude, latitude] points")
    return json.dumps({"type": value["type"], "coordinates": coords}, ensure_ascii=False, separators=(",", ":"))


def _rows(ws, headers: tuple, sheet: str, errors: list, budget: list[int]):
    """(row number, cells) of the data rows; header checked; stops past the row budget."""
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    got = tuple(_text(c) for c in (header or ())[:len(headers)])
    if got != headers:  # the wrong file or sheet: its rows would only give misleading errors
        raise ImportRejected([{"sheet": sheet, "row": 1, "reason": f"header must be {' | '.join(headers)}"}])
    for number, cells in enumerate(rows, start=2):
        cells = tuple(cells) + (None,) * (len(headers) - len(cells))
        if all(_text(c) == "" for c in cells):
            continue
        budget[0] += 1
        if budget[0] > MAX_ROWS:
            raise ImportRejected([{"sheet": sheet, "row": number,
                                   "reason": f"more than {MAX_ROWS:,} rows: split the file".replace(",", " ")}])
        yield number, cells


ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
ELEMENT = re.compile(rb"<(?:\w+:)?(sheet|Relationship)\s([^>]*)>")
ATTRIBUTE = re.compile(rb'([\w:]+)="([^"]*)"')


def _elements(xml: bytes, tag: bytes) -> list[dict[bytes, bytes]]:
    return [dict(ATTRIBUTE.findall(attrs)) for name, attrs in ELEMENT.findall(xml) if name == tag]


def _too_many_rows(content: bytes) -> dict | None:
    """Count each sheet's <row> elements in the raw XML before parsing any cell: a file with too
    many rows is refused in a second instead of after a minute of reading cells."""
    try:
        with zipfile.ZipFile(BytesIO(content)) as z:
            names = z.namelist()
            if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
                return None  # openpyxl says what is wrong with it
            targets = {rel.get(b"Id", b"").decode(): rel.get(b"Target", b"").decode().lstrip("/").removeprefix("xl/")
                       for rel in _elements(z.read("xl/_rels/workbook.xml.rels"), b"Relationship")}
            for sheet in _elements(z.read("xl/workbook.xml"), b"sheet"):
                name, rid = sheet.get(b"name", b""), sheet.get(b"r:id", b"")
                part = "xl/" + targets.get(rid.decode(), "")
                if part not in names:
                    continue
                rows, tail = 0, b""
                with z.open(part) as handle:
                    while chunk := handle.read(1 << 20):
                        rows += len(ROW_TAG.findall(tail + chunk))
                        tail = chunk[-16:]
                        rows -= len(ROW_TAG.findall(tail))  # counted again with the next chunk
                    rows += len(ROW_TAG.findall(tail))
                if rows > MAX_ROWS + 1:  # the header row and MAX_ROWS data rows
                    return {"sheet": name.decode(errors="replace"), "row": MAX_ROWS + 2,
                            "reason": f"more than {MAX_ROWS:,} rows: split the file".replace(",", " ")}
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, NotImplementedError):
        return None
    return None


def read_workbook(content: bytes) -> tuple[list[tuple[int, Node]], list[tuple[int, Member]], list[dict]]:
    """Parse both sheets; returns the rows found and the per-cell errors (more come from ``check``)."""
    if len(content) > MAX_FILE_BYTES:
        raise ImportRejected([{"sheet": "", "row": None, "reason": "the file is larger than 50 MB"}])
    too_many = _too_many_rows(content)
    if too_many:
        raise ImportRejected([too_many])
    try:
        wb = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError) as exc:
        raise ImportRejected([{"sheet": "", "row": None,
                               "reason": f"not a readable .xlsx file ({type(exc).__name__})"}]) from None
    errors: list[dict] = []
    nodes: list[tuple[int, Node]] = []
    members: list[tuple[int, Member]] = []
    budget = [0]
    try:
        if TREE_SHEET not in wb.sheetnames:
            raise ImportRejected([{"sheet": TREE_SHEET, "row": None, "reason": f"the sheet '{TREE_SHEET}' is missing"}])
        for row, c in _rows(wb[TREE_SHEET], TREE_HEADERS, TREE_SHEET, errors, budget):
            code, name, level_label, parent = _text(c[0]), _text(c[1]), _text(c[2]), _text(c[3])
            level = LEVEL_BY_LABEL.get(level_label)
            bad = [] if code else ["编码 is empty"]
            bad += [] if name else ["名称 is empty"]
            bad += [] if len(code) <= 50 and len(name) <= 100 else ["编码 or 名称 is too long"]
            bad += [] if (code + name + parent).isprintable() else ["编码, 名称 or 上级编码 has control characters"]
            bad += [] if level else [f"unknown 层级 '{level_label}': use {'/'.join(LEVEL_LABELS.values())}"]
            households = _count(c[4], "户数", errors, TREE_SHEET, row)
            residents = _count(c[5], "人口", errors, TREE_SHEET, row)
            geometry = None
            if _text(c[6]):
                if level != "grid":
                    bad.append("only a 网格 row may carry a boundary")
                else:
                    try:
                        geometry = parse_geometry(_text(c[6]))
                    except ValueError as exc:
                        bad.append(f"bad GeoJSON: {exc}")
            errors.extend({"sheet": TREE_SHEET, "row": row, "reason": reason} for reason in bad)
            if code:  # kept even when bad (level None when unknown), so that rows naming it do not fail as well
                nodes.append((row, Node(code, name, level, parent or None, households, residents, geometry)))
        if TEAM_SHEET in wb.sheetnames:
            for row, c in _rows(wb[TEAM_SHEET], TEAM_HEADERS, TEAM_SHEET, errors, budget):
                grid, role_label, username = _text(c[0]), _text(c[1]), _text(c[2])
                department, specialty = _text(c[4]) or None, _text(c[5]) or None
                role = ROLE_BY_LABEL.get(role_label)
                bad = [] if role else [f"unknown 职务 '{role_label}': use {'/'.join(TEAM_ROLE_LABELS.values())}"]
                bad += [] if grid and username else ["网格编码 and 用户名 are required"]
                bad += [] if (grid + username + (department or "") + (specialty or "")).isprintable() \
                    else ["a cell has control characters"]
                if role == "professional_grid_worker" and not (department and specialty):
                    bad.append("a 专业网格员 needs 部门编码 and 专业领域")
                if role in ("grid_leader", "grid_worker") and (department or specialty):
                    department = specialty = None  # only professionals carry them; ignored for the others
                errors.extend({"sheet": TEAM_SHEET, "row": row, "reason": reason} for reason in bad)
                if not bad:
                    members.append((row, Member(grid, role, username, department, specialty)))
    except ImportRejected:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError) as exc:
        raise ImportRejected([{"sheet": "", "row": None,
                               "reason": f"not a readable .xlsx file ({type(exc).__name__})"}]) from None
    finally:
        wb.close()
    return nodes, members, errors


def check(session, nodes: list[tuple[int, Node]], members: list[tuple[int, Member]], errors: list[dict]) -> None:
    """Duplicate codes, unknown parents, cycles, wrong levels, unknown people/departments/grids."""
    by_code: dict[str, tuple[int, Node]] = {}
    for row, node in nodes:
        if node.code in by_code:
            errors.append({"sheet": TREE_SHEET, "row": row,
                           "reason": f"duplicate code '{node.code}' (first on row {by_code[node.code][0]})"})
        else:
            by_code[node.code] = (row, node)
    in_cycle: set[str] = set()
    for code, (row, node) in by_code.items():
        if node.level is None:
            continue
        if node.parent is None:
            if node.level != "subdistrict":
                errors.append({"sheet": TREE_SHEET, "row": row, "reason": f"'{code}' needs a 上级编码"})
            continue
        if node.parent not in by_code:
            errors.append({"sheet": TREE_SHEET, "row": row, "reason": f"unknown parent '{node.parent}'"})
            continue
        # Walk up: coming back to this node is a cycle (reported once per node on it).
        seen, at = {code}, node.parent
        while at is not None and at in by_code:
            if at in seen:
                if code not in in_cycle:
                    in_cycle.add(code)
                    errors.append({"sheet": TREE_SHEET, "row": row, "reason": f"the parent chain of '{code}' is a cycle"})
                break
            seen.add(at)
            at = by_code[at][1].parent
        if code in in_cycle:
            continue
        parent_level = by_code[node.parent][1].level
        if parent_level is not None and LEVELS.index(parent_level) != LEVELS.index(node.level) - 1:
            errors.append({"sheet": TREE_SHEET, "row": row, "reason":
                           f"a {LEVEL_LABELS[node.level]} cannot sit under a {LEVEL_LABELS[parent_level]} "
                           f"('{node.parent}')"})
    grid_codes = {code for code, (_, n) in by_code.items() if n.level == "grid"}
    users = set(session.scalars(select(User.username)))
    departments = set(session.scalars(select(Department.code)))
    seen_members: dict[tuple, int] = {}
    single: dict[tuple, int] = {}
    for row, m in members:
        bad = []
        if m.grid not in grid_codes:
            bad.append(f"'{m.grid}' is not a 网格 of the tree")
        if m.username not in users:
            bad.append(f"unknown user '{m.username}'")
        if m.department and m.department not in departments:
            bad.append(f"unknown department '{m.department}'")
        if m.key in seen_members:
            bad.append(f"duplicate team row (first on row {seen_members[m.key]})")
        seen_members.setdefault(m.key, row)
        if m.role != "professional_grid_worker":
            if (m.grid, m.role) in single:
                bad.append(f"grid '{m.grid}' already has a {TEAM_ROLE_LABELS[m.role]} (row {single[(m.grid, m.role)]})")
            single.setdefault((m.grid, m.role), row)
        errors.extend({"sheet": TEAM_SHEET, "row": row, "reason": reason} for reason in bad)


@dataclass
class Plan:
    nodes: dict[str, Node] = field(default_factory=dict)
    members: dict[tuple, Member] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    members_added: list[Member] = field(default_factory=list)
    members_changed: list[Member] = field(default_factory=list)
    members_removed: list[Member] = field(default_factory=list)

    def summary(self) -> dict:
        def who(items):
            return [f"{m.grid} {TEAM_ROLE_LABELS[m.role]} {m.username}" + (f" {m.field}" if m.field else "")
                    for m in items]
        return {"nodes": len(self.nodes), "members": len(self.members),
                "added": self.added, "changed": self.changed, "removed": self.removed,
                "members_added": who(self.members_added), "members_changed": who(self.members_changed),
                "members_removed": who(self.members_removed),
                "counts": {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed),
                           "members_added": len(self.members_added),
                           "members_changed": len(self.members_changed),
                           "members_removed": len(self.members_removed)}}


def plan(session, content: bytes) -> Plan:
    """The dry run: what importing ``content`` would change. Raises ImportRejected on any bad row."""
    nodes, members, errors = read_workbook(content)
    check(session, nodes, members, errors)
    new_nodes = {n.code: n for _, n in nodes}
    old_nodes = current_nodes(session)
    p = Plan(nodes=new_nodes, members={m.key: m for _, m in members})
    p.added = sorted(c for c in new_nodes if c not in old_nodes)
    p.changed = sorted(c for c in new_nodes if c in old_nodes and new_nodes[c] != old_nodes[c])
    p.removed = sorted(c for c in old_nodes if c not in new_nodes)
    # A grid that stops being a grid must not strand the cases and grid workers that name it.
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e["sheet"] != TREE_SHEET, e.get("row") or 0)))
    # Grids never placed in the tree (rows of ``grids`` only) are removed by an import that leaves them out too.
    unplaced = sorted(set(session.scalars(select(Grid.code))) - set(old_nodes))
    p.removed += [c for c in unplaced if c not in new_nodes]
    gone_grids = [c for c in list(old_nodes) + unplaced if (old_nodes[c].level == "grid" if c in old_nodes else True)
                  and (c not in new_nodes or new_nodes[c].level != "grid")]
    for code in sorted(gone_grids):
        used = session.scalar(select(func.count()).select_from(Case).where(Case.grid == code)) or 0
        used_by = session.scalar(select(func.count()).select_from(User).where(User.grid == code)) or 0
        if used or used_by:
            errors.append({"sheet": TREE_SHEET, "row": None, "reason":
                           f"grid '{code}' cannot be removed: {used} cases and {used_by} users name it"})
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e["sheet"] != TREE_SHEET, e.get("row") or 0)))
    old_members = current_members(session)
    p.members_added = member_order(m for k, m in p.members.items() if k not in old_members)
    p.members_changed = member_order(m for k, m in p.members.items() if k in old_members and old_members[k] != m)
    p.members_removed = member_order(m for k, m in old_members.items() if k not in p.members)
    return p


def write_plan(session, p: Plan) -> None:
    """Write a checked plan (inside the caller's transaction)."""
    for m in p.members_removed:
        session.execute(delete(GridTeamMember).where(
            GridTeamMember.grid == m.grid, GridTeamMember.role == m.role, GridTeamMember.username == m.username,
            (GridTeamMember.field == m.field) if m.field else GridTeamMember.field.is_(None)))
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    grids = {g.code: g for g in session.scalars(select(Grid))}
    for code in p.removed:
        if code in units:
            session.delete(units[code])
    for code, grid in grids.items():
        if code not in p.nodes or p.nodes[code].level != "grid":
            session.execute(delete(GridTeamMember).where(GridTeamMember.grid == code))
            session.delete(grid)
    session.flush()
    for code in p.added + p.changed:
        node = p.nodes[code]
        unit = units.get(code) or OrgUnit(code=code)
        unit.name, unit.level, unit.parent_code = node.name, node.level, node.parent
        session.add(unit)
    # Every grid row follows its node (its community's name too, which may have changed alone).
    for code, node in p.nodes.items():
        if node.level != "grid":
            continue
        grid = grids.get(code)
        if grid is None or grid not in session:
            grid = Grid(code=code)
            session.add(grid)
        community = p.nodes.get(node.parent)
        values = (node.name, community.name if community else "", node.geometry, node.households, node.residents)
        if (grid.name, grid.community, grid.geometry, grid.households, grid.residents) != values:
            grid.name, grid.community, grid.geometry, grid.households, grid.residents = values
    session.flush()
    for m in p.members_changed:
        row = session.scalars(select(GridTeamMember).where(
            GridTeamMember.grid == m.grid, GridTeamMember.role == m.role, GridTeamMember.username == m.username,
            (GridTeamMember.field == m.field) if m.field else GridTeamMember.field.is_(None))).one()
        row.department = m.department
    for m in p.members_added:
        session.add(GridTeamMember(grid=m.grid, role=m.role, username=m.username, department=m.department,
                                   field=m.field))
