"""Supervision blames the right department, once: a regression test for each defect seen in use,
and the command center's own step deadlines, all through the real engine under time travel."""
from __future__ import annotations

import pytest

from app.supervision.board import board_rows
from tests.conftest import at


def items(case, reason=None):
    return [(i["tier"], i["reason"], i["department"], i["status"]) for i in case["supervision"]
            if reason is None or i["reason"] == reason]


def rows(core, tier, now):
    with core.db.read() as session:
        return board_rows(session, tier, now, calendar=core.calendar.current())


def return_case(driver, number, user, **extra):
    return driver.do(number, "sign_for", user, decision="return", return_reason="非本部门职责", **extra)


# -- the department is fixed when the item opens --------------------------------------------------
def test_buck_passing_item_keeps_the_returning_department_up_to_accountability(driver, clock):
    """社区建设办 returns the case disputing jurisdiction; it is reassigned to 城管执法中队, which signs
    for it. The item climbs to 追责 against 社区建设办, never against the case's current department."""
    number = driver.register()
    driver.dispatch(number, category="物业管理")  # routing.dmn -> community_building
    case = return_case(driver, number, "handler2", return_type="jurisdiction_dispute")
    assert items(case) == [(1, "buck_passing", "community_building", "open")]
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    case = driver.sign(number)
    assert case["department"] == "chengguan"
    driver.do(number, "urge", "center", urge_note="请说明退回理由")

    clock.move_to(at(2026, 11, 6, 9, 0))  # tier 1 due at the end of 11-05
    assert driver.fire() == 1
    driver.do(number, "interview_or_notice", "discipline", measure="interview", measure_note="约谈社区建设办负责人")
    clock.move_to(at(2026, 11, 12, 9, 0))
    assert driver.fire() >= 1
    case = driver.do(number, "accountability", "party", accountability_decision="accountability",
                     responsible_person="赵主任", accountability_note="推诿扯皮，予以问责")
    assert items(case, "buck_passing") == [(1, "buck_passing", "community_building", "escalated"),
                                           (2, "buck_passing", "community_building", "escalated"),
                                           (3, "buck_passing", "community_building", "open")]
    record = [i for i in case["supervision"] if i["tier"] == 3][0]
    assert record["responsible_person"] == "赵主任" and record["department"] == "community_building"
    assert case["department"] == "chengguan"
    board = rows(driver.core, 3, at(2026, 11, 12, 9, 0))
    assert [(r.number, r.department_name) for r in board if r.reason == "buck_passing"] == [(number, "社区建设办")]


# -- one cause on one case is one item --------------------------------------------------------------
def test_a_case_returned_three_times_is_one_item_and_another_department_a_new_one(driver, clock):
    number = driver.register()
    driver.dispatch(number)
    return_case(driver, number, "handler")                      # 城管's first return: reassign only
    assert driver.show(number)["supervision"] == []
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    return_case(driver, number, "handler")                      # its second: buck passing
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    case = return_case(driver, number, "handler")               # its third: the same item
    assert case["return_count"] == 3
    assert items(case) == [(1, "buck_passing", "chengguan", "open")]
    assert [r.number for r in rows(driver.core, 1, at(2026, 11, 2, 11, 0))] == [number]

    driver.do(number, "reassign", "dispatcher", department="community_building")
    case = return_case(driver, number, "handler2", return_type="jurisdiction_dispute")
    assert sorted(items(case)) == [(1, "buck_passing", "chengguan", "open"),  # (opened in the same frozen instant)
                                   (1, "buck_passing", "community_building", "open")]
    board = rows(driver.core, 1, at(2026, 11, 2, 11, 0))
    assert sorted(r.department_name for r in board) == ["城管执法中队", "社区建设办"]


def test_a_departments_first_return_is_not_buck_passing(driver, clock):
    """Two departments each return the case once (the old rule counted the case's returns: 2)."""
    number = driver.register()
    driver.dispatch(number)
    return_case(driver, number, "handler")
    driver.do(number, "reassign", "dispatcher", department="community_building")
    case = return_case(driver, number, "handler2")
    assert case["return_count"] == 2 and case["supervision"] == []
    assert driver.ready(number) == ["reassign"]


def test_a_later_delay_is_a_new_item_told_apart(driver, clock):
    number = driver.register(type="咨询")  # 2 working days: due at the end of 11-04
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    assert driver.fire() == 1
    driver.reply(number)
    driver.do(number, "verify_close", "center", verify_close_note="已答复")
    case = driver.do(number, "verify", "dispatcher", verify_result="failed", verify_note="现场未整改")
    driver.fire()  # handling is again past its deadline: a second lapse
    case = driver.show(number)
    delays = [i for i in case["supervision"] if i["reason"] == "delay"]
    assert sorted((i["cause_no"], i["status"]) for i in delays) == [(1, "closed"), (2, "open")]
    board = rows(driver.core, 1, at(2026, 11, 5, 9, 0))
    assert [(r.number, r.cause_no) for r in board if r.reason == "delay"] == [(number, 2)]


