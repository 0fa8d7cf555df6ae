"""联动处置 benchmark: whole lifecycles per second through the service layer, a joint disposal with
five co-handlers against a plain lifecycle, measured in the same run on the same database.
Prints figures; asserts nothing.

    .venv/bin/python bench/joint.py [--lifecycles 30] [--co-handlers 5]
    BIHUAN_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/joint.py

A joint lifecycle is: register, 派单 with 联动处置 (lead + N co-handlers), the lead's 签收, each
co-handler's 协办签收 and 协办办理并反馈, the lead's 办理 (答复), 核实, 回访 (销号): 5 + 2N actions,
each its own transaction (restore, engine, projection, audit, commit).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lifecycle import LIFECYCLE, fresh_database  # noqa: E402

from app.auth.services import create_user  # noqa: E402
from app.core import Core  # noqa: E402
from app.seed import seed_demo  # noqa: E402

UNITS = ["community_building", "comprehensive_governance", "police", "emergency", "social_affairs",
         "market_supervision", "planning_construction"]


def plain(core: Core, n: int) -> tuple[float, int]:
    start, actions = time.perf_counter(), 0
    for _ in range(n):
        case = core.cases.register(channel="phone", type="投诉", text="路灯不亮", user="operator", source="bench",
                                   detail=False)
        for bpmn_id, user, data in LIFECYCLE:
            task = next(t for t in case["tasks"] if t["task"] == bpmn_id)
            case = core.cases.complete_task(task["id"], user=user, data=data, source="bench", detail=False)
            actions += 1
        assert case["status"] == "closed"
    return n / (time.perf_counter() - start), actions // n


def joint(core: Core, n: int, units: list[str]) -> tuple[float, int]:
    def do(case, bpmn_id, user, data, unit=None):
        task = next(t for t in case["tasks"] if t["task"] == bpmn_id and (unit is None or t["department"] == unit))
        return core.cases.complete_task(task["id"], user=user, data=data, source="bench", detail=False)

    start, actions = time.perf_counter(), 0
    for _ in range(n):
        case = core.cases.register(channel="phone", type="投诉", text="消防通道堆放杂物", user="operator",
                                   source="bench", detail=False)
        case = do(case, "dispatch", "dispatcher", {"decision": "dispatch", "category": "消防安全",
                                                   "difficulty": "normal", "department": "chengguan",
                                                   "joint": True, "co_handlers": units})
        case = do(case, "sign_for", "handler", {"decision": "sign_for"})
        for unit in units:
            case = do(case, "co_sign_for", f"bench_{unit}", {}, unit)
            case = do(case, "co_handle", f"bench_{unit}", {"feedback_text": "已完成本单位部分", "people_deployed": 5},
                      unit)
        case = do(case, "handle", "handler", {"decision": "reply", "reply_text": "联合处置完毕"})
        case = do(case, "verify", "dispatcher", {"verify_result": "passed"})
        case = do(case, "follow_up", "dispatcher", {"satisfaction": "satisfied"})
        actions += 5 + 2 * len(units)
        assert case["status"] == "closed", case["status"]
    return n / (time.perf_counter() - start), actions // n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifecycles", type=int, default=30)
    parser.add_argument("--co-handlers", type=int, default=5)
    args = parser.parse_args()
    units = UNITS[:args.co_handlers]
    url, drop = fresh_database(os.environ.get("BIHUAN_BENCH_DATABASE_URL"))
    core = Core(url)
    try:
        seed_demo(core)
        with core.db.unit_of_work() as session:
            for unit in units:
                create_user(session, f"bench_{unit}", "bench-password-1", ["handler"], f"{unit} bench", unit)
        plain(core, 3), joint(core, 2, units)  # warm-up: bundle cache, parsed DMN tables
        rows = []
        for name, run in (("plain lifecycle", lambda: plain(core, args.lifecycles)),
                          (f"joint, {len(units)} co-handlers", lambda: joint(core, args.lifecycles, units)),
                          ("plain lifecycle (again)", lambda: plain(core, args.lifecycles))):
            rate, actions = run()
            rows.append((name, rate, actions))
        backend = core.db.engine.dialect.name
        print(f"联动处置 lifecycles through the service layer ({backend}, {args.lifecycles} each):")
        for name, rate, actions in rows:
            print(f"  {name:<28} {rate:7.2f} lifecycles/s  ({actions} actions each, {rate * actions:6.1f} actions/s)")
        plain_rate = (rows[0][1] + rows[2][1]) / 2
        print(f"  joint / plain: {rows[1][1] / plain_rate:.2f} x lifecycles/s, "
              f"{rows[1][1] * rows[1][2] / (plain_rate * rows[0][2]):.2f} x actions/s")
    finally:
        core.close()
        drop()


if __name__ == "__main__":
    main()
