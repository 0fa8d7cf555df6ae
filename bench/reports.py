"""The management layer at 1 000 000 cases: dashboard, KPI page, ledger pages, .xlsx export, weekly
report. Prints figures; asserts nothing.

    .venv/bin/python bench/reports.py [--cases 1000000] [--months 12]            # SQLite in a temp dir
    .venv/bin/python bench/reports.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/reports.py --keep /var/tmp/bihuan-1m.db [--skip-sqlite --postgres URL --keep-schema S]

``--keep`` (SQLite file) and ``--keep-schema`` (PostgreSQL schema) build the database once and keep
it: a later run with the same option finds the cases there and only measures. Generating 1 M
cases takes tens of minutes, so re-measuring after a change should not pay for it again.

The cases come from the demo history generator (app/reports/history*.py): finished cases bulk-
inserted with the rows the engine writes, ``--open-limit`` open ones driven through the engine,
then the rollups rebuilt. Requests go through Flask's test client with a logged-in session (the
server time: session load, view, queries, template). The export runs as the real CLI in a child
process, so its peak memory (max RSS) is its own. PostgreSQL is ANALYZEd after the load (what
autovacuum does within a minute); SQLite as the app runs it.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIHUAN = str(Path(sys.executable).with_name("bihuan"))  # the console script: its commands all registered
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import select, text  # noqa: E402

from app.core import Core  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from lifecycle import fresh_database  # noqa: E402
from workflows.clock import utcnow  # noqa: E402
from workflows.workdays import SHANGHAI  # noqa: E402


def timed(client, url: str, n: int) -> tuple[float, float, int]:
    client.get(url)  # warm-up
    times, status = [], 200
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        status = response.status_code
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], status


def login(app, username: str):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": "bihuan123"})
    return client


def kept_database(url: str | None, keep: str) -> tuple[str, callable, bool]:
    """(url, drop, fresh): a SQLite file or a PostgreSQL schema that outlives the run."""
    if url is None:
        path = Path(keep).resolve()
        db_url, fresh = f"sqlite:///{path}", not path.exists()
    else:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        admin = create_engine(url)
        with admin.begin() as conn:
            fresh = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                                 {"s": keep}).first() is None
            if fresh:
                conn.execute(text(f'CREATE SCHEMA "{keep}"'))
        admin.dispose()
        db_url = make_url(url).update_query_dict({"options": f"-csearch_path={keep}"}).render_as_string(False)
    if fresh:
        from lifecycle import upgrade
        upgrade(db_url)
    return db_url, lambda: None, fresh


def run(url: str | None, cases: int, months: int, open_limit: int, label: str, keep: str | None = None) -> None:
    from app import create_app
    from app.reports.history_writer import generate
    db_url, drop, fresh = kept_database(url, keep) if keep else (*fresh_database(url), True)
    core = Core(db_url)
    try:
        if fresh:
            seed_demo(core)
            start = time.perf_counter()
            made = generate(core, cases=cases, months=months, open_limit=open_limit)
            print(f"[{label}] generated {cases} cases ({made['open']} open, through the engine) in "
                  f"{time.perf_counter() - start:.0f} s; rollup rows {made['rollup']['daily_rows']}", flush=True)
            if core.db.engine.dialect.name == "postgresql":
                with core.db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            start = time.perf_counter()
            with core.db.unit_of_work() as session:
                from app.reports.rollups import rebuild
                rebuild(session)
            print(f"[{label}] bihuan reports rebuild: {time.perf_counter() - start:.1f} s", flush=True)
        else:
            with core.db.read() as session:
                have = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
            print(f"[{label}] kept database: {have} cases, not regenerated", flush=True)

        app = create_app({"TESTING": True, "SECRET_KEY": "bench" * 8, "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": False}, core=core)
        leader, handler, dispatcher = login(app, "leader"), login(app, "handler"), login(app, "dispatcher")
        today = utcnow().astimezone(SHANGHAI).date()
        month_start = today.replace(day=1)
        year_ago = today - timedelta(days=364)
        scenarios = [
            ("dashboard", leader, "/dashboard", 50),
            ("heatmap data (30 days)", leader, "/dashboard/heatmap/1/data", 30),
            ("KPI page, a year by department", leader, f"/kpis?from={year_ago}&to={today}&by=department", 5),
            ("KPI page, a month by department", leader, f"/kpis?from={month_start}&to={today}&by=department", 10),
            ("KPI page, a month by category", leader, f"/kpis?from={month_start}&to={today}&by=category", 10),
            ("ledger, all", leader, "/ledgers", 40),
            ("ledger, 投诉/complex", leader, "/ledgers?type=投诉&difficulty=complex", 40),
            ("ledger, department chengguan", leader, "/ledgers?department=chengguan", 40),
            ("ledger, channel online + category", leader, "/ledgers?channel=online&category=噪音扰民", 40),
            ("ledger, overdue only", leader, "/ledgers?overdue=1", 40),
            ("ledger, tier 2", leader, "/ledgers?tier=2", 40),
            ("ledger, status closed by closed date", leader,
             f"/ledgers?status=closed&date_field=closed&from={month_start}&to={today}", 40),
            ("ledger, KPI drill-down den", leader,
             f"/ledgers?kpi=on_time_reply_rate&part=den&from={month_start}&to={today}", 40),
            ("ledger, handler's own department", handler, "/ledgers", 40),
            # Case search (issue 15's target, p95 < 50 ms) on the same million cases.
            ("search text, common fragment (路灯不亮)", dispatcher, "/cases/search?q=路灯不亮", 40),
            ("search text, address (和平路1)", dispatcher, "/cases/search?q=和平路1", 40),
            ("search text, rare fragment (no match)", dispatcher, "/cases/search?q=无此内容的片段", 40),
            ("search text, two characters (bounded scan)", dispatcher, "/cases/search?q=路灯", 40),
            ("search text + status=handling", dispatcher, "/cases/search?q=夜间施工&status=handling", 40),
            ("search as handler, text fragment", handler, "/cases/search?q=夜间施工", 40),
            ("search as handler, rare text (no match)", handler, "/cases/search?q=无此内容的片段", 40),
            ("search registered in one week", dispatcher,
             f"/cases/search?date_from={today - timedelta(days=14)}&date_to={today - timedelta(days=8)}", 40),
            # Open311 GET requests (issue 12's target, p95 < 100 ms): the spec's default 90-day window, 1000 cap.
            ("open311 requests.json, default window", leader, "/open311/v2/requests.json", 20),
            ("open311 requests.xml, default window", leader, "/open311/v2/requests.xml", 20),
        ]
        for name, client, path, n in scenarios:
            p50, p95, status = timed(client, path, n)
            print(f"[{label}] {name:42s} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  (HTTP {status}, n={n})", flush=True)

        # An .xlsx export of about 100 000 rows: registered over the most recent stretch that holds them.
        # The day from which the newest 100 000 cases were registered (the export takes whole days).
        with core.db.read() as session:
            from app.cases.models import Case
            nth = session.scalar(select(Case.registered_at).order_by(Case.registered_at.desc())
                                 .offset(100_000).limit(1))
        start_day = (nth.astimezone(SHANGHAI).date() + timedelta(days=1)) if nth else today - timedelta(days=365)
        out = Path(tempfile.mkdtemp()) / "ledger.xlsx"
        env = {**os.environ, "BIHUAN_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run([BIHUAN, "ledger", "export", "--from", str(start_day),
                               "--to", str(today), "--format", "xlsx", "--out", str(out)],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"[{label}] xlsx export: {done.stdout.strip()[:80] or done.stderr.strip()[:200]} in {seconds:.1f} s, "
              f"peak RSS {peak / 1024:.0f} MB{' (an earlier child was larger)' if peak == before else ''}", flush=True)

        weekly = subprocess.run([BIHUAN, "report", "weekly", "--format", "html",
                                 "--out", str(out.with_suffix(".html"))], env=env, capture_output=True, text=True)
        if weekly.returncode == 2 or "No such command" in weekly.stderr:
            print(f"[{label}] weekly report: not in this branch (bihuan report weekly missing)")
        else:
            start = time.perf_counter()
            subprocess.run([BIHUAN, "report", "weekly", "--format", "html",
                            "--out", str(out.with_suffix(".html"))], env=env, capture_output=True, text=True)
            print(f"[{label}] weekly report (html, CLI incl. start-up): {time.perf_counter() - start:.1f} s")
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--open-limit", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("BIHUAN_BENCH_POSTGRES"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", help="a SQLite file to build once and keep (measured again on later runs)")
    parser.add_argument("--keep-schema", help="a PostgreSQL schema to build once and keep")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run(None, args.cases, args.months, args.open_limit, "sqlite", args.keep)
    if args.postgres:
        run(args.postgres, args.cases, args.months, args.open_limit, "postgresql", args.keep_schema)


if __name__ == "__main__":
    main()
