"""Demo data: departments, grids and one user per role. Safe to run again."""
from __future__ import annotations

from sqlalchemy import select

from .auth.models import User
from .auth.services import create_user
from .org.demo import seed_org
from .org.models import Department, Grid
from .processes.services import ensure_shipped_version

DEPARTMENTS = {
    "chengguan": "城管执法中队",
    "community_building": "社区建设办",
    "comprehensive_governance": "综治中心",
    "police": "派出所",
    "emergency": "应急管理办",
    "social_affairs": "社会事务办",
    "market_supervision": "市场监管所",
    "planning_construction": "规划建设办",
    # The command center's own unit: supervision of its late steps (派单, 改派, 核实, 回访) is against it.
    "command_center": "指挥中心",
}
GRIDS = {"G01": ("第一网格", "和平社区"), "G02": ("第二网格", "和平社区"), "G03": ("第三网格", "光明社区")}
DEMO_PASSWORD = "bihuan123"
# username -> (display name, roles, department, grid)
DEMO_USERS = {
    "admin": ("系统管理员", ["admin"], None, None),
    "designer": ("流程设计员", ["designer"], None, None),
    "operator": ("受理员小王", ["operator"], None, None),
    "dispatcher": ("指挥中心小李", ["dispatcher"], None, None),
    "handler": ("城管中队小张", ["handler"], "chengguan", None),
    "handler2": ("社区建设办小赵", ["handler"], "community_building", None),
    "center": ("社会治理中心督办员", ["supervisor_center"], None, None),
    "discipline": ("纪工委督办员", ["supervisor_discipline"], None, None),
    "party": ("党工委督办员", ["supervisor_party"], None, None),
    "grid": ("网格员小陈", ["grid_worker"], None, "G01"),
    "viewer": ("街道领导", ["viewer"], None, None),
    "organiser": ("和平社区志愿服务站", ["volunteer_organiser"], None, None),  # community: app/volunteers/demo.py
    "volunteer_admin": ("志愿服务办公室", ["volunteer_admin"], None, None),
    "inspector": ("督查组小孙", ["inspector"], None, None),  # 社会治理督查组: patrol overview, spot checks
    "grid2": ("网格员小刘", ["grid_worker"], None, "G02"),  # a second grid worker for the patrol ranking
    # 专业网格员: 和平社区's 食品安全 professional, directly responsible in G01 (app/org/demo.py).
    "grid_pro": ("市场监管所专业网格员小刘", ["handler"], "market_supervision", None),
    # 领导驾驶舱, ledgers and reports (viewer sees them all); 批示督办 (leader)
    "leader": ("分管领导", ["viewer", "leader"], None, None),
}


def seed_demo(core) -> dict:
    created = {"departments": 0, "grids": 0, "users": 0}
    with core.db.unit_of_work() as session:
        have = set(session.scalars(select(Department.code)))
        for code, name in DEPARTMENTS.items():
            if code not in have:
                session.add(Department(code=code, name=name))
                created["departments"] += 1
        have = set(session.scalars(select(Grid.code)))
        for code, (name, community) in GRIDS.items():
            if code not in have:
                session.add(Grid(code=code, name=name, community=community))
                created["grids"] += 1
        session.flush()
        have = set(session.scalars(select(User.username)))
        for username, (display, roles, department, grid) in DEMO_USERS.items():
            if username not in have:
                create_user(session, username, DEMO_PASSWORD, roles, display, department, grid)
                created["users"] += 1
        from .volunteers.demo import assign_demo_organisers
        assign_demo_organisers(session)
        # The territory tree, grid polygons and 1+1+N teams (the 92 professionals unless turned off).
        created["org"] = seed_org(session, DEMO_PASSWORD)
        version = ensure_shipped_version(session)
        return {"created": created, "process_version": version.version, "demo_password": DEMO_PASSWORD,
                "users": {u: r[1] for u, r in DEMO_USERS.items()}}
