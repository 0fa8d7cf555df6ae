"""What-if replay (分析影响) over N cases and one year: µs per case and peak memory. Asserts nothing.

    .venv/bin/python bench/whatif.py [--cases 100000]                      # SQLite in a temp dir
    .venv/bin/python bench/whatif.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/DB
    .venv/bin/python bench/whatif.py --keep /var/tmp/whatif-100k.db        # build once, re-measure later

The replay reads only the cases table, so the cases are written cheaply and directly (no audit rows,
no engine states): one year of registrations, types, categories and departments as the routing
table gives them, dispatch within hours, signing within a day, replies spread around the deadline
the deployed rules give (about 8 % late), 3 % still open. That is exactly what the replay reads.

The replay runs in a child process (``bihuan process what-if --dir``, the draft being bpmn/ with
投诉 15 → 10 working days and 物业管理 routed to 城管), so the peak RSS printed is the replay's own.
The 1 M projection is linear: the replay streams keyset batches and keeps only counters and at
most 500 changed cases, so memory does not grow with N.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIHUAN = str(Path(sys.executable).with_name("bihuan"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import insert, select  # noqa: E402

from app.calendar.services import load_calendar  # noqa: E402
from app.cases.models import Case  # noqa: E402
from app.core import Core  # noqa: E402
from app.processes.services import ensure_shipped_version  # noqa: E402
from lifecycle import fresh_database  # noqa: E402

TYPES = [("complaint", 0.45), ("inquiry", 0.2), ("help", 0.15), ("report", 0.1), ("suggestion", 0.1)]
DAYS = {"complaint": 15, "inquiry": 2, "help": 10, "report": 15, "suggestion": 10}
CATEGORIES = [("城市管理", "chengguan"), ("环境卫生", "chengguan"), ("物业管理", "community_building"),
              ("邻里纠纷", "comprehensive_governance"), ("治安", "police"), ("劳动保障", "social_affairs"),
              ("市场监管", "market_supervision"), ("房屋建设", "planning_construction")]
START = datetime(2025, 11, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)


def generate(core: Core, n: int, seed: int = 16) -> float:
    rnd = random.Random(seed)
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
        calendar = load_calendar(session)
    cache: dict = {}

    def after(instant, days):
        key = ((instant + timedelta(hours=8)).date(), days)
        if key not in cache:
            cache[key] = calendar.working_days_after(key[0], days)
        return cache[key]

    types = [t for t, w in TYPES for _ in range(int(w * 100))]
    started = time.perf_counter()
    step = (NOW - START - timedelta(days=20)) / n
    rows = []
    for i in range(n):
        registered = START + step * i
        kind = rnd.choice(types)
        category, department = rnd.choice(CATEGORIES)
        dispatched = registered + timedelta(minutes=rnd.randint(5, 240))
        deadline = after(dispatched, DAYS[kind])
        signed = dispatched + timedelta(hours=rnd.randint(1, 30))
        open_ = rnd.random() < 0.03
        late = rnd.random() < 0.08
        replied = None if open_ else (deadline + timedelta(days=rnd.randint(1, 12)) if late
                                      else deadline - timedelta(days=rnd.randint(0, DAYS[kind] + 2)))
        if replied is not None and replied < signed:
            replied = signed + timedelta(hours=2)
        rows.append({"number": f"BW-{i:08d}", "channel": "phone", "type": kind, "category": category,
                     "difficulty": "normal", "urgent": False, "text": "bench", "department": department,
                     "status": "handling" if open_ else "closed", "registered_at": registered,
                     "registered_by": "bench", "dispatched_at": dispatched, "signed_at": signed,
                     "replied_at": replied, "deadline": deadline, "extensions": [],
                     "closed_at": None if open_ else replied + timedelta(days=2), "return_count": 0,
                     "redo_count": 0, "supervision_tier": 0, "has_incident": False, "repeat_calls": 0})
        if len(rows) == 10000:
            with core.db.unit_of_work() as session:
                session.execute(insert(Case), rows)
            rows = []
    if rows:
        with core.db.unit_of_work() as session:
            session.execute(insert(Case), rows)
    return time.perf_counter() - started


def draft_dir() -> str:
    target = Path(tempfile.mkdtemp(prefix="bihuan-whatif-")) / "bpmn"
    shutil.copytree(ROOT / "bpmn", target)
    for name, marker, old, new in (("rules/deadlines.dmn", "deadlines_rule_9_days", ">15<", ">10<"),
                                   ("rules/routing.dmn", "routing_rule_4_department", "community_building",
                                    "chengguan")):
        path = target / name
        text = path.read_text()
        i = text.index(marker)
        path.write_text(text[:i] + text[i:].replace(old, new, 1))
    return str(target)


def measure(url: str, label: str, n: int) -> None:
    env = {**os.environ, "BIHUAN_DATABASE_URL": url, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": NOW.isoformat()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run([BIHUAN, "process", "what-if", "--from", "2025-11-01", "--to", "2026-10-31",
                           "--dir", draft_dir(), "--json"], capture_output=True, text=True, env=env, timeout=7200)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr)
        raise SystemExit(1)
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    result = json.loads(proc.stdout)
    per_case = result["seconds"] / max(result["processed"], 1) * 1e6
    print(f"{label}: {result['processed']} cases, replay {result['seconds']:.1f} s ({per_case:.1f} µs/case), "
          f"process wall {wall:.1f} s, peak RSS {peak:.0f} MB, changed {result['changed_count']}, "
          f"on-time {result['deployed']['total']['on_time_reply_rate']} -> "
          f"{result['draft']['total']['on_time_reply_rate']}")
    projected = per_case * 1_000_000 / 1e6
    print(f"{label}: projected 1 M cases: {projected:.0f} s replay (memory flat: batches of 5000, ≤ 500 changed kept)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres")
    parser.add_argument("--keep", help="SQLite file to build once and reuse")
    args = parser.parse_args()
    if args.keep:
        url, drop = f"sqlite:///{args.keep}", (lambda: None)
        if not Path(args.keep).exists():
            from app.migrate import upgrade
            upgrade(url)
    else:
        url, drop = fresh_database(args.postgres)
    core = Core(url)
    try:
        with core.db.read() as session:
            have = session.scalar(select(Case.id).limit(1)) is not None
        if not have:
            seconds = generate(core, args.cases)
            print(f"generated {args.cases} cases in {seconds:.1f} s")
            if url.startswith("postgresql"):
                with core.db.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE cases")
        measure(url, "PostgreSQL" if args.postgres else "SQLite", args.cases)
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    main()
