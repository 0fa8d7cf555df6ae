"""Routing by grid and field, and the grid map, at scale. Prints figures; asserts nothing.

    .venv/bin/python bench/grid.py [--cases 1000000] [--grids 1000] [--members 5000]
                                   [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a fresh database (PostgreSQL: a schema of its own, dropped at the end) with ``--grids``
grids tiling a rectangle (polygons), ``--members`` professional grid workers' places in their
teams, and ``--cases`` cases bulk inserted over the past year across the grids (about 8 % open),
then measures:

1. routing (target: < 1 ms added per dispatch):
   * ``direct_assignee`` alone: the field table (grid_fields.dmn) and the team lookup, per call;
   * a real dispatch through the engine (register + 派单) with the hook, against the same with
     the hook switched off, in the same run: the difference is what routing adds;
2. the map (target: p95 < 200 ms with 1 000 grids and 1 M cases): GET /map for each figure
   (open, overdue, reports over 30 days and over a year) and the grid panel, server time p50/p95.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app.auth.models import User, UserRole  # noqa: E402
from app.auth.services import hash_password  # noqa: E402
from app.cases.models import Case  # noqa: E402
from app.core import Core  # noqa: E402
from app.org.models import Grid, GridTeamMember  # noqa: E402
from app.seed import DEMO_PASSWORD, seed_demo  # noqa: E402
from lifecycle import fresh_database  # noqa: E402
from worklist import ServerTimer, time_calls, time_requests  # noqa: E402

SEED = 10
BATCH = 5000
# category → (department, field), as routing.dmn and grid_fields.dmn have them
ROUTED = {"食品安全": ("market_supervision", "食品安全"), "治安": ("police", "治安"),
          "消防安全": ("emergency", "消防"), "城市管理": ("chengguan", "城市管理"),
          "物业管理": ("community_building", "物业"), "邻里纠纷": ("comprehensive_governance", "矛盾纠纷"),
          "房屋建设": ("planning_construction", "房屋建设"), "劳动保障": ("social_affairs", "社会事务")}


def build_org(core: Core, grids: int, members: int) -> list[str]:
    cols = max(1, int(grids ** 0.5 * 1.6))
    codes = [f"B{i:04d}" for i in range(1, grids + 1)]
    people = max(1, members // 5)
    fields = list(ROUTED.items())
    pw = hash_password(DEMO_PASSWORD)
    with core.db.unit_of_work() as session:
        rows = []
        for i, code in enumerate(codes):
            x, y = 120.0 + (i % cols) * 0.004, 35.9 + (i // cols) * 0.004
            ring = [[x, y], [x + 0.004, y], [x + 0.004, y + 0.004], [x, y + 0.004], [x, y]]
            rows.append({"code": code, "name": f"网格{code}", "community": f"社区{i // 4}",
                         "geometry": json.dumps({"type": "Polygon", "coordinates": [ring]}),
                         "households": 300 + i % 500, "residents": 800 + i % 900})
        session.execute(insert(Grid.__table__), rows)
        users = []
        for p in range(people):
            category, (department, _field) = fields[p % len(fields)]
            users.append({"username": f"bp{p:05d}", "display_name": f"专业网格员{p}", "password_hash": pw,
                          "department": department, "active": True, "created_at": datetime.now(timezone.utc),
                          "session_version": 0})
        session.execute(insert(User.__table__), users)
        ids = dict(session.execute(select(User.username, User.id).where(User.username.like("bp%"))).all())
        session.execute(insert(UserRole.__table__), [{"user_id": i, "role": "handler"} for i in ids.values()])
        team = []
        for m in range(members):
            p = m % people
            _category, (department, field) = fields[p % len(fields)]
            team.append({"grid": codes[(m * 7 + m // people) % grids], "role": "professional_grid_worker",
                         "username": f"bp{p:05d}", "department": department, "field": field})
        unique = {(t["grid"], t["username"], t["field"]): t for t in team}
        session.execute(insert(GridTeamMember.__table__), list(unique.values()))
    return codes


def generate_cases(core: Core, count: int, codes: list[str], now: datetime) -> None:
    rng = random.Random(SEED)
    rows, counters = [], {}
    categories = list(ROUTED)

    def flush():
        with core.db.unit_of_work() as session:
            session.execute(insert(Case.__table__), rows)
        rows.clear()

    with core.db.read() as session:
        first = (session.scalar(select(func.max(Case.id))) or 0) + 1
    for case_id in range(first, first + count):
        registered = now - timedelta(days=rng.uniform(0, 365), minutes=rng.randrange(1440))
        day = registered.astimezone(timezone(timedelta(hours=8))).strftime("%Y%m%d")
        counters[day] = counters.get(day, 0) + 1
        recent = registered > now - timedelta(days=30)
        status = rng.choice(("dispatched", "handling", "replied")) if (recent or rng.random() < 0.03) \
            else "closed"
        category = rng.choice(categories)
        deadline = registered + timedelta(days=rng.choice((2, 10, 15, 20)))
        rows.append({
            "id": case_id, "number": f"HD-{day}-{counters[day]:05d}", "channel": "grid", "type": "complaint",
            "category": category, "difficulty": "normal", "urgent": False, "text": f"网格巡查发现问题{case_id}",
            "address": None, "grid": rng.choice(codes), "reporter_name": None, "reporter_phone": None,
            "department": ROUTED[category][0], "status": status, "registered_at": registered,
            "registered_by": "grid", "dispatched_at": registered + timedelta(hours=1), "deadline": deadline,
            "closed_at": deadline - timedelta(days=1) if status == "closed" else None, "extensions": [],
            "return_count": 0, "redo_count": 0, "supervision_tier": 0, "has_incident": False})
        if len(rows) >= BATCH:
            flush()
    if rows:
        flush()


def routing(core: Core, codes: list[str], n: int) -> None:
    import app.cases.projection as projection
    from app.org.services import direct_assignee
    from app.processes.services import ensure_shipped_version
    rng = random.Random(3)
    with core.db.read() as session:
        version = ensure_shipped_version(session)
        bundle = core.bundles.get(session, version.id)
    snap = projection.Snapshot(bundle=bundle, script_engine=core.engine.script_engine)
    categories = list(ROUTED)
    found = 0
    with core.db.read() as session:
        samples, cpu = [], []
        for _ in range(n):
            category = rng.choice(categories)
            case = Case(grid=rng.choice(codes), category=category, department=ROUTED[category][0])
            t0, c0 = time.perf_counter(), time.process_time()
            found += direct_assignee(session, case, snap, "handler") is not None
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    samples.sort()
    print(f"  direct_assignee alone ({n} calls): mean {statistics.mean(samples):.3f} ms, "
          f"p50 {samples[len(samples) // 2]:.3f} ms, p95 {samples[int(len(samples) * .95)]:.3f} ms; "
          f"CPU mean {statistics.mean(cpu):.3f} ms; {found} found a professional")

    def dispatches(k: int) -> list[float]:
        out = []
        for _ in range(k):
            category = rng.choice(categories)
            case = core.cases.register(channel="grid", type="投诉", text="巡查发现", grid=rng.choice(codes),
                                       category=category, user="grid", source="bench", detail=False)
            task = next(t for t in case["tasks"] if t["task"] == "dispatch")
            t0 = time.perf_counter()
            core.cases.complete_task(task["id"], user="dispatcher", source="bench", detail=False,
                                     data={"decision": "dispatch", "category": category, "difficulty": "normal"})
            out.append((time.perf_counter() - t0) * 1000)
        return out

    original = projection.direct_assignee
    dispatches(5)  # warm up the engine and the DMN caches
    with_hook, without = [], []
    for _round in range(4):  # interleaved, so load on the machine hits both alike
        with_hook += dispatches(15)
        projection.direct_assignee = lambda *a, **k: None
        try:
            without += dispatches(15)
        finally:
            projection.direct_assignee = original
    a, b = statistics.median(with_hook), statistics.median(without)
    print(f"  dispatch through the engine, median of {len(with_hook)}: with routing {a:.2f} ms, "
          f"without {b:.2f} ms, added {a - b:+.2f} ms (noise of a shared machine included)")


def run(base_url: str | None, cases: int, grids: int, members: int, repeats: int) -> None:
    url, drop = fresh_database(base_url)
    core = Core(url)
    try:
        seed_demo(core)
        backend = core.db.engine.dialect.name
        t0 = time.perf_counter()
        codes = build_org(core, grids, members)
        with core.db.read() as session:
            n_members = session.scalar(select(func.count()).select_from(GridTeamMember))
            n_grids = session.scalar(select(func.count()).select_from(Grid))
        print(f"\n== {backend}: {n_grids} grids, {n_members} team members built in {time.perf_counter() - t0:.1f} s")
        print("1. routing by grid and field")
        routing(core, codes, 5000)
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        generate_cases(core, cases, codes, now)
        if backend == "postgresql":
            with core.db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:
            with core.db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        with core.db.read() as session:
            total = session.scalar(select(func.count()).select_from(Case))
            open_ = session.scalar(select(func.count()).select_from(Case).where(Case.status != "closed"))
        print(f"2. the map: {total:,} cases ({open_:,} open) built in {time.perf_counter() - t0:.0f} s")
        from app import create_app
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}, core=core)
        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer
        client = app.test_client()
        client.post("/login", data={"username": "viewer", "password": DEMO_PASSWORD})
        today = now.astimezone(timezone(timedelta(hours=8))).date()
        month, year = (today - timedelta(days=29)).isoformat(), (today - timedelta(days=364)).isoformat()
        print(f"  {'GET, server time (ms)':46} {'p50':>7} {'p95':>7}  status  CPU p95")
        for label, path in (("/map (open cases)", "/map"), ("/map?metric=overdue", "/map?metric=overdue"),
                            ("/map?metric=reports, 30 days", f"/map?metric=reports&from={month}"),
                            ("/map?metric=reports, a year", f"/map?metric=reports&from={year}"),
                            ("/map/grids/B0001 (panel)", "/map/grids/B0001")):
            p50, p95, status, cpu = time_requests(client, timer, path, repeats)
            print(f"  {label:46} {p50:7.1f} {p95:7.1f}  {status}     {cpu:7.1f}")
        with core.db.read() as session:
            from app.org.map import figures, grid_shapes
            shapes = grid_shapes(session)
            households = {s["code"]: s["households"] for s in shapes}
            p50, p95 = time_calls(lambda: figures(session, "open", codes, now, today, today, households), repeats)
            print(f"  {'figures(open) query alone':46} {p50:7.1f} {p95:7.1f}")
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL")
    args = parser.parse_args()
    run(None, args.cases, args.grids, args.members, args.repeats)
    if args.postgres:
        run(args.postgres, args.cases, args.grids, args.members, args.repeats)


if __name__ == "__main__":
    main()
