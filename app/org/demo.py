"""Demo organisation modelled on the seed: 黄岛街道 with ten urban communities of four grids each
(G01–G40, keeping G01–G03), two 微网格 per grid with one 居民小组 each, generated polygons that
tile a plausible area, and the 1+1+N teams: 92 professional grid workers seconded by ten
departments, each the directly responsible person for their field in the grids of one community.

The 92 professionals (and the grid leaders and full-time workers beside them) are optional: the
test suite seeds without them (``BIHUAN_DEMO_PROFESSIONALS=0``) so that existing cases in G01–G03
keep going to the department pool, and only ``grid_pro`` (食品安全, G01) is seeded there. Every
seeded person shares one password hash, so 200 demo users cost one argon2 hash, not 200.
"""
from __future__ import annotations

import json
import os
import random

from sqlalchemy import select

from workflows.clock import utcnow

from ..auth.models import User, UserRole
from ..auth.services import hash_password
from .models import Department, Grid, GridTeamMember, OrgUnit

SUBDISTRICT = ("HD", "黄岛街道")
COMMUNITIES = ["和平社区", "光明社区", "刘公岛路社区", "长兴岛社区", "黄岛路社区", "青岛路社区", "汇泉湾社区",
               "凤凰岛社区", "海湾社区", "渔港社区"]
# The ten departments that second professionals, and their field (专业领域, as grid_fields.dmn names it).
FIELDS = {"police": "治安", "emergency": "消防", "environment": "环境", "market_supervision": "食品安全",
          "land": "国土", "chengguan": "城市管理", "planning_construction": "房屋建设", "social_affairs": "社会事务",
          "comprehensive_governance": "矛盾纠纷", "community_building": "物业"}
NEW_DEPARTMENTS = {"environment": "环保所", "land": "国土所"}
# Where the map is drawn: a 10 × 4 lattice of grids over about 4.5 × 2.2 km of the peninsula.
ORIGIN = (120.170, 35.955)
CELL = (0.005, 0.005)
COLS, ROWS = 10, 4
PROFESSIONALS_ENV = "BIHUAN_DEMO_PROFESSIONALS"
DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    if n < 10:
        return DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else DIGITS[tens]) + "十" + (DIGITS[ones] if ones else "")


def grid_codes() -> list[list[str]]:
    """Four grid codes per community; G01, G02 stay in 和平社区 and G03 in 光明社区."""
    layout = [["G01", "G02", "G04", "G05"], ["G03", "G06", "G07", "G08"]]
    n = 9
    for _ in COMMUNITIES[2:]:
        layout.append([f"G{n + i:02d}" for i in range(4)])
        n += 4
    return layout


def _lattice() -> list[list[tuple[float, float]]]:
    """Shared, slightly jittered vertices, so neighbouring grids meet without gaps or overlaps."""
    rng = random.Random(20261101)
    points = []
    for j in range(ROWS + 1):
        row = []
        for i in range(COLS + 1):
            jitter = (0.0, 0.0) if i in (0, COLS) or j in (0, ROWS) else (rng.uniform(-0.0012, 0.0012),
                                                                           rng.uniform(-0.0012, 0.0012))
            row.append((round(ORIGIN[0] + i * CELL[0] + jitter[0], 6), round(ORIGIN[1] + j * CELL[1] + jitter[1], 6)))
        points.append(row)
    return points


def polygon(col: int, row: int, lattice) -> str:
    ring = [lattice[row][col], lattice[row][col + 1], lattice[row + 1][col + 1], lattice[row + 1][col],
            lattice[row][col]]
    return json.dumps({"type": "Polygon", "coordinates": [[list(p) for p in ring]]}, separators=(",", ":"))


