"""台账 and KPI figures at scale. Prints figures; asserts nothing.

    .venv/bin/python bench/ledgers.py [--cases 100000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a fresh database per backend (PostgreSQL: a schema of its own, dropped at the end) and bulk
inserts ``--cases`` cases over the past year in the shape the engine leaves them (timestamps,
deadlines, satisfaction, return/redo counts, supervision items), then measures:

* the ledger page (GET /ledgers) for every filter of the issue, first and next page, as a viewer
  and as a handler: server time p50/p95 (target p95 < 50 ms);
* the KPI page and ``compute_kpis`` for a month and a whole year by department (targets 200 ms, 2 s);
* ``bihuan ledger export --format xlsx`` of ``--export-rows`` rows in a subprocess: wall time and
  the process's peak RSS (targets < 30 s and < 300 MB for 100 000 rows).

The ``dashboard`` work adds the 1 M-case history generator; this script has its own simple bulk
insert so it runs on its own.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app.cases.models import Case  # noqa: E402
from app.core import Core  # noqa: E402
from app.seed import DEMO_PASSWORD, DEPARTMENTS, GRIDS, seed_demo  # noqa: E402
from app.supervision.models import SupervisionItem  # noqa: E402
from lifecycle import fresh_database  # noqa: E402
from worklist import ServerTimer, time_calls, time_requests  # noqa: E402

SEED = 9
BATCH = 5000
CATEGORIES = ("城市管理", "环境卫生", "物业管理", "邻里纠纷", "治安", "劳动保障", "市场监管", "房屋建设")
CHANNELS = {"phone": 12, "grid": 40, "online": 8, "platform": 25, "web": 15}
TYPES = {"inquiry": 20, "help": 25, "complaint": 30, "report": 10, "suggestion": 15}
SATISFACTION = {"satisfied": 80, "mostly_satisfied": 10, "unsatisfied": 4, "unreachable": 6}


def _pick(rng, mix):
    return rng.choices(list(mix), list(mix.values()))[0]


def generate(core: Core, count: int, now: datetime) -> None:
    rng = random.Random(SEED)
    departments, grids = list(DEPARTMENTS), list(GRIDS)
    cases, items, counters = [], [], {}

    def flush():
        with core.db.unit_of_work() as session:
            session.execute(insert(Case.__table__), cases)
            if items:
                session.execute(insert(SupervisionItem.__table__), items)
        cases.clear()
        items.clear()

    for case_id in range(1, count + 1):
        registered = now - timedelta(days=rng.uniform(0, 365), minutes=rng.randrange(1440))
        day = registered.astimezone(timezone(timedelta(hours=8))).strftime("%Y%m%d")
        counters[day] = counters.get(day, 0) + 1
        roll = rng.random()
        status = ("refused" if roll < 0.02 else "merged" if roll < 0.03 else
                  "closed" if registered < now - timedelta(days=25) or roll < 0.5 else
                  rng.choice(("registered", "dispatched", "handling", "replied", "verified")))
        dispatched = status not in ("registered", "refused", "merged")
        at = lambda hours: registered + timedelta(hours=hours)  # noqa: E731
        deadline = at(rng.choice((48, 240, 360, 480))) if dispatched else None
        late = rng.random() < 0.05
        replied = at(rng.uniform(4, 200)) if status in ("replied", "verified", "closed") else None
        if replied and late:
            replied = deadline + timedelta(hours=rng.uniform(1, 72))
        followed = (replied + timedelta(hours=20)) if status in ("verified", "closed") else None
        closed = (followed + timedelta(hours=3)) if status == "closed" else at(1) if not dispatched and status != "registered" else None
        channel = _pick(rng, CHANNELS)
        department = rng.choice(departments) if dispatched else None
        tier = 0
        if dispatched and rng.random() < 0.04:
            tier = rng.choices((1, 2, 3), (80, 15, 5))[0]
            for t in range(1, tier + 1):
                items.append({"case_id": case_id, "run_key": f"r{case_id}", "tier": t, "reason": "delay",
                              "department": department, "status": "closed" if status == "closed" else "open",
                              "opened_at": deadline + timedelta(days=4 * t), "due_at": None, "escalated_at": None,
                              "closed_at": closed, "measure": None, "records": [],
                              "accountability_decision": "accountability" if t == 3 else None,
                              "responsible_person": "某某" if t == 3 else None})
        cases.append({
            "id": case_id, "number": f"HD-{day}-{counters[day]:04d}", "channel": channel, "type": _pick(rng, TYPES),
            "category": rng.choice(CATEGORIES), "difficulty": rng.choice(("simple", "normal", "normal", "complex")),
            "urgent": False, "text": f"第{case_id}件：小区门口路灯不亮，夜间出行不便，请尽快处理。",
            "address": f"和平路{rng.randint(1, 300)}号", "grid": rng.choice(grids) if channel == "grid" else None,
            "reporter_name": "王先生", "reporter_phone": f"139{rng.randrange(10**8):08d}", "department": department,
            "status": status, "refuse_reason": "不属于受理范围" if status == "refused" else None, "merged_into": None,
            "registered_at": registered, "registered_by": "operator",
            "dispatched_at": at(1) if dispatched else None,
            "signed_at": at(5) if dispatched and status != "dispatched" else None,
            "replied_at": replied, "verified_at": followed, "followed_up_at": followed, "closed_at": closed,
            "deadline": deadline, "extensions": [],
            "satisfaction": _pick(rng, SATISFACTION) if followed else None,
            "return_count": 1 if dispatched and rng.random() < 0.03 else 0,
            "redo_count": 1 if status == "closed" and rng.random() < 0.04 else 0,
            "supervision_tier": tier if status != "closed" else 0, "has_incident": False})
        if len(cases) >= BATCH:
            flush()
    if cases:
        flush()


def ledger_scenarios(month: tuple[str, str]) -> list[tuple[str, str, str]]:
    lo, hi = month
    return [
        ("all, newest first", "viewer", "/ledgers"),
        ("投诉 · 复杂", "viewer", "/ledgers?type=投诉&difficulty=complex"),
        ("department", "viewer", "/ledgers?department=chengguan"),
        ("channel", "viewer", "/ledgers?channel=phone"),
        ("category", "viewer", "/ledgers?category=物业管理"),
        ("status", "viewer", "/ledgers?status=handling"),
        ("overdue only", "viewer", "/ledgers?overdue=1"),
        ("supervision tier 2", "viewer", "/ledgers?tier=2"),
        ("grid", "viewer", "/ledgers?grid=G01"),
        ("registered in a month", "viewer", f"/ledgers?from={lo}&to={hi}"),
        ("closed in a month", "viewer", f"/ledgers?date_field=closed&from={lo}&to={hi}"),
        ("sort by deadline asc", "viewer", "/ledgers?sort=deadline&order=asc"),
        ("drill-down: on-time reply num", "viewer", f"/ledgers?kpi=on_time_reply_rate&part=num&from={lo}&to={hi}"),
        ("drill-down: satisfaction den, dept", "viewer",
         f"/ledgers?kpi=satisfaction_rate&part=den&from={lo}&to={hi}&department=chengguan"),
        ("handler: own department", "handler", "/ledgers"),
        ("handler: 投诉 overdue", "handler", "/ledgers?type=投诉&overdue=1"),
    ]


def run_backend(base_url: str | None, count: int, repeats: int, export_rows: int) -> None:
    url, drop = fresh_database(base_url)
    core = Core(url)
    try:
        seed_demo(core)
        backend = core.db.engine.dialect.name
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        generate(core, count, now)
        if backend == "postgresql":
            with core.db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        with core.db.read() as session:
            n = session.scalar(select(func.count()).select_from(Case))
        print(f"\n== {backend}: {n:,} cases built in {time.perf_counter() - t0:.0f} s")

        from app import create_app
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}, core=core)
        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer
        clients = {}
        for username in ("viewer", "handler"):
            clients[username] = app.test_client()
            clients[username].post("/login", data={"username": username, "password": DEMO_PASSWORD})
        today = now.astimezone(timezone(timedelta(hours=8))).date()
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        last = today.replace(day=1) - timedelta(days=1)
        month = (first.isoformat(), last.isoformat())

        print(f"{'ledger page, server time (ms)':44} {'p50':>7} {'p95':>7}  status")
        worst = 0.0
        for label, user, path in ledger_scenarios(month):
            p50, p95, status = time_requests(clients[user], timer, path, repeats)
            worst = max(worst, p95)
            print(f"  {label:42} {p50:7.1f} {p95:7.1f}  {status}")
            # the next page (keyset cursor from the first page's "next" link)
            body = clients[user].get(path).get_data(as_text=True)
            marker = 'rel="next" href="'
            if marker in body:
                nxt = body.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
                p50, p95, status = time_requests(clients[user], timer, nxt, repeats)
                worst = max(worst, p95)
                print(f"  {'  … next page':42} {p50:7.1f} {p95:7.1f}  {status}")
        print(f"  worst ledger p95: {worst:.1f} ms (target < 50)")

        from app.reports.kpis import compute_kpis
        year = (today - timedelta(days=365), today)
        print(f"{'KPIs by department (ms)':44} {'p50':>7} {'p95':>7}")
        for label, (lo, hi) in (("a month, compute_kpis", (first, last)), ("a year, compute_kpis", year)):
            def call(lo=lo, hi=hi):
                with core.db.read() as session:
                    compute_kpis(session, start=lo, end=hi, by="department")
            p50, p95 = time_calls(call, 5, warmup=1)
            print(f"  {label:42} {p50:7.1f} {p95:7.1f}")
        for label, (lo, hi) in (("a month, GET /kpis", (first, last)), ("a year, GET /kpis", year)):
            p50, p95, status = time_requests(clients["viewer"], timer,
                                             f"/kpis?from={lo}&to={hi}&by=department", 5, warmup=1)
            print(f"  {label:42} {p50:7.1f} {p95:7.1f}  {status}")

        export(url, export_rows, now)
    finally:
        core.close()
        drop()


def export(url: str, rows: int, now: datetime) -> None:
    """The first ``rows`` cases by registration (a date range that holds them), as a subprocess."""
    core = Core(url)
    with core.db.read() as session:
        cutoff = session.scalar(select(Case.registered_at).order_by(Case.registered_at).offset(rows - 1).limit(1))
        lo = session.scalar(select(func.min(Case.registered_at)))
    core.close()
    shanghai = timezone(timedelta(hours=8))
    # whole days up to the day before the cutoff, so the range holds a little under ``rows``
    start, end = lo.astimezone(shanghai).date(), cutoff.astimezone(shanghai).date() - timedelta(days=1)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-ledger-{os.getpid()}.xlsx"
    env = {**os.environ, "BIHUAN_DATABASE_URL": url, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": now.isoformat(),
           "PYTHONPATH": str(ROOT)}
    bihuan = Path(sys.executable).parent / "bihuan"
    t0 = time.perf_counter()
    proc = subprocess.run([str(bihuan), "ledger", "export", "--from", start.isoformat(), "--to", end.isoformat(),
                           "--format", "xlsx", "--out", str(out)], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode:
        print(f"  export failed: {proc.stderr.strip()}")
        return
    import json
    written = json.loads(proc.stdout)["rows"]
    print(f"xlsx export: {written:,} rows in {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB, "
          f"file {out.stat().st_size / 2**20:.1f} MB (targets < 30 s, < 300 MB)")
    out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("BIHUAN_BENCH_POSTGRES"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        run_backend(None, args.cases, args.repeats, args.export_rows)
    if args.postgres:
        run_backend(args.postgres, args.cases, args.repeats, args.export_rows)


if __name__ == "__main__":
    from time_machine import travel
    with travel(datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=8))), tick=True):
        main()
