"""网格巡查 figures at scale. Prints figures; asserts nothing.

    .venv/bin/python bench/patrol.py [--grids 1000] [--days 90] [--cases 100000]
                                     [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a fresh database per backend and bulk inserts ``--grids`` grids with one grid worker each,
a patrol on ~90 % of the working days of the last ``--days`` days per worker (every tenth one
spot-checked) and ``--cases`` cases over the past year (bench/ledgers.py's generator; the grid-channel
ones are given to the grid workers), then measures:

* the 督查组's overview page (its 50 grids × 31 days, the page's query): p50/p95;
* ``patrol_summary`` (the map's grid panel) for one grid over 30 days: p50/p95 over 200 grids;
* the monthly assessment (``grid_scores``, DMN priced) of the last full month: median of 3;
* start / 走访 +1 / finish of one patrol through the services: ms per action.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, datetime, time as clock_time, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import insert, text  # noqa: E402

from app.auth.models import User, UserRole  # noqa: E402
from app.core import Core  # noqa: E402
from app.org.models import Grid  # noqa: E402
from app.patrol.models import Patrol, SpotCheck  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from ledgers import generate  # noqa: E402
from workflows.clock import utcnow  # noqa: E402
from lifecycle import fresh_database  # noqa: E402

CST = timezone(timedelta(hours=8))
BATCH = 5000


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  (n={len(ordered)})"


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def build(core: Core, grids: int, days: int, cases: int, today: date) -> int:
    rng = random.Random(7)
    seed_demo(core)
    calendar = core.calendar.current()
    with core.db.unit_of_work() as session:
        session.execute(insert(Grid.__table__), [{"code": f"B{i:04d}", "name": f"网格{i}", "community": f"社区{i % 10}"}
                                                 for i in range(grids)])
        session.execute(insert(User.__table__), [
            {"username": f"w{i}", "display_name": f"网格员{i}", "password_hash": "x", "grid": f"B{i:04d}",
             "active": True, "session_version": 0, "created_at": utcnow()} for i in range(grids)])
        ids = dict(session.execute(text("SELECT username, id FROM users WHERE username LIKE 'w%'")).all())
        session.execute(insert(UserRole.__table__), [{"user_id": ids[f"w{i}"], "role": "grid_worker"}
                                                     for i in range(grids)])
    workdays = [today - timedelta(days=d) for d in range(days, 0, -1)
                if calendar.is_workday(today - timedelta(days=d))]
    patrols, checks, next_id = [], [], 1

    def flush():
        with core.db.unit_of_work() as session:
            session.execute(insert(Patrol.__table__), patrols)
            if checks:
                session.execute(insert(SpotCheck.__table__), checks)
        patrols.clear()
        checks.clear()

    for i in range(grids):
        for day in workdays:
            if rng.random() < 0.1:
                continue
            start = datetime.combine(day, clock_time(9), CST)
            patrols.append({"id": next_id, "worker": f"w{i}", "grid": f"B{i:04d}", "day": day, "started_at": start,
                            "finished_at": start + timedelta(hours=2), "households": rng.randint(0, 15),
                            "residents_updated": rng.randint(0, 5), "residents_added": rng.randint(0, 2),
                            "residents_removed": 0, "note": ""})
            if next_id % 10 == 0:
                checks.append({"patrol_id": next_id, "inspector": "inspector", "result": rng.choice(("pass", "fail")),
                               "checked_at": start + timedelta(days=1), "note": "x"})
            next_id += 1
            if len(patrols) >= BATCH:
                flush()
    if patrols:
        flush()
    with core.db.unit_of_work() as session:  # the ids were given: move PostgreSQL's sequence past them
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT setval(pg_get_serial_sequence('patrols', 'id'), (SELECT max(id) FROM patrols))"))
    now = datetime.combine(today, clock_time(10), CST).astimezone(timezone.utc)
    generate(core, cases, now)
    with core.db.unit_of_work() as session:
        session.execute(text(f"UPDATE cases SET registered_by = 'w' || (id % {grids}) WHERE channel = 'grid'"))
    return next_id - 1


def run(url: str | None, label: str, args) -> None:
    from app.patrol.assessment import grid_scores
    from app.patrol.services import add_visit, finish_patrol, overview, patrol_summary, start_patrol
    from app.reports.periods import month_of
    from workflows.clock import shifted

    scoped, drop = fresh_database(url)
    core = Core(scoped)
    try:
        today = utcnow().astimezone(CST).date()
        started = time.perf_counter()
        n = build(core, args.grids, args.days, args.cases, today)
        print(f"[{label}] {args.grids} grids, {n} patrols over {args.days} days, {args.cases} cases "
              f"(built in {time.perf_counter() - started:.0f} s)")
        first, last = today - timedelta(days=30), today
        samples = []
        for _ in range(7):
            with core.db.read() as session:
                samples.append(timed(lambda: overview(session, first, last)))
        print(f"[{label}] overview page, 50 of {args.grids} grids × 31 days: {percentiles(samples)}")
        rng = random.Random(1)
        calendar = core.calendar.current()  # cached, as the map page would pass it
        samples = []
        for _ in range(200):
            code = f"B{rng.randrange(args.grids):04d}"
            with core.db.read() as session:
                samples.append(timed(lambda: patrol_summary(session, code, first, last, calendar)))
        print(f"[{label}] patrol_summary, one grid × 31 days:    {percentiles(samples)}")
        month = month_of(today.replace(day=1) - timedelta(days=1)).key
        samples = []
        for _ in range(3):
            with core.db.read() as session:
                samples.append(timed(lambda: grid_scores(core, session, month)))
        print(f"[{label}] grid_scores {month}, {args.grids} workers:  median {statistics.median(samples):7.1f} ms")
        actions = {"start": [], "visit": [], "finish": []}
        for i in range(20):
            worker = f"w{i}"
            with shifted(datetime.combine(today, clock_time(18), CST)):
                patrol = {}
                actions["start"].append(timed(lambda: patrol.update(start_patrol(core, worker))))
                actions["visit"].append(timed(lambda: add_visit(core, patrol["id"], worker)))
                actions["finish"].append(timed(lambda: finish_patrol(core, patrol["id"], worker, {"households": "3"})))
        for name, values in actions.items():
            print(f"[{label}] {name:6s} one patrol (service):        {percentiles(values)}")
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--cases", type=int, default=100000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    run(None, "sqlite", args)
    if args.postgres:
        run(args.postgres, "postgresql", args)


if __name__ == "__main__":
    main()
