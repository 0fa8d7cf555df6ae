"""Two 联动处置 demo cases, driven through the real services and engine like the other demo cases:

- a closed one modelled on the seed's fire hazard: the command center dispatches the 城管执法中队
  as lead with the community office and the 市场监管所 co-handling, records the 专题会议 and the
  处置记录 (people deployed, structures removed, truckloads cleared), every unit feeds back, the
  lead replies, and the party tier's 批示督办 on it is signed off before it closes;
- an open one a leader has instructed, whose two co-handlers have signed for their parts and are
  still working (in 社区建设办's and 市场监管所's worklists), the lead's handling waiting on them.

Everything happens at the current instant (like ``seed_demo_cases``): a dozen engine steps.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..cases.models import Case, ReadyTask
from ..demo_cases import complete_demo_step
from .services import JointService

LEAD = "chengguan"
# co-handling unit -> the demo user who does its part (app/seed.py DEMO_USERS)
CO = {"community_building": "handler2", "market_supervision": "grid_pro"}
CLOSED = ("phone", "投诉", "黄岛路菜市场后巷违建棚屋连片，堆满纸箱杂物，紧挨液化气罐，存在重大火灾隐患。",
          "黄岛路菜市场后巷", "刘建国", "13966667777", "G01")
OPEN = ("grid", "求助", "光明社区农贸市场周边流动摊点占道，私拉电线烧烤，夜间油烟与消防隐患并存。",
        "光明社区农贸市场", None, None, "G03")


def _co_step(core, number: str, bpmn_id: str, unit: str, data: dict) -> None:
    """A co-handler's part is in its unit's pool (one task per unit: not found by step id alone)."""
    with core.db.read() as session:
        task_id = session.execute(select(ReadyTask.id).join(Case, Case.id == ReadyTask.case_id)
                                  .where(Case.number == number, ReadyTask.bpmn_id == bpmn_id,
                                         ReadyTask.department == unit)).scalar_one()
    core.cases.complete_task(task_id, user=CO[unit], data=data, source="demo", detail=False)


def _register(core, case: tuple) -> str:
    channel, kind, text, address, name, phone, grid = case
    return core.cases.register(channel=channel, type=kind, text=text, address=address, reporter_name=name,
                               reporter_phone=phone, grid=grid, user="grid" if channel == "grid" else "operator",
                               source="demo", detail=False)["number"]


def _dispatch(core, number: str) -> None:
    complete_demo_step(core, number, "dispatch", "dispatcher", {
        "decision": "dispatch", "category": "消防安全", "difficulty": "complex", "urgent": True,
        "department": LEAD, "joint": True, "co_handlers": list(CO)})


def seed_joint_cases(core) -> int:
    """The two joint cases (called once, right after ``seed_demo_cases`` created the demo cases)."""
    joint = JointService(core)
    today = utcnow().astimezone(SHANGHAI).date()
    done = lambda number, task, user, **data: complete_demo_step(core, number, task, user, data)  # noqa: E731

    number = _register(core, CLOSED)
    _dispatch(core, number)
    joint.instruct(number, user="party", text="隐患就在居民身边，务必当日拆除清运，举一反三排查同类问题。",
                   deadline=today + timedelta(days=3), source="demo")
    joint.record_meeting(number, user="dispatcher", held_on=today, units=[LEAD, *CO],
                         decisions="当日集中拆除后巷违建棚屋，清运杂物，液化气罐迁出，商户签订消防承诺书。",
                         actions=[{"unit": LEAD, "action": "牵头拆除违建棚屋并清运"},
                                  {"unit": "community_building", "action": "通知住户和商户，组织志愿者协助清理"},
                                  {"unit": "market_supervision", "action": "检查市场商户用气安全，督促液化气罐迁出"}],
                         source="demo")
    done(number, "sign_for", "handler", decision="sign_for")
    for unit, feedback, people in (("community_building", "社区通知住户商户，组织志愿者 8 人协助清理。", 10),
                                   ("market_supervision", "检查商户 14 家，迁出液化气罐 6 个，签订消防承诺书。", 4)):
        _co_step(core, number, "co_sign_for", unit, {})
        _co_step(core, number, "co_handle", unit, {"feedback_text": feedback, "people_deployed": people})
    joint.record_disposal(number, user="dispatcher", people_deployed=32,
                          quantities={"structures_removed": 9, "truckloads_cleared": 12},
                          note="街道、社区、执法中队、城管中心、环卫所、食药所联合处置，一天清除隐患。", source="demo")
    done(number, "handle", "handler", decision="reply",
         reply_text="已联合拆除违建棚屋 9 处，清运杂物 12 车，液化气罐全部迁出，隐患已消除。")
    done(number, "verify", "dispatcher", verify_result="passed", verify_note="现场复查，通道已畅通")
    done(number, "follow_up", "dispatcher", satisfaction="satisfied")
    done(number, "leader_sign_off", "party", sign_off_note="处置迅速有力，同意销号。")

    number = _register(core, OPEN)
    _dispatch(core, number)
    joint.instruct(number, user="leader", text="请城管中队牵头，一周内彻底整治，建立长效管理机制。",
                   deadline=today + timedelta(days=7), source="demo")
    done(number, "sign_for", "handler", decision="sign_for")
    for unit in CO:
        _co_step(core, number, "co_sign_for", unit, {})
    return 2