# -- 超期天数 ------------------------------------------------------------------------------------
def test_days_overdue_are_working_days_since_the_lapsed_deadline_at_every_tier(driver, clock):
    """Dispatched Monday 11-02, never signed: the sign-for deadline is the end of Tuesday 11-03."""
    number = driver.register()
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1
    item = driver.show(number)["supervision"][0]
    assert item["missed_deadline"] == "2026-11-03T15:59:59+00:00" and item["step"] == "sign_for"

    clock.move_to(at(2026, 11, 10, 10, 0))  # 11-04, 05, 06, 09, 10: the fifth working day, 7 days on
    assert driver.fire() == 1  # tier 1 was due at the end of 11-09
    now = at(2026, 11, 10, 10, 0)
    [tier2] = rows(driver.core, 2, now)
    assert (tier2.days_overdue, tier2.days_open) == (5, 0)  # counting does not restart at tier 2
    assert tier2.department_name == "城管执法中队"

    clock.move_to(at(2026, 11, 16, 10, 0))
    assert driver.fire() == 1
    [tier3] = rows(driver.core, 3, at(2026, 11, 16, 10, 0))
    assert tier3.days_overdue == 9 and tier3.due_at is not None  # 追责 has a deadline too, no "—"


# -- what was done on the item, and what the board waits for -------------------------------------
def test_board_rows_show_the_last_action_and_what_comes_next(driver, clock, login):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    [row] = rows(driver.core, 1, at(2026, 11, 5, 9, 0))
    assert row.last_action is None and row.waiting_for == "action"
    body = login("center").get("/supervision").get_data(as_text=True)
    assert "尚未督办" in body and "待本级催办" in body

    driver.do(number, "urge", "center", urge_note="请于三日内办结")
    [row] = rows(driver.core, 1, at(2026, 11, 5, 10, 0))
    assert row.last_action["name"] == "催办" and row.last_action["by_name"] == "社会治理中心督办员"
    assert row.waiting_for == "reply"
    body = login("center").get("/supervision").get_data(as_text=True)
    table = body.split('class="card board"')[1].split("</section>")[0]
    assert "社会治理中心督办员" in table and "待部门答复" in table and "前未答复升级" in table

    clock.move_to(at(2026, 11, 11, 9, 0))
    driver.fire()
    [row] = rows(driver.core, 2, at(2026, 11, 11, 9, 0))  # tier 2 shows what tier 1 did
    assert row.last_action["name"] == "催办" and row.waiting_for == "action"


# -- the command center's own steps ----------------------------------------------------------------
def test_an_undispatched_case_escalates_against_the_center(driver, clock, login):
    number = driver.register()
    assert driver.task(number, "dispatch")["due"] == "2026-11-03T15:59:59+00:00"  # one working day
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "center_overdue", "command_center", "open")]
    assert case["supervision"][0]["step"] == "dispatch"
    [row] = rows(driver.core, 1, at(2026, 11, 4, 9, 0))
    assert row.department_name == "指挥中心" and row.days_overdue == 1
    body = login("dispatcher").get("/tasks").get_data(as_text=True)
    assert "2026-11-03 23:59" in body and "派单时限" in body  # the worklist shows the step's deadline

    # dispatching answers the center's item (核实销号 next); the department's steps are untouched
    case = driver.dispatch(number)
    assert items(case) == [(1, "center_overdue", "command_center", "replied")]
    assert sorted(driver.ready(number)) == ["sign_for", "verify_close"]


def test_an_urgent_case_is_dispatched_within_two_hours(driver, clock):
    number = driver.register(urgent=True)
    assert driver.task(number, "dispatch")["due"] == "2026-11-02T04:00:00+00:00"  # 10:00 + 2 h, Shanghai
    clock.move_to(at(2026, 11, 2, 12, 1))
    assert driver.fire() == 1
    assert items(driver.show(number)) == [(1, "center_overdue", "command_center", "open")]


def test_reassign_verify_and_follow_up_have_deadlines(driver, clock):
    number = driver.register()
    driver.dispatch(number)
    return_case(driver, number, "handler")
    assert driver.task(number, "reassign")["due"] == "2026-11-03T15:59:59+00:00"
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    driver.sign(number)
    driver.reply(number)  # Monday 11-02
    assert driver.task(number, "verify")["due"] == "2026-11-03T15:59:59+00:00"
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    # 回访 within three working days of the reply
    assert driver.task(number, "follow_up")["due"] == "2026-11-05T15:59:59+00:00"
    clock.move_to(at(2026, 11, 6, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "center_overdue", "command_center", "open")]
    assert case["supervision"][0]["step"] == "follow_up"
    case = driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert items(case) == [(1, "center_overdue", "command_center", "replied")]


@pytest.mark.parametrize("returns", [1, 2])
def test_the_buck_passing_rule_is_the_offices_table(core, returns):
    """The rule lives in bpmn/rules/buck_passing.dmn, evaluated as the process evaluates it."""
    from app.processes.services import ensure_shipped_version
    from workflows.rules import evaluate
    with core.db.unit_of_work() as session:
        bundle = core.bundles.get(session, ensure_shipped_version(session).id)
    result = evaluate(bundle, "buck_passing", {"department_returns": returns, "jurisdiction_dispute": False},
                      core.engine.script_engine)
    assert result == {"buck_passing": returns >= 2}
    assert evaluate(bundle, "buck_passing", {"department_returns": 1, "jurisdiction_dispute": True},
                    core.engine.script_engine) == {"buck_passing": True}
