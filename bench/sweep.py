"""Timer sweeps across scheduler processes: throughput 1 vs 2 processes (interleaved) and lateness.

    .venv/bin/python bench/sweep.py                                  # SQLite in a temp dir
    BIHUAN_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/sweep.py

Prints, and asserts nothing:
  1. throughput: ``--timers`` due timers fired by 1 and by 2 sweeper processes (each one `fire_due`
     loop, claiming dynamically like `bihuan scheduler`), in rounds run 1, 2, 2, 1, 1, 2 ... so that a
     busy machine weighs on both alike; median and range of timers/s, wall and CPU (the sweepers'
     CPU seconds per 1 000 timers), and the 2 : 1 speed-up (target: one >= 500/s, two >= 1.6x);
  2. lateness with 2 schedulers: ``--due`` instances become due spread over ``--window`` seconds
     while 2 processes sweep every ``--interval`` s; fired-at minus due-at, p50/p95/max (target:
     max <= interval + 1 s);
  3. the same with one of the 2 killed (SIGKILL) halfway: the instances it had claimed wait for the
     lease (``--lease`` s) and are fired by the survivor (target: max <= lease + interval).
The clock is the real one: the sweepers are separate processes.
"""
from __future__ import annotations

import argparse
import os
import queue
import signal
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import bindparam, func, select, update  # noqa: E402

from app.cases.models import AuditEntry, WorkflowInstance  # noqa: E402
from app.core import Core  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from lifecycle import fresh_database, prepare_due_timers  # noqa: E402


# -- the sweeper processes --------------------------------------------------------------------
def _once(url: str, go, results) -> None:
    """Sweep until nothing is due (one sweep claims batch after batch), report fired, wall, CPU."""
    from app.cases.timers import fire_due
    core = Core(url)
    go.wait()
    t0, c0 = time.time(), time.process_time()
    fired = fire_due(core)
    results.put((fired, t0, time.time(), time.process_time() - c0))
    core.close()


def _loop(url: str, interval: float, until: float, lease: float, go, results) -> None:
    """Like `bihuan scheduler`: a sweep every ``interval`` s until ``until`` (epoch s); its lateness."""
    os.environ["BIHUAN_CLAIM_LEASE_SECONDS"] = str(lease)
    from app.cases.timers import fire_due
    core = Core(url)
    go.wait()
    lateness: list[float] = []
    fired = 0
    while time.time() < until:
        started = time.monotonic()
        fired += fire_due(core, lateness=lateness)
        # Reported after each sweep: a process killed later has still told what it fired.
        results.put((os.getpid(), fired, list(lateness)))
        lateness.clear()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    core.close()


def _spawn(target, args, workers: int):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, go, results)) for _ in range(workers)]
    for p in procs:
        p.start()
    return go, results, procs


# -- 1. throughput ---------------------------------------------------------------------------
def throughput(core: Core, url: str, timers: int, workers: int) -> tuple[int, float, float]:
    prepare_due_timers(core, timers)
    go, results, procs = _spawn(_once, (url,), workers)
    time.sleep(3)  # every process imported and connected before the clock starts
    go.set()
    outcome = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    fired = sum(o[0] for o in outcome)
    wall = max(o[2] for o in outcome) - min(o[1] for o in outcome)
    return fired, wall, sum(o[3] for o in outcome)


def spread_due(core: Core, start: datetime, window: float) -> int:
    """Make the open instances fall due one after the other over ``window`` seconds from ``start``."""
    with core.db.read() as session:
        ids = list(session.scalars(select(WorkflowInstance.id).where(WorkflowInstance.next_timer_at.is_not(None))
                                   .order_by(WorkflowInstance.id)))
    rows = [{"b_id": i, "due": start + timedelta(seconds=window * n / len(ids))} for n, i in enumerate(ids)]
    with core.db.unit_of_work() as session:
        session.connection().execute(update(WorkflowInstance.__table__)
                                     .where(WorkflowInstance.__table__.c.id == bindparam("b_id"))
                                     .values(next_timer_at=bindparam("due")), rows)
    return len(ids)


