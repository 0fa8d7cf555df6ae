"""Weekly 专报 generation time and month scoring at scale. Prints figures; asserts nothing.

    .venv/bin/python bench/weekly_report.py [--cases 200000]
    .venv/bin/python bench/weekly_report.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Bulk inserts ``--cases`` cases spread over the 20 weeks before Monday 2026-11-30 (status mix as the
office sees it: most closed, a few percent overdue, some supervised), with the audit rows scoring reads
(register, dispatch with its deadline, the reply) and ~4 % supervision items, then times on a fixed clock:
the figures of week 2026-W48 (``weekly_figures``), rendering the .docx/.xlsx/.html, and the live
ranking of November (``scoring.score``). Target (issue 9): the weekly report in under 10 s at 1 M cases.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import time_machine  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app.cases.models import AuditEntry, Case  # noqa: E402
from app.core import Core  # noqa: E402
from app.reports.periods import parse_month, parse_week  # noqa: E402
from app.reports.scoring import score  # noqa: E402
from app.reports.weekly import key_items, weekly_figures  # noqa: E402
from app.reports.weekly_store import render_all  # noqa: E402
from app.seed import DEPARTMENTS, seed_demo  # noqa: E402
from app.supervision.models import SupervisionItem  # noqa: E402
from lifecycle import fresh_database  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=8)))
WEEKS = 20
BATCH = 5000
CHANNELS = (("phone", 0.12), ("grid", 0.40), ("online", 0.13), ("platform", 0.25), ("web", 0.10))
CATEGORIES = ("城市管理", "环境卫生", "物业管理", "市场监管", "社会治安", "住房保障", "交通出行")


def _pick(rng, mix):
    r, acc = rng.random(), 0.0
    for value, share in mix:
        acc += share
        if r < acc:
            return value
    return mix[-1][0]


def generate(core: Core, count: int) -> None:
    rng = random.Random(20261130)
    departments = list(DEPARTMENTS)
    start = NOW - timedelta(weeks=WEEKS)
    span = (NOW - start).total_seconds()
    cases, audits, items = [], [], []
    next_id = 1

    def flush():
        with core.db.unit_of_work() as session:
            session.execute(insert(Case.__table__), cases)
            session.execute(insert(AuditEntry.__table__), audits)
            if items:
                session.execute(insert(SupervisionItem.__table__), items)
        cases.clear(), audits.clear(), items.clear()

    for i in range(count):
        registered = start + timedelta(seconds=rng.random() * span)
        dispatched = registered + timedelta(hours=rng.uniform(0.2, 6))
        deadline = dispatched + timedelta(days=rng.choice((3, 7, 14, 21)))
        dept = rng.choice(departments)
        late = rng.random() < 0.05
        replied = deadline + timedelta(days=rng.uniform(0.5, 6)) if late else dispatched + timedelta(
            days=rng.uniform(0.2, (deadline - dispatched).days))
        replied = replied if replied < NOW else None
        closed = replied + timedelta(days=rng.uniform(0.5, 3)) if replied and rng.random() < 0.95 else None
        closed = closed if closed and closed < NOW else None
        status = "closed" if closed else "replied" if replied else "handling"
        satisfaction = (rng.choice(("satisfied",) * 8 + ("mostly_satisfied", "unsatisfied")) if closed else None)
        cases.append({"id": next_id, "number": f"HD-B{next_id:09d}", "channel": _pick(rng, CHANNELS),
                      "type": rng.choice(("inquiry", "help", "complaint", "report", "suggestion")),
                      "category": rng.choice(CATEGORIES), "difficulty": rng.choice(("simple", "normal", "normal", "complex")),
                      "urgent": False, "text": "批量生成的诉求", "address": f"和平路{rng.randint(1, 4000)}号",
                      "grid": None, "reporter_name": None, "reporter_phone": f"139{rng.randint(0, 99999999):08d}",
                      "department": dept, "status": status, "refuse_reason": None, "merged_into": None,
                      "registered_at": registered, "registered_by": "bench", "dispatched_at": dispatched,
                      "signed_at": dispatched, "replied_at": replied, "verified_at": closed, "followed_up_at": closed,
                      "closed_at": closed, "deadline": deadline, "extensions": [], "satisfaction": satisfaction,
                      "return_count": 0, "redo_count": 0, "supervision_tier": 0, "has_incident": False})
        audits.append({"at": registered, "actor": "bench", "case_id": next_id, "action": "register", "changes": {},
                       "source": "bench"})
        audits.append({"at": dispatched, "actor": "dispatcher", "case_id": next_id, "action": "complete",
                       "task_bpmn_id": "dispatch", "changes": {"columns": {"department": [None, dept],
                                                                           "deadline": [None, deadline.isoformat()]}},
                       "source": "bench"})
        if replied:
            audits.append({"at": replied, "actor": "handler", "case_id": next_id, "action": "complete",
                           "task_bpmn_id": "handle", "changes": {"data": {"decision": "reply"}, "columns": {
                               "replied_at": [None, replied.isoformat()]}}, "source": "bench"})
        if late and deadline < NOW:
            items.append({"case_id": next_id, "run_key": f"r{next_id}", "tier": rng.choice((1, 1, 1, 2, 3)),
                          "reason": "delay", "department": dept, "status": "closed" if closed else "open",
                          "opened_at": deadline + timedelta(hours=1), "records": []})
        next_id += 1
        if len(cases) >= BATCH:
            flush()
    if cases:
        flush()
    with core.db.unit_of_work() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))


def timed(label: str, fn):
    t0 = time.perf_counter()
    result = fn()
    print(f"  {label:<42} {time.perf_counter() - t0:8.2f} s")
    return result


def bench(url: str | None, count: int) -> None:
    url, drop = fresh_database(url)
    core = Core(url)
    try:
        with time_machine.travel(NOW, tick=False):
            seed_demo(core)
            print(f"{core.db.engine.dialect.name}: {count} cases")
            timed("bulk insert", lambda: generate(core, count))
            week = parse_week("2026-W48")
            with core.db.read() as session:
                # Steady state: last week's report is stored, so its key items are read, not recomputed.
                previous, _repeats = key_items(session, parse_week("2026-W47"), core.calendar.current())
                figures = timed("weekly figures (2026-W48)", lambda: weekly_figures(core, session, week, previous))
            figures["generated_at"] = NOW.isoformat()
            timed("render .docx + .xlsx + .html", lambda: render_all(figures))
            with core.db.read() as session:
                ranking = timed("score November (live)", lambda: score(core, session, parse_month("2026-11")))
            events = sum(len(r["events"]) for r in ranking["rows"])
            print(f"  key items {len(figures['key_items'])}, scoring events {events}")
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    bench(args.postgres, args.cases)
