"""Open311 GET /open311/v2/requests.json with the spec's default 90-day window at scale. Prints
figures; asserts nothing.

    .venv/bin/python bench/open311.py [--cases 1000000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a fresh database (PostgreSQL: a schema of its own, dropped at the end), bulk inserts
``--cases`` cases over the past year with bench/ledgers.py's generator (about a quarter of them
inside the 90-day window), then measures the server time of the listing (the default window, hence
the 1000 cap) and of a filtered listing (status=open, one service_code, an explicit window) at
p50/p95 (target p95 < 100 ms at 1 M cases), and prints the query plan: the window must be read
down the registered_at index, newest first, and stop at the cap; never a scan of the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select, text  # noqa: E402

from app.cases.models import Case  # noqa: E402
from app.core import Core  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from ledgers import generate  # noqa: E402
from lifecycle import fresh_database  # noqa: E402
from workflows.clock import utcnow  # noqa: E402
from worklist import ServerTimer, time_requests  # noqa: E402


def plan(core: Core) -> str:
    from app.open311.services import COLUMNS, window
    start, end = window(None, None)
    query = select(*COLUMNS).where(Case.registered_at >= start, Case.registered_at <= end) \
        .order_by(Case.registered_at.desc(), Case.id.desc()).limit(1000)
    with core.db.read() as session:
        dialect = session.get_bind().dialect
        compiled = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
        return "\n    ".join(" ".join(str(c) for c in row) for row in session.execute(text(prefix + compiled)))


def run(url: str | None, cases: int, repeats: int) -> None:
    from app import create_app
    url, drop = fresh_database(url)
    core = Core(url)
    try:
        seed_demo(core)
        t0 = time.perf_counter()
        generate(core, cases, utcnow())
        if core.db.engine.dialect.name == "postgresql":
            with core.db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE cases")
        else:
            with core.db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        loaded = time.perf_counter() - t0
        with core.db.read() as session:
            total = session.scalar(select(func.count()).select_from(Case))
            inside = session.scalar(select(func.count()).select_from(Case)
                                    .where(Case.registered_at >= utcnow() - timedelta(days=90)))
        print(f"{core.db.engine.dialect.name}: {total} cases ({inside} in the last 90 days), loaded in {loaded:.0f} s")
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "OPEN311_RATE_LIMIT": "1000000 per second"},
                         core=core)
        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer
        client = app.test_client()
        end = utcnow()
        start = (end - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for label, query in (("default window (90 days, cap 1000)", ""),
                             ("status=open", "?status=open"),
                             ("service_code=city_management, 30 days", f"?service_code=city_management&start_date={start}"),
                             ("status=closed&service_code=sanitation", "?status=closed&service_code=sanitation")):
            p50, p95, status, cpu95 = time_requests(client, timer, f"/open311/v2/requests.json{query}", repeats)
            count = len(client.get(f"/open311/v2/requests.json{query}").get_json())
            print(f"  GET requests.json {label:42s} {count:5d} requests  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                  f"(CPU p95 {cpu95:.1f} ms, status {status})")
        p50, p95, status, _ = time_requests(client, timer, "/open311/v2/requests.xml", repeats)
        print(f"  GET requests.xml  default window{'':28s}        p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (status {status})")
        print("  plan of the window query:\n    " + plan(core))
    finally:
        core.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        run(None, args.cases, args.repeats)
    if args.postgres:
        run(args.postgres, args.cases, args.repeats)


if __name__ == "__main__":
    main()
