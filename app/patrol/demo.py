"""Three weeks of past patrols for the demo grid workers, driven through the patrol services, the
网格上报 registration and the lifecycle under a shifted clock (workflows.clock.shifted), so the
督查组's overview, the worker's log and the monthly ranking have something to show on first login.

Deterministic: which days are skipped, how many households, which days file a report all follow from
the day's ordinal, not from chance. ``grid2`` misses a few working days on purpose (the red cells).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from workflows.clock import shifted, utcnow
from workflows.workdays import SHANGHAI, CalendarGap

from .models import Patrol
from .services import add_visit, finish_patrol, link_reports, record_spot_check, start_patrol

DAYS_BACK = 28
# worker -> (skip a working day when ordinal % n == 0 (0: never), report texts filed in turn)
WORKERS = {
    "grid": (0, ("和平路12号楼下窨井盖破损，存在行人跌落隐患。", "和平社区5栋楼道电动车充电，飞线拉到一楼。",
                 "和平路与学府路口绿化带垃圾堆积。")),
    "grid2": (4, ("第二网格菜市场门口占道经营，早高峰拥堵。", "第二网格8号楼外墙瓷砖脱落。")),
}


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=SHANGHAI)



def _close(core, number: str, day: date) -> None:
    from ..demo_cases import complete_demo_step
    """The report's loop, the same day and the next: dispatched, signed, replied, verified, followed up."""
    def done(task, user, when, **data):
        with shifted(when):
            complete_demo_step(core, number, task, user, data)
    done("dispatch", "dispatcher", _at(day, 11), decision="dispatch", category="城市管理", difficulty="normal")
    done("sign_for", "handler", _at(day, 14), decision="sign_for")
    done("handle", "handler", _at(day + timedelta(days=1), 10), decision="reply", reply_text="已到现场处置完毕。")
    done("verify", "dispatcher", _at(day + timedelta(days=1), 15), verify_result="passed", verify_note="现场核实已处置")
    done("follow_up", "dispatcher", _at(day + timedelta(days=1), 16), satisfaction="satisfied")


def seed_patrols(core) -> int:
    """Create the past patrols once (nothing happens when any patrol exists); returns how many."""
    with core.db.read() as session:
        if session.scalar(select(func.count()).select_from(Patrol)):
            return 0
    calendar = core.calendar.current()
    today = utcnow().astimezone(SHANGHAI).date()
    made = 0
    for worker, (skip_every, texts) in WORKERS.items():
        filed = 0
        for back in range(DAYS_BACK, 0, -1):
            day = today - timedelta(days=back)
            try:
                if not calendar.is_workday(day):
                    continue
            except CalendarGap:
                continue
            ordinal = day.toordinal()
            if skip_every and ordinal % skip_every == 0:
                continue  # a missed working day: flagged on the 督查组's overview
            with shifted(_at(day, 8, 30)):
                patrol = start_patrol(core, worker)
            for minute in range(3 + ordinal % 5):
                with shifted(_at(day, 9, minute * 7)):
                    add_visit(core, patrol["id"], worker)
            number = None
            if ordinal % 3 == 0:  # every third day the round finds something to report
                hook = link_reports()
                with shifted(_at(day, 10, 15)):
                    number = core.cases.register(channel="grid", type="投诉", text=texts[filed % len(texts)],
                                                 category="城市管理", grid=patrol["grid"], user=worker,
                                                 source="demo", detail=False, attach=hook)["number"]
                filed += 1
            with shifted(_at(day, 11, 30)):
                finish_patrol(core, patrol["id"], worker, {"residents_updated": ordinal % 4,
                                                           "residents_added": ordinal % 2},
                              note="按路线巡查，重点查看消防通道和沿街商铺。")
            if number and back > 2:  # older reports have gone round the loop; the newest wait at 派单
                _close(core, number, day)
            if ordinal % 5 == 0:  # the 督查组 spot-checks about one patrol in five, the next day
                with shifted(_at(day + timedelta(days=1), 16)):
                    record_spot_check(core, patrol["id"], "inspector", "pass" if ordinal % 15 else "fail",
                                      "" if ordinal % 15 else "走访记录与入户登记不符，未见居民签字。")
            made += 1
    return made
