"""Volunteer points: a balance and its history for a volunteer with 10 000 ledger entries, and 500
volunteers checking in to one activity within a minute. Prints figures; asserts nothing.

    .venv/bin/python bench/volunteers.py                          # SQLite in a temp dir
    .venv/bin/python bench/volunteers.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

1. ``GET /v/points`` (balance = SUM over the ledger, and the newest 30 entries by keyset) through
   Flask's test client with the volunteer's session, 300 requests after a warm-up: p50/p95 of the
   server time; and the two queries called directly. Target p95 < 20 ms.
2. 500 volunteers POST the check-in link of one activity from 25 threads (each its own session, as
   500 phones would), all released together: wall time, errors, and the sign-ups counted afterwards
   (must be exactly 500); then all 500 scan again and every second scan must be refused (409).
   Target: within one minute on SQLite, no errors, each counted once.

The figures are server times on whatever else the machine is doing: print ``uptime`` with them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.core import Core  # noqa: E402
from app.privacy.crypto import blind_index  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from app.volunteers import activities, ledger  # noqa: E402
from app.volunteers.accounts import Staff  # noqa: E402
from app.volunteers.models import LedgerEntry, Signup, Volunteer  # noqa: E402
from lifecycle import fresh_database  # noqa: E402
from workflows.clock import utcnow  # noqa: E402

SECRET = "bench-secret-key-for-volunteers-0123456789"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def add_volunteers(core, n: int, first: int = 0) -> list[int]:
    now = utcnow()
    rows = [{"name": f"志愿者{i}", "phone": f"137{i:08d}",
             "phone_index": blind_index(f"137{i:08d}"), "password_hash": "x", "community": "和平社区", "skills": "",
             "active": True, "session_version": 0, "registered_at": now} for i in range(first, first + n)]
    with core.db.unit_of_work() as session:
        session.execute(insert(Volunteer.__table__), rows)
        return list(session.scalars(select(Volunteer.id).where(Volunteer.phone_index.in_([r["phone_index"] for r in rows]))))


def logged_in(app, volunteer_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session["vol"] = f"{volunteer_id}.0"
        session["vol_seen"] = int(utcnow().timestamp())
    return client


def bench_balance(core, app, entries: int) -> None:
    vid = add_volunteers(core, 1, first=90_000_000)[0]
    start = utcnow() - timedelta(days=700)
    rows = [{"volunteer_id": vid, "kind": "credit" if i % 5 else "debit", "points": 1.5 if i % 5 else -2.0,
             "reason": "service" if i % 5 else "redemption_reserve", "earned_year": 2026 if i % 5 else None,
             "confirmed_by": "organiser", "note": f"第 {i} 次", "at": start + timedelta(minutes=i)} for i in range(entries)]
    # Other volunteers' entries around it, so the index has to pick this one's out of many.
    others = add_volunteers(core, 200, first=91_000_000)
    rows += [{"volunteer_id": others[i % len(others)], "kind": "credit", "points": 1.0, "reason": "service",
              "earned_year": 2026, "confirmed_by": "organiser", "note": "", "at": start} for i in range(entries * 3)]
    with core.db.unit_of_work() as session:
        for offset in range(0, len(rows), 5000):
            session.execute(insert(LedgerEntry), rows[offset:offset + 5000])
    if core.db.engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of such a load: statistics, and the visibility map that
        # lets the balance's SUM read the (volunteer_id, points) index alone.
        with core.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE vol_ledger")
    client = logged_in(app, vid)
    for _ in range(20):
        assert client.get("/v/points").status_code == 200
    times = []
    for _ in range(300):
        t = time.perf_counter()
        response = client.get("/v/points")
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    direct = []
    for _ in range(300):
        t = time.perf_counter()
        with core.db.read() as session:
            ledger.balance(session, vid)
            ledger.history(session, vid, limit=30)
        direct.append((time.perf_counter() - t) * 1000)
    with core.db.read() as session:
        total = ledger.balance(session, vid)
    print(f"balance+history, {entries} entries (+{entries * 3} of others), balance {total:g}:")
    print(f"  GET /v/points  p50 {statistics.median(times):.1f} ms  p95 {pct(times, 95):.1f} ms  max {max(times):.1f} ms")
    print(f"  queries only   p50 {statistics.median(direct):.1f} ms  p95 {pct(direct, 95):.1f} ms")


def bench_checkins(core, app, n: int, threads: int) -> None:
    ids = add_volunteers(core, n, first=50_000_000)
    now = utcnow()
    with core.db.unit_of_work() as session:
        activity = activities.publish(session, Staff("bench", frozenset({"volunteer_admin"})), title="防汛值守",
                                      type="emergency", place="海滨", community="和平社区",
                                      starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=2),
                                      capacity=n)
        token, _ = activities.mint_token(SECRET, activity, "in")
        aid = activity.id
    clients = [logged_in(app, vid) for vid in ids]
    url = f"/v/a/{aid}/check/in"
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(k: int) -> None:
        barrier.wait()
        for client in clients[k::threads]:
            status = client.post(url, data={"t": token}).status_code
            with lock:
                statuses.append(status)

    def run() -> float:
        statuses.clear()
        pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        t = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.perf_counter() - t

    first = run()
    ok, other = statuses.count(200), [s for s in statuses if s != 200]
    with core.db.read() as session:
        counted = session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == aid, Signup.checked_in_at.is_not(None)))
    print(f"check-in of {n} volunteers, {threads} threads: {first:.1f} s wall ({n / first:.0f}/s), "
          f"{ok} ok, {len(other)} errors {sorted(set(other))}, signed in afterwards: {counted}")
    second = run()
    with core.db.read() as session:
        again = session.scalar(select(func.count()).select_from(Signup).where(Signup.activity_id == aid))
    print(f"  second scan by all {n}: {second:.1f} s, refused 409: {statuses.count(409)}, "
          f"other: {sorted(set(s for s in statuses if s != 409))}, sign-ups still {again}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--checkins", type=int, default=500)
    parser.add_argument("--threads", type=int, default=25)
    args = parser.parse_args()
    url, drop = fresh_database(args.postgres)
    core = Core(url)
    try:
        seed_demo(core)
        app = create_app({"SECRET_KEY": SECRET, "WTF_CSRF_ENABLED": False, "TESTING": True}, core=core)
        print(f"database: {core.db.engine.dialect.name}, load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        bench_balance(core, app, args.entries)
        bench_checkins(core, app, args.checkins, args.threads)
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    main()
