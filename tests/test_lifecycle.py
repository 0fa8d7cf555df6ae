"""Every path of the case lifecycle diagram, through the real service layer and engine."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import event

from app.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import at, audit_rows


def close_after_reply(driver, number, satisfaction="satisfied"):
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    # A satisfied follow-up is the 销号 itself: no separate empty step (issue 15).
    return driver.do(number, "follow_up", "dispatcher", satisfaction=satisfaction)


def test_normal_closure_fills_every_kpi_column(driver):
    number = driver.register(reporter_phone="13812345678", reporter_name="王五", address="和平路1号")
    case = driver.show(number)
    assert case["status"] == "registered" and case["number"].startswith("HD-")
    assert driver.ready(number) == ["dispatch"]

    case = driver.dispatch(number)
    assert case["status"] == "dispatched"
    assert case["department"] == "chengguan"  # routing.dmn: 城市管理 -> 城管执法中队
    assert case["deadline"] and case["dispatched_at"]
    assert driver.task(number, "sign_for")["department"] == "chengguan"

    case = driver.sign(number)
    assert case["status"] == "handling" and case["signed_at"]
    case = driver.reply(number)
    assert case["status"] == "replied" and case["replied_at"]
    case = close_after_reply(driver, number)

    assert case["status"] == "closed"
    for column in ("registered_at", "dispatched_at", "signed_at", "replied_at", "verified_at", "followed_up_at",
                   "closed_at"):
        assert case[column], column
    assert case["satisfaction"] == "satisfied"
    assert case["tasks"] == [] and case["supervision"] == []
    assert case["reporter_phone"] == "138****5678" and case["reporter_name"] == "王*"
    actions = [(h["action"], h["task"]) for h in case["history"]]
    assert actions == [("register", None), ("complete", "dispatch"), ("complete", "sign_for"),
                       ("complete", "handle"), ("complete", "verify"), ("complete", "follow_up")]


def test_refuse_at_intake(driver):
    number = driver.register(type="咨询")
    case = driver.do(number, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于本街道受理范围")
    assert case["status"] == "refused"
    assert case["refuse_reason"] == "不属于本街道受理范围"
    assert case["closed_at"] and case["tasks"] == []


def test_refuse_needs_a_reason_and_changes_nothing(driver, core):
    number = driver.register()
    with pytest.raises(Invalid) as err:
        driver.do(number, "dispatch", "dispatcher", decision="refuse")
    assert "refuse_reason" in str(err.value)
    assert ("refuse_reason", "'refuse_reason' is a required property") in err.value.fields
    assert driver.show(number)["status"] == "registered"
    assert driver.ready(number) == ["dispatch"]
    assert len(audit_rows(core, number)) == 1


def test_merge_duplicate_into_an_existing_case(driver):
    first = driver.register()
    second = driver.register()
    case = driver.do(second, "dispatch", "dispatcher", decision="merge_duplicate", duplicate_of=first)
    assert case["status"] == "merged" and case["merged_into"] == first


def test_merge_into_unknown_case_is_refused(driver):
    number = driver.register()
    with pytest.raises(Invalid, match="HD-20000101-0001"):
        driver.do(number, "dispatch", "dispatcher", decision="merge_duplicate", duplicate_of="HD-20000101-0001")
    assert driver.show(number)["status"] == "registered"


def test_return_and_redispatch(driver):
    number = driver.register(category="物业管理")
    driver.dispatch(number, category="城市管理")
    case = driver.do(number, "sign_for", "handler", decision="return", return_reason="属物业管理范畴")
    assert case["status"] == "returned" and case["return_count"] == 1
    assert driver.ready(number) == ["reassign"]
    case = driver.do(number, "reassign", "dispatcher", department="community_building")
    assert case["department"] == "community_building" and case["status"] == "dispatched"
    assert driver.task(number, "sign_for")["department"] == "community_building"
    # the first department can no longer act; the new one can
    with pytest.raises(Forbidden):
        driver.sign(number, user="handler")
    driver.sign(number, user="handler2")
    assert case["supervision"] == []


def test_reassign_to_unknown_department_is_refused(driver):
    number = driver.register()
    driver.dispatch(number)
    driver.do(number, "sign_for", "handler", decision="return", return_reason="非本部门")
    with pytest.raises(Invalid, match="unknown department"):
        driver.do(number, "reassign", "dispatcher", department="no_such_office")
    assert driver.ready(number) == ["reassign"]


def test_extension_approved_moves_the_deadline(driver):
    number = driver.register()
    before = driver.dispatch(number)["deadline"]
    driver.sign(number)
    driver.do(number, "handle", "handler", decision="extension_request", extension_days=5, extension_reason="需协调")
    assert driver.ready(number) == ["approve_extension"]
    case = driver.do(number, "approve_extension", "dispatcher", extension_decision="approve")
    assert case["deadline"] > before
    assert len(case["extensions"]) == 1 and case["extensions"][0]["approved"] is True
    assert case["extensions"][0]["old_deadline"] == before
    assert driver.ready(number) == ["handle"]
    assert driver.task(number, "handle")["due"] == case["deadline"]


def test_extension_denied_keeps_the_deadline(driver):
    number = driver.register()
    before = driver.dispatch(number)["deadline"]
    driver.sign(number)
    driver.do(number, "handle", "handler", decision="extension_request", extension_days=5, extension_reason="需协调")
    case = driver.do(number, "approve_extension", "dispatcher", extension_decision="reject", extension_note="理由不足")
    assert case["deadline"] == before
    assert case["extensions"][0]["approved"] is False
    assert driver.ready(number) == ["handle"]


def test_verification_sent_back(driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    case = driver.do(number, "verify", "dispatcher", verify_result="failed", verify_note="现场未整改")
    assert case["status"] == "handling"
    assert driver.ready(number) == ["handle"]
    driver.reply(number, text="已整改到位")
    case = close_after_reply(driver, number)
    assert case["status"] == "closed"


def test_unsatisfied_then_redo_then_closure(driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    case = driver.do(number, "follow_up", "dispatcher", satisfaction="unsatisfied", follow_up_note="仍有噪音")
    assert case["redo_count"] == 1 and case["status"] == "handling"
    assert driver.ready(number) == ["handle"]
    driver.reply(number, text="再次处理")
    case = close_after_reply(driver, number, satisfaction="mostly_satisfied")
    assert case["status"] == "closed" and case["satisfaction"] == "mostly_satisfied"
    assert case["supervision"] == []


def test_unreachable_follow_up_still_closes(driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    case = close_after_reply(driver, number, satisfaction="unreachable")
    assert case["status"] == "closed" and case["satisfaction"] == "unreachable"


def test_urgent_case_is_due_the_same_working_day(driver):
    with time_machine.travel(datetime(2026, 11, 4, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        number = driver.register(urgent=True)
        case = driver.dispatch(number)
    assert case["urgent"] is True
    # deadlines.dmn: 紧急 -> 0 working days, i.e. the end of the day of dispatch (Shanghai)
    assert case["deadline"] == "2026-11-04T15:59:59+00:00"


def test_user_without_the_role_is_refused(driver):
    number = driver.register()
    with pytest.raises(Forbidden, match="dispatcher"):
        driver.do(number, "dispatch", "handler", decision="dispatch", category="城市管理", difficulty="normal")
    assert driver.show(number)["status"] == "registered"


def test_unknown_user_task_and_stale_task(driver, core):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    with pytest.raises(NotFound, match="unknown user"):
        core.cases.complete_task(task_id, user="nobody", data={})
    with pytest.raises(NotFound, match="not found"):
        core.cases.complete_task("00000000-0000-0000-0000-000000000000", user="dispatcher", data={})
    driver.dispatch(number)
    with pytest.raises(Conflict, match="already completed by 'dispatcher'"):
        core.cases.complete_task(task_id, user="dispatcher", data={"decision": "dispatch"})


def test_form_rejects_unknown_fields_and_wrong_types(driver):
    number = driver.register()
    with pytest.raises(Invalid) as err:
        driver.do(number, "dispatch", "dispatcher", decision="dispatch", category="城市管理", difficulty="hard",
                  status="closed")
    fields = dict(err.value.fields)
    assert "difficulty" in fields and "status" in fields
    assert driver.show(number)["status"] == "registered"


@pytest.mark.parametrize("kwargs, message", [
    ({"channel": "fax"}, "unknown channel"),
    ({"type": "闲聊"}, "unknown type"),
    ({"text": "   "}, "text is required"),
    ({"user": "ghost"}, "unknown user"),
    ({"user": "handler"}, "may not register"),
    ({"grid": "G99"}, "unknown grid"),
    ({"reporter_phone": "call me"}, "invalid reporter phone"),
])
def test_bad_intake_is_refused_and_stores_nothing(driver, core, kwargs, message):
    from sqlalchemy import func, select

    from app.cases.models import Case
    with pytest.raises((Invalid, NotFound), match=message):
        driver.register(**kwargs)
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_case_numbers_are_sequential_per_day(driver):
    a, b = driver.register(), driver.register()
    assert a[:12] == b[:12]
    assert int(b[-4:]) == int(a[-4:]) + 1


def test_the_brief_answer_of_each_action_is_what_a_fresh_read_shows(driver, core, clock):
    """``detail=False`` (the web, the API) answers with the ready tasks from the rows the action
    added, not from a SELECT of what it has just written. Each answer must equal what a
    new read shows: a task arriving, one whose row stayed (sign_for beside the 催办 task: read
    again) and tasks with due times (shown in UTC, as read)."""
    def check(result):
        shown = core.cases.show(result["number"])
        assert result["status"] == shown["status"]
        assert result["tasks"] == shown["tasks"] and result["tasks"]
        assert all(t["due"] is None or t["due"].endswith("+00:00") for t in result["tasks"])

    read_back = []  # SELECTs of a case's ready tasks while an action writes

    @event.listens_for(core.db.engine, "before_cursor_execute")
    def note(conn, cursor, statement, *args):
        if "FROM ready_tasks" in statement and "ready_tasks.case_id =" in statement:
            read_back.append(statement)

    answered_from_memory = []

    def do(number, bpmn_id, user, **data):
        tasks = core.cases.show(number)["tasks"]
        task = next(t for t in tasks if t["task"] == bpmn_id)
        read_back.clear()
        result = core.cases.complete_task(task["id"], user=user, data=data, detail=False)
        # Read again exactly when a task stayed ready through the action (its row is not in hand).
        stayed = {t["id"] for t in tasks} & {t["id"] for t in result["tasks"]}
        assert bool(read_back) == bool(stayed), (bpmn_id, read_back)
        if not stayed:
            answered_from_memory.append(bpmn_id)
        check(result)
        return result

    first = core.cases.register(channel="phone", type="投诉", text="路灯不亮", user="operator", detail=False)
    assert not read_back
    check(first)
    number = first["number"]
    do(number, "dispatch", "dispatcher", decision="dispatch", category="城市管理", difficulty="normal")
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1  # 催办 opens beside sign_for
    do(number, "urge", "center", urge_note="请尽快签收", department_response="今日签收")  # sign_for stays
    do(number, "sign_for", "handler", decision="sign_for")
    do(number, "handle", "handler", decision="reply", reply_text="已修复")
    do(number, "verify", "dispatcher", verify_result="passed")
    closed = do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    # closed; the tier-1 item still waits for the center's 核实销号
    assert closed["status"] == "closed" and [t["task"] for t in closed["tasks"]] == ["verify_close"]
    assert answered_from_memory[:3] == ["dispatch", "sign_for", "handle"]
