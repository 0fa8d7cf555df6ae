"""A handful of demo cases in different stages, so that `make run` shows full worklists and boards.

They are driven through the real service layer, exactly as caseworkers would drive them.
"""
from __future__ import annotations

from sqlalchemy import func, select

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from .cases.models import Case, ReadyTask

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


def _task(core, number: str, bpmn_id: str) -> str:
    with core.db.read() as session:
        return session.scalars(select(ReadyTask.id).join(Case, Case.id == ReadyTask.case_id)
                               .where(Case.number == number, ReadyTask.bpmn_id == bpmn_id)).one()


def demo_calendar(core) -> list[int]:
    """Years the demo's deadlines may reach (this one and the next) that have no schedule yet are
    switched to the provisional calendar, so that `make run` starts on any date. The demo says so
    in its output, its deadlines show 暂定, and admins see the calendar banner."""
    today = utcnow().astimezone(SHANGHAI).date()
    switched = []
    for year in (today.year, today.year + 1):
        if core.calendar.current().coverage(year) is None:
            core.calendar.set_provisional(year, True, actor="demo", note="演示数据")
            switched.append(year)
    return switched


def seed_demo_cases(core) -> int:
    """Create the demo cases once (nothing happens when any case exists)."""
    with core.db.read() as session:
        if session.scalar(select(func.count()).select_from(Case)):
            return 0
    done = lambda number, task, user, **data: core.cases.complete_task(  # noqa: E731
        _task(core, number, task), user=user, data=data, source="demo", detail=False)
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