def lateness(core: Core, url: str, due: int, window: float, interval: float, lease: float,
             kill_one: bool) -> dict:
    prepare_due_timers(core, due)
    with core.db.read() as session:
        audit_before = session.scalar(select(func.max(AuditEntry.id))) or 0
    start = datetime.now(timezone.utc) + timedelta(seconds=8)
    spread_due(core, start, window)
    until = start.timestamp() + window + lease + 3 * interval + 5
    go, results, procs = _spawn(_loop, (url, interval, until, lease), 2)
    go.set()
    killed_at = None
    if kill_one:
        time.sleep(max(0.0, start.timestamp() + window / 2 - time.time()))
        os.kill(procs[0].pid, signal.SIGKILL)
        killed_at = time.time()
    # Read the results while the sweepers run: a child cannot exit while what it put on the queue
    # still fills the pipe (10 000 lateness figures do), so joining first would wait for ever.
    late, fired = [], {}

    def drain(timeout: float) -> None:
        try:
            while True:
                pid, total, batch = results.get(timeout=timeout)
                fired[pid] = total
                late.extend(batch)
        except queue.Empty:
            pass
    while any(p.is_alive() for p in procs):
        drain(0.5)
    for p in procs:
        p.join()
    drain(0.1)
    with core.db.read() as session:
        left = session.scalar(select(WorkflowInstance.id).where(WorkflowInstance.next_timer_at
                                                                <= datetime.now(timezone.utc)).limit(1))
        # Counted in the database, not from the processes' reports: a killed process never reports
        # the sweep it died in, though the chunks it committed in it were fired.
        per_case = session.execute(select(AuditEntry.case_id, func.count())
                                   .where(AuditEntry.id > audit_before, AuditEntry.action == "timer")
                                   .group_by(AuditEntry.case_id)).all()
    late.sort()
    return {"fired": sum(n for _, n in per_case), "cases": len(per_case),
            "twice": sum(1 for _, n in per_case if n > 1), "reported": sum(fired.values()),
            "due": due, "left_due": left is not None,
            "p50": late[len(late) // 2] if late else None, "p95": late[int(len(late) * 0.95)] if late else None,
            "max": late[-1] if late else None, "killed": killed_at is not None}


def _range(values) -> str:
    return f"median {statistics.median(values):7.1f}  range {min(values):7.1f} .. {max(values):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=2_000, help="due timers per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per process count")
    parser.add_argument("--due", type=int, default=10_000, help="instances falling due in the lateness runs")
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which they fall due")
    parser.add_argument("--interval", type=float, default=2.0, help="sweep interval of the lateness runs")
    parser.add_argument("--lease", type=float, default=10.0, help="claim lease of the lateness runs")
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "lateness", "kill"])
    args = parser.parse_args()

    url, drop = fresh_database(os.environ.get("BIHUAN_BENCH_DATABASE_URL"))
    core = Core(url)
    try:
        seed_demo(core)
        print(f"backend: {core.db.engine.dialect.name}")
        if "throughput" not in args.skip:
            rates: dict[int, list[float]] = {1: [], 2: []}
            cpu: dict[int, list[float]] = {1: [], 2: []}
            order = [1, 2, 2, 1] * ((args.rounds + 1) // 2)
            for workers in order[:2 * args.rounds]:
                fired, wall, cpu_s = throughput(core, url, args.timers, workers)
                rates[workers].append(fired / wall)
                cpu[workers].append(cpu_s / fired * 1000)
                print(f"  round: {workers} process(es) fired {fired:,} in {wall:5.1f} s wall, {cpu_s:5.1f} s CPU: "
                      f"{fired / wall:6.1f} timers/s", flush=True)
            for workers in (1, 2):
                print(f"timers/s with {workers} sweeper process(es): {_range(rates[workers])}   "
                      f"CPU s per 1 000 timers: {_range(cpu[workers])}")
            ratios = [b / a for a, b in zip(rates[1], rates[2])]
            print(f"speed-up 2 : 1 (paired rounds): median {statistics.median(ratios):.2f}  "
                  f"range {min(ratios):.2f} .. {max(ratios):.2f}   (target >= 1.6; one process >= 500/s)")
        for kill in (False, True):
            if ("kill" if kill else "lateness") in args.skip:
                continue
            r = lateness(core, url, args.due, args.window, args.interval, args.lease, kill)
            target = args.lease + args.interval if kill else args.interval + 1
            label = "one of 2 killed halfway" if kill else "2 schedulers"
            print(f"lateness, {label}: {r['due']:,} due over {args.window:.0f} s, sweep every {args.interval:.0f} s, "
                  f"lease {args.lease:.0f} s: fired {r['fired']:,} on {r['cases']:,} cases, {r['twice']} twice "
                  f"({r['reported']:,} reported by the processes); p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s, "
                  f"max {r['max']:.2f} s (target <= {target:.0f} s){'; SOME STILL DUE' if r['left_due'] else ''}",
                  flush=True)
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    main()
