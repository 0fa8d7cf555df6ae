"""`bihuan demo history --cases N --months M`: a half-year that looks like the office's own.

How it is made, and why:
* Every case gets a *plan*: its events (受理, 派单, 签收, 退回/改派, 延期, 答复, 超期转督办,
  核实, 回访, 重办, 销号) with the instants they happen, drawn from the office's mix (the four
  channels plus web, about 12 % 投诉 by phone, a few percent replied late and escalated to each
  tier, some 不满意 and redone).
* Cases whose plan is finished before now are **bulk-inserted** (thousands a second) with exactly
  the rows the engine writes for those events: the case columns, one audit row per action (same
  actions, actors, task ids and names, ``changes`` as ``{"data", "columns"}``), the supervision
  items of their escalations, and a finished workflow instance. Their instance holds the state of
  a real finished case of the same outcome (closed, refused, merged), driven through the engine
  first: nothing reads a finished state except the case page's diagram, which then shows that
  outcome's path.
* Cases still open now are **driven through the real engine** under a shifted clock
  (``workflows.clock.shifted_to``), in time order, with the timer sweep run for each simulated
  day, so that they are fully workable: their tasks, timers and escalations are the engine's own.
  ``--open-limit`` caps how many (the 1 M-case benchmark keeps it small; the rest are planned to
  finish before now).
* The rollups are rebuilt at the end (``rollups.rebuild``), as after any bulk load.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..seed import DEPARTMENTS, GRIDS

SOURCE = "history"  # the audit rows' source: how `--if-empty` recognises an existing history
CHANNEL_MIX = {"phone": 40, "grid": 25, "platform": 15, "online": 12, "web": 8}
TYPE_MIX = {"complaint": 30, "help": 25, "inquiry": 20, "suggestion": 15, "report": 10}
DIFFICULTY_MIX = {"simple": 30, "normal": 55, "complex": 15}
HANDLE_DAYS = {("inquiry", "complex"): 5, "inquiry": 2, ("help", "complex"): 15, "help": 10,
               ("suggestion", "complex"): 15, "suggestion": 10, ("complaint", "complex"): 20, "complaint": 15,
               ("report", "complex"): 20, "report": 15}
CATEGORIES = {  # category -> (department, subjects)
    "城市管理": ("chengguan", ["路灯不亮", "占道经营", "违章搭建", "井盖缺失", "共享单车乱停放"]),
    "环境卫生": ("chengguan", ["垃圾清运不及时", "绿化带杂草丛生", "餐馆油烟扰民"]),
    "噪音扰民": ("comprehensive_governance", ["夜间施工噪音", "广场舞音响过大", "装修噪音周末不停"]),
    "物业管理": ("community_building", ["电梯经常停运", "小区门禁损坏", "地下车库渗水"]),
    "市场监管": ("market_supervision", ["超市出售过期食品", "商家拒绝退款", "药店无证经营"]),
    "社会治安": ("police", ["楼道堆放杂物", "电动车楼道充电", "夜间可疑人员徘徊"]),
    "民生服务": ("social_affairs", ["低保申请进度", "老年人助餐点", "居住证办理咨询"]),
    "安全隐患": ("emergency", ["燃气管道老化", "消防通道堵塞", "高空坠物隐患"]),
    "规划建设": ("planning_construction", ["老旧小区改造进度", "加装电梯", "道路破损"]),
}
ROADS = ["和平路", "光明街", "解放路", "人民大道", "建设路", "幸福里", "文化街", "新华路", "长江路", "东风路"]
ESTATES = ["阳光花园", "锦绣家园", "和谐苑", "翠湖小区", "金色港湾", "梧桐里", "紫荆城", "枫林小区"]
DETAILS = ["已持续一周，多次反映未解决", "影响老人和孩子出行", "希望尽快派人处理", "附近居民意见很大",
           "存在安全隐患", "请相关部门核实", "请给予答复"]
TASKS = {"dispatch": "派单/转办", "sign_for": "签收", "reassign": "改派", "handle": "办理",
         "approve_extension": "延期审批", "verify": "核实", "follow_up": "回访",
         "urge": "催办", "interview_or_notice": "约谈/通报", "accountability": "追责", "verify_close": "核实销号"}
SATISFACTION = {"satisfied": 78, "mostly_satisfied": 12, "unsatisfied": 5, "unreachable": 5}
H = timedelta(hours=1)


@dataclass
class Plan:
    """One case's life: its attributes and its events [(at, step, data)]."""
    registered: datetime
    channel: str
    type: str
    difficulty: str
    category: str
    department: str
    text: str
    address: str
    grid: str | None
    phone: str
    events: list = field(default_factory=list)
    outcome: str = "closed"  # closed / refused / merged
    late_tiers: int = 0      # supervision tiers reached by a late reply

    @property
    def ends(self) -> datetime:
        return self.events[-1][0]


def _pick(rng: random.Random, mix: dict):
    return rng.choices(list(mix), list(mix.values()))[0]


