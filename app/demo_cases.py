"""A handful of demo cases in different stages, so that `make run` shows full worklists and boards.

They are driven through the real service layer, exactly as caseworkers would drive them.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from workflows.clock import shifted, utcnow
from workflows.workdays import SHANGHAI

from .cases.models import Case, ReadyTask
from .cases.timers import fire_due

# (channel, type, text, address, reporter, phone, grid, how far the case gets)
DEMO_CASES = (
    ("phone", "投诉", "和平路12号小区门口路灯连续一周不亮，夜间行人摔倒。", "和平路12号", "王芳", "13800138000", "G01", "registered"),
    ("grid", "求助", "光明社区3栋楼道堆放杂物，堵塞消防通道。", "光明社区3栋", None, None, "G03", "dispatched"),
    ("online", "投诉", "网民反映：人民广场夜间广场舞噪音扰民，持续到晚上十点以后。", "人民广场", None, None, None, "signed"),
    ("phone", "咨询", "咨询老旧小区加装电梯的补贴政策和申请流程。", "和平社区", "李强", "13912345678", "G02", "replied"),
    ("platform", "举报", "解放街沿街商铺占道经营，油烟直排。", "解放街45号", "赵敏", "13700001111", "G01", "closed"),
    ("phone", "建议", "建议在幸福路与学府路交叉口增设人行横道信号灯。", "幸福路学府路口", "陈晨", "13655556666", None, "returned"),
)
STEPS = ("registered", "dispatched", "signed", "replied", "closed")
PAST_REACH = 30  # calendar days: enough for the 12 working days the oldest past case goes back



def complete_demo_step(core, number: str, bpmn_id: str, user: str, data: dict):
    """Complete as ``user``, or as the person the task went to directly (a grid's professional,
    app/org/services.py direct_assignee): the demo's handler cannot take a task assigned to them."""
    with core.db.read() as session:
        task_id, assignee = session.execute(select(ReadyTask.id, ReadyTask.assignee)
                                            .join(Case, Case.id == ReadyTask.case_id)
                                            .where(Case.number == number, ReadyTask.bpmn_id == bpmn_id)).one()
    return core.cases.complete_task(task_id, user=assignee or user, data=data, source="demo", detail=False)


def demo_calendar(core) -> list[int]:
    """Years the demo's deadlines may reach (this one and the next) that have no schedule yet are
    switched to the provisional calendar, so that `make run` starts on any date. The demo says so
    in its output, its deadlines show 暂定, and admins see the calendar banner."""
    today = utcnow().astimezone(SHANGHAI).date()
    switched = []
    # The past cases (seed_past_cases) start up to PAST_REACH calendar days ago, maybe last year.
    for year in sorted({(today - timedelta(days=PAST_REACH)).year, today.year, today.year + 1}):
        if core.calendar.current().coverage(year) is None:
            core.calendar.set_provisional(year, True, actor="demo", note="演示数据")
            switched.append(year)
    return switched


def seed_demo_cases(core) -> int:
    """Create the demo cases once (nothing happens when any case exists)."""
    with core.db.read() as session:
        if session.scalar(select(func.count()).select_from(Case)):
            return 0
    done = lambda number, task, user, **data: complete_demo_step(core, number, task, user, data)  # noqa: E731
    for channel, kind, text, address, name, phone, grid, stage in DEMO_CASES:
        number = core.cases.register(channel=channel, type=kind, text=text, address=address, reporter_name=name,
                                     reporter_phone=phone, grid=grid, user="grid" if channel == "grid" else "operator",
                                     source="demo", detail=False)["number"]
        if stage == "registered":
            continue
        category = "城市管理" if stage != "returned" else "物业管理"
        done(number, "dispatch", "dispatcher", decision="dispatch", category=category, difficulty="normal")
        if stage == "returned":
            done(number, "sign_for", "handler2", decision="return", return_reason="路口信号灯属交警部门管理，非本部门职责")
            continue
        if STEPS.index(stage) >= STEPS.index("signed"):
            done(number, "sign_for", "handler", decision="sign_for")
        if STEPS.index(stage) >= STEPS.index("replied"):
            done(number, "handle", "handler", decision="reply", reply_text="已现场处置完毕，并与反映人沟通。")
        if stage == "closed":
            done(number, "verify", "dispatcher", verify_result="passed", verify_note="现场核实属实")
            done(number, "follow_up", "dispatcher", satisfaction="satisfied")
    return len(DEMO_CASES)


