"""批示督办: a leader marks an open case; a tier-3 item opens at once, counted apart on the 督办台,
and the case closes only after that leader signs off (a BPMN user task in the leader's lane)."""
from __future__ import annotations

import pytest

from app.errors import Conflict, Forbidden, Invalid
from app.joint.services import JointService, instruction_counts
from app.supervision.board import board_rows, open_counts
from tests.conftest import at


def close_loop(driver, number):
    driver.sign(number)
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    return driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")


def test_instruction_opens_a_tier_three_item_counted_apart_and_closing_waits_for_the_leader(driver, clock):
    svc = JointService(driver.core)
    number = driver.register()
    driver.dispatch(number)
    other = driver.register()
    driver.dispatch(other)
    result = svc.instruct(number, user="leader", text="请城管中队三日内彻底清理", deadline="2026-11-06")
    assert result["tier"] == 3
    case = driver.show(number)
    item = [i for i in case["supervision"] if i["reason"] == "leader_instruction"]
    assert len(item) == 1 and item[0]["tier"] == 3 and item[0]["status"] == "open"
    assert item[0]["due"] == "2026-11-06T15:59:59+00:00"
    with driver.core.db.read() as session:
        assert instruction_counts(session) == {"total": 1, "closed": 0}
        # apart from the escalations: not on the tier-3 list nor in its tab count
        assert open_counts(session)[3] == 0
        assert board_rows(session, 3, at(2026, 11, 2, 12, 0)) == []

    case = close_loop(driver, number)
    assert case["status"] == "verified"
    assert driver.ready(number) == ["leader_sign_off"]
    sign_off = driver.task(number, "leader_sign_off")
    assert sign_off["role"] == "leader" and sign_off["assignee"] == "leader"
    # nobody but the instructing leader signs off
    with pytest.raises((Forbidden, Conflict)):
        driver.do(number, "leader_sign_off", "party", sign_off_note="同意销号")
    with pytest.raises(Invalid):
        driver.do(number, "leader_sign_off", "leader")
    assert driver.show(number)["status"] == "verified"
    from app.notifications.models import Notification
    from sqlalchemy import select
    with driver.core.db.read() as session:
        from app.auth.models import User
        told = set(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                   .where(Notification.task_id == sign_off["id"])))
    assert told == {"leader"}
    case = driver.do(number, "leader_sign_off", "leader", sign_off_note="同意销号")
    assert case["status"] == "closed"
    with driver.core.db.read() as session:
        assert instruction_counts(session) == {"total": 1, "closed": 1}
    assert [i["status"] for i in case["supervision"] if i["reason"] == "leader_instruction"] == ["closed"]

    # a case nobody instructed closes at 回访 as before
    assert close_loop(driver, other)["status"] == "closed"


def test_a_party_supervisor_may_instruct_and_signs_off_itself(driver):
    number = driver.register()
    driver.dispatch(number)
    JointService(driver.core).instruct(number, user="party", text="党工委督办", deadline="2026-11-20")
    close_loop(driver, number)
    assert driver.do(number, "leader_sign_off", "party", sign_off_note="已办结")["status"] == "closed"


@pytest.mark.parametrize("user, text, deadline, error", [
    ("viewer", "请办理", "2026-11-06", Forbidden),
    ("handler", "请办理", "2026-11-06", Forbidden),
    ("leader", "", "2026-11-06", Invalid),
    ("leader", "请办理", "2026-11-01", Invalid),      # in the past
    ("leader", "请办理", "11/06/2026", Invalid),
])
def test_bad_instructions_are_refused_and_change_nothing(driver, user, text, deadline, error):
    number = driver.register()
    with pytest.raises(error):
        JointService(driver.core).instruct(number, user=user, text=text, deadline=deadline)
    assert driver.show(number)["supervision"] == []


def test_a_closed_case_and_a_second_instruction_are_refused(driver):
    svc = JointService(driver.core)
    number = driver.register()
    driver.do(number, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
    with pytest.raises(Invalid):
        svc.instruct(number, user="leader", text="请办理", deadline="2026-11-06")
    number = driver.register()
    svc.instruct(number, user="leader", text="请办理", deadline="2026-11-06")
    with pytest.raises(Invalid):
        svc.instruct(number, user="party", text="再次批示", deadline="2026-11-06")