class History:
    def __init__(self, core, *, cases: int, months: int, seed: int = 20261130, open_limit: int = 400,
                 now: datetime | None = None, batch: int = 5000):
        self.core, self.count, self.months, self.batch = core, cases, months, batch
        self.rng = random.Random(seed)
        self.now = now or utcnow()
        self.open_limit = open_limit
        self.calendar = core.calendar.current()

    # -- planning ------------------------------------------------------------------------------
    def _wd(self, start: datetime, n: int) -> datetime:
        return self.calendar.working_days_after(start, n)

    def plan(self, registered: datetime) -> Plan:
        rng = self.rng
        channel, kind = _pick(rng, CHANNEL_MIX), _pick(rng, TYPE_MIX)
        if channel == "phone" and rng.random() < 0.3:
            kind = "complaint"
        category = rng.choice(list(CATEGORIES))
        department, subjects = CATEGORIES[category]
        estate = rng.choice(ESTATES)
        p = Plan(registered=registered, channel=channel, type=kind, difficulty=_pick(rng, DIFFICULTY_MIX),
                 category=category, department=department,
                 text=f"{estate}{rng.choice(subjects)}，{rng.choice(DETAILS)}。",
                 address=f"{rng.choice(ROADS)}{rng.randint(1, 300)}号{estate}",
                 grid=rng.choice(list(GRIDS)) if channel == "grid" or rng.random() < 0.3 else None,
                 phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}")
        ev = p.events
        ev.append((registered, "register", {}))
        t = registered + H * rng.uniform(0.2, 4)
        roll = rng.random()
        if roll < 0.02:
            p.outcome = "refused"
            ev.append((t, "dispatch", {"decision": "refuse", "refuse_reason": "不属于受理范围"}))
            return p
        if roll < 0.035:
            p.outcome = "merged"
            ev.append((t, "dispatch", {"decision": "merge_duplicate", "duplicate_of": None}))
            return p
        ev.append((t, "dispatch", {"decision": "dispatch", "category": category, "difficulty": p.difficulty,
                                   "department": department}))
        dispatched = t
        if rng.random() < 0.05:  # returned: not our jurisdiction, the center reassigns
            t += H * rng.uniform(1, 8)
            ev.append((t, "sign_for", {"decision": "return", "return_reason": "不属于本部门职责"}))
            t += H * rng.uniform(0.5, 4)
            p.department = rng.choice([d for d in DEPARTMENTS if d != department])
            ev.append((t, "reassign", {"department": p.department}))
        t += H * rng.uniform(0.5, 20)
        ev.append((t, "sign_for", {"decision": "sign_for"}))
        days = HANDLE_DAYS.get((kind, p.difficulty), HANDLE_DAYS[kind])
        deadline = self._wd(dispatched, days)
        if rng.random() < 0.04:  # asks for more time, granted
            t += (deadline - t) * rng.uniform(0.3, 0.7)
            ev.append((t, "handle", {"decision": "extension_request", "extension_days": 5,
                                     "extension_reason": "需协调多个部门"}))
            t += H * rng.uniform(1, 6)
            ev.append((t, "approve_extension", {"extension_decision": "approve"}))
            deadline = self._wd(deadline, 5)
        if rng.random() < 0.05:  # replied late: the deadline timer opens supervision, tiers climb
            late = rng.choices((1, 2, 3), (70, 22, 8))[0]
            p.late_tiers = late
            at = deadline
            for tier in range(1, late + 1):
                ev.append((at, "timer", {"tier": tier}))
                due = self._wd(at, 3)
                ev.append((at + H * rng.uniform(1, 8), ("urge", "interview_or_notice", "accountability")[tier - 1],
                           {}))
                at = due
            t = at - H * rng.uniform(2, 30)
        else:
            t = t + (deadline - t) * rng.uniform(0.1, 0.97)
        t = max(t, ev[-1][0] + H)
        ev.append((t, "handle", {"decision": "reply", "reply_text": "已现场处置，并与反映人沟通。"}))
        if p.late_tiers:
            ev.append((t + H * rng.uniform(1, 6), "verify_close", {}))
        for attempt in (0, 1):
            t += H * rng.uniform(1, 24)
            ev.append((t, "verify", {"verify_result": "passed", "verify_note": "现场核实属实"}))
            t += H * rng.uniform(2, 48)
            satisfaction = _pick(rng, SATISFACTION) if attempt == 0 else rng.choice(("satisfied", "mostly_satisfied"))
            ev.append((t, "follow_up", {"satisfaction": satisfaction}))
            if satisfaction != "unsatisfied":
                break
            t += H * rng.uniform(24, 96)  # 重办
            ev.append((t, "handle", {"decision": "reply", "reply_text": "重新处置完毕。"}))
        # A follow-up that reached the resident (or could not) closes the case in the same step (销号).
        return p

    def plans(self) -> list[Plan]:
        start = self.now - timedelta(days=30.4 * self.months)
        span = (self.now - start).total_seconds()
        out, open_count = [], 0
        for _ in range(self.count):
            while True:
                registered = start + timedelta(seconds=self.rng.random() * span)
                local = registered.astimezone(SHANGHAI)
                # Fewer calls at night and at weekends.
                weight = (0.15 if local.hour < 7 or local.hour >= 21 else 1.0) * (0.5 if local.weekday() >= 5 else 1.0)
                if self.rng.random() < weight:
                    break
            plan = self.plan(registered)
            if plan.ends > self.now:
                if open_count >= self.open_limit:
                    continue_plan = self.plan(registered - timedelta(days=40))  # finished instead
                    plan = continue_plan if continue_plan.registered > start else plan
                else:
                    open_count += 1
            out.append(plan)
        out.sort(key=lambda p: p.registered)
        return out