# -- cases from the past: supervision on first login ------------------------------------------------
# Each is driven through the real services and engine under a shifted clock (workflows.clock.shifted),
# firing the timers that fall due on the way, so every tier's 督办台 has items when the demo starts.
# Steps: (working days before today, local hour, action, arguments).
PAST_CASES = (
    # handling overdue since long: 催办 at tier 1, 约谈 at tier 2, now at tier 3 waiting for 追责
    ("phone", "咨询", "咨询新建小区配建幼儿园何时开园，多次来电未获答复。", "学府路6号", "孙丽", "13511112222", [
        (12, 10, "dispatch", {"category": "城市管理"}), (12, 11, "sign", "handler"),
        (9, 10, "urge", "center"), (5, 11, "interview", "discipline"), (1, 10, "fire", None)]),
    # never signed for: 签收超时 at tier 1 (催办 done), now at tier 2 against 社区建设办
    ("online", "投诉", "网民反映：光明社区2栋电梯停运十天，老人上下楼困难，物业不予维修。", "光明社区2栋", None, None, [
        (6, 10, "dispatch", {"category": "物业管理"}), (4, 10, "urge", "center")]),
    # handling deadline passed two days ago: tier 1
    ("phone", "咨询", "咨询居住证办理需要哪些材料，线上预约不成功。", "和平社区", "周杰", "13622223333", [
        (4, 10, "dispatch", {"category": "城市管理"}), (4, 11, "sign", "handler")]),
    # returned twice by 城管执法中队: 推诿扯皮 at tier 1 against it, now with 社区建设办
    ("platform", "投诉", "解放街小区内违章搭建阳光房，反映多次无人处理。", "解放街小区", "吴昊", "13733334444", [
        (3, 10, "dispatch", {"category": "城市管理"}), (3, 11, "return", "handler"),
        (3, 14, "reassign", "chengguan"), (2, 10, "return", "handler"),
        (2, 11, "reassign", "community_building"), (2, 14, "sign", "handler2")]),
    # left undispatched: the center's own step is late, against 指挥中心
    ("phone", "求助", "独居老人家中水管破裂，需要协调维修。", "幸福路18号", "郑阿姨", "13844445555", []),
)
PAST_START = {0: 12, 1: 6, 2: 4, 3: 3, 4: 3}  # the working day (before today) each case is registered


def _working_days_back(calendar, today: date, n: int) -> date:
    day = today
    while n:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            n -= 1
    return day


def _local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour)).replace(tzinfo=SHANGHAI)


def seed_past_cases(core) -> int:
    """Register and drive PAST_CASES at their past instants, then fire what is due by now."""
    calendar = core.calendar.current()
    today = utcnow().astimezone(SHANGHAI).date()

    def done(number, task, user, **data):
        return complete_demo_step(core, number, task, user, data)

    actions = {
        "dispatch": lambda n, arg: done(n, "dispatch", "dispatcher", decision="dispatch", difficulty="normal", **arg),
        "sign": lambda n, user: done(n, "sign_for", user, decision="sign_for"),
        "return": lambda n, user: done(n, "sign_for", user, decision="return",
                                       return_reason="经核查不属于本部门职责范围，请重新派单"),
        "reassign": lambda n, dept: done(n, "reassign", "dispatcher", department=dept, note="按职责重新派单"),
        "urge": lambda n, user: done(n, "urge", user, urge_note="请立即办理并于时限内答复"),
        "interview": lambda n, user: done(n, "interview_or_notice", user, measure="interview",
                                          measure_note="约谈承办部门负责人，要求限期办结"),
        "fire": lambda n, arg: None,
    }
    for index, (channel, kind, text, address, name, phone, steps) in enumerate(PAST_CASES):
        start = _local(_working_days_back(calendar, today, PAST_START[index]), 9)
        with shifted(start):
            number = core.cases.register(channel=channel, type=kind, text=text, address=address, reporter_name=name,
                                         reporter_phone=phone, user="operator", source="demo", detail=False)["number"]
        for days_back, hour, action, arg in steps:
            when = _local(_working_days_back(calendar, today, days_back), hour)
            with shifted(when):
                fire_due(core, when)  # what fell due before this step, as the scheduler would have
                actions[action](number, arg)
    fire_due(core, utcnow())
    return len(PAST_CASES)