def demo_tree() -> tuple[list[tuple], dict[str, dict]]:
    """Nodes [(code, name, level, parent)] and grid attributes {code: {name, community, geometry, ...}}."""
    lattice = _lattice()
    rng = random.Random(92)
    nodes = [(SUBDISTRICT[0], SUBDISTRICT[1], "subdistrict", None)]
    grids: dict[str, dict] = {}
    for c, (community, codes) in enumerate(zip(COMMUNITIES, grid_codes())):
        ccode = f"C{c + 1:02d}"
        nodes.append((ccode, community, "community", SUBDISTRICT[0]))
        for k, code in enumerate(codes):
            col, row = (c % 5) * 2 + k % 2, (c // 5) * 2 + k // 2
            name = f"第{chinese_number(int(code[1:]))}网格"
            nodes.append((code, name, "grid", ccode))
            households = rng.randint(280, 900)
            grids[code] = {"name": name, "community": community, "geometry": polygon(col, row, lattice),
                           "households": households, "residents": int(households * rng.uniform(2.4, 2.9))}
            for w in (1, 2):
                micro = f"{code}-W{w}"
                nodes.append((micro, f"{name}{chinese_number(w)}号微网格", "micro_grid", code))
                nodes.append((f"{micro}-Z1", f"{name}{chinese_number(w)}号微网格居民小组", "resident_group", micro))
    return nodes, grids


def professionals() -> list[tuple[str, str, str, list[str]]]:
    """The 92: (username, display name, department, grids). ``grid_pro`` is 和平社区's 食品安全 professional."""
    out = []
    for c, codes in enumerate(grid_codes()):
        for department, field in FIELDS.items():
            if department == "community_building" and c >= 2:
                continue  # 物业 professionals only in the two oldest communities: 10 × 10 − 8 = 92
            username = "grid_pro" if (c, department) == (0, "market_supervision") else f"pro_{department}_c{c + 1:02d}"
            out.append((username, f"{COMMUNITIES[c][:-2]}{field}专业网格员", department, codes))
    return out


def professionals_wanted() -> bool:
    return os.environ.get(PROFESSIONALS_ENV, "1").strip().lower() not in ("0", "false", "no")


def seed_org(session, demo_password: str, *, full: bool | None = None) -> dict:
    """Idempotent: adds what is missing, changes nothing that exists. ``full`` None: from the environment."""
    full = professionals_wanted() if full is None else full
    created = {"org_units": 0, "grids": 0, "departments": 0, "team_members": 0, "users": 0}
    have = set(session.scalars(select(Department.code)))
    for code, name in NEW_DEPARTMENTS.items():
        if code not in have:
            session.add(Department(code=code, name=name))
            created["departments"] += 1
    nodes, grid_values = demo_tree()
    have_units = set(session.scalars(select(OrgUnit.code)))
    for code, name, level, parent in nodes:
        if code not in have_units:
            session.add(OrgUnit(code=code, name=name, level=level, parent_code=parent))
            created["org_units"] += 1
    grids = {g.code: g for g in session.scalars(select(Grid))}
    for code, values in grid_values.items():
        grid = grids.get(code)
        if grid is None:
            session.add(Grid(code=code, **values))
            created["grids"] += 1
        elif grid.geometry is None:
            grid.geometry, grid.households, grid.residents = values["geometry"], values["households"], values["residents"]
    session.flush()
    users = {u.username: u for u in session.scalars(select(User))}
    password_hash = None

    def person(username, display, roles, department=None, grid=None):
        nonlocal password_hash
        if username in users:
            return
        password_hash = password_hash or hash_password(demo_password)
        user = User(username=username, display_name=display, password_hash=password_hash, department=department,
                    grid=grid, active=True, created_at=utcnow())
        user.role_rows = [UserRole(role=r) for r in roles]
        session.add(user)
        users[username] = user
        created["users"] += 1

    members = set(session.execute(select(GridTeamMember.grid, GridTeamMember.role, GridTeamMember.username,
                                         GridTeamMember.field)).all())
    wanted = [("G01", "grid_worker", "grid", None, None)]
    for username, display, department, codes in professionals():
        if username != "grid_pro" and not full:
            continue
        person(username, display, ["handler"], department)
        for code in codes if full else ["G01"]:
            wanted.append((code, "professional_grid_worker", username, department, FIELDS[department]))
    if full:
        for codes in grid_codes():
            for code in codes:
                number = chinese_number(int(code[1:]))
                person(f"gl_{code.lower()}", f"第{number}网格网格长", ["grid_worker"], None, code)
                wanted.append((code, "grid_leader", f"gl_{code.lower()}", None, None))
                if code != "G01":
                    person(f"gw_{code.lower()}", f"第{number}网格专职网格员", ["grid_worker"], None, code)
                    wanted.append((code, "grid_worker", f"gw_{code.lower()}", None, None))
    session.flush()
    for code, role, username, department, field in wanted:
        if username in users and (code, role, username, field) not in members:
            session.add(GridTeamMember(grid=code, role=role, username=username, department=department, field=field))
            created["team_members"] += 1
    return created


def org_labels() -> dict[str, dict[str, str]]:
    """Msgids shown through ``_()``/``term``: levels, positions, map figures and the demo names."""
    from .models import LEVEL_LABELS, TEAM_ROLE_LABELS
    from .views import METRIC_LABELS
    nodes, _grids = demo_tree()
    return {"org_level": LEVEL_LABELS, "team_role": TEAM_ROLE_LABELS, "map_metric": METRIC_LABELS,
            "org_unit": {code: name for code, name, _level, _parent in nodes},
            "org_department": NEW_DEPARTMENTS, "org_field": {f: f for f in FIELDS.values()}}
