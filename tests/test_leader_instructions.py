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


def test_a_party_instruction_signs_off_from_the_party_worklist_and_no_leader_takes_it(driver, login):
    """The sign-off goes to the person who instructed, whatever their role: the party tier's
    supervisor finds it in 我的待办, the leader (who holds the task's lane role) neither sees it
    nor completes, claims or takes it; the instructing person cannot give it back."""
    from app.tasks import worklist
    from app.auth.services import find_user
    number = driver.register()
    driver.dispatch(number)
    JointService(driver.core).instruct(number, user="party", text="党工委督办：三日内办结", deadline="2026-11-20")
    close_loop(driver, number)
    sign_off = driver.task(number, "leader_sign_off")
    assert sign_off["assignee"] == "party"

    with driver.core.db.read() as session:
        for username, expected in (("party", [sign_off["id"]]), ("leader", [])):
            person = find_user(session, username)
            rows, _more = worklist.page(session, person, worklist.Filters())
            assert [r.id for r in rows if r.number == number] == expected, username
            counts = worklist.counts(session, person, worklist.Filters())
            assert counts["mine"] == len(expected), username
    assert [t["id"] for t in driver.core.cases.list_tasks(case=number, user="party")] == [sign_off["id"]]
    assert driver.core.cases.list_tasks(case=number, user="leader") == []

    party, leader = login("party"), login("leader")
    html = party.get("/tasks").get_data(as_text=True)
    assert "领导签批销号" in html and f'{sign_off["id"]}/unclaim' not in html
    assert "领导签批销号" not in leader.get("/tasks").get_data(as_text=True)
    assert leader.get(f"/tasks/{sign_off['id']}").status_code == 403
    assert leader.post(f"/tasks/{sign_off['id']}", data={"sign_off_note": "同意销号"}).status_code == 403
    assert leader.post(f"/tasks/{sign_off['id']}/claim").status_code == 403
    assert party.post(f"/tasks/{sign_off['id']}/unclaim").status_code == 409
    with pytest.raises(Forbidden):
        driver.do(number, "leader_sign_off", "leader", sign_off_note="同意销号")
    assert driver.task(number, "leader_sign_off")["assignee"] == "party"
    case_page = party.get(f"/cases/{number}").get_data(as_text=True)
    assert f'/tasks/{sign_off["id"]}' in case_page

    response = party.post(f"/tasks/{sign_off['id']}", data={"sign_off_note": "已办结，同意销号"})
    assert response.status_code in (302, 303)
    assert driver.show(number)["status"] == "closed"
    with driver.core.db.read() as session:
        assert instruction_counts(session) == {"total": 1, "closed": 1}


@pytest.fixture
def leaving(core):
    """Deactivate demo users (set_user_active, as /admin/users does); active again after the test."""
    from app.admin.services import set_user_active
    from app.auth.models import User
    from sqlalchemy import select
    left = []

    def deactivate(username):
        with core.db.read() as session:
            user_id = session.scalar(select(User.id).where(User.username == username))
        left.append(user_id)
        return set_user_active(core, "admin", user_id, False)
    yield deactivate
    for user_id in left:
        set_user_active(core, "admin", user_id, True)


def _told(core, task_id) -> set[str]:
    from sqlalchemy import select
    from app.auth.models import User
    from app.notifications.models import Notification
    with core.db.read() as session:
        return set(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                   .where(Notification.task_id == task_id, Notification.kind == "task_arrived")))


def _worklist_ids(core, username, number, tab="all"):
    from app.auth.services import find_user
    from app.tasks import worklist
    with core.db.read() as session:
        rows, _more = worklist.page(session, find_user(session, username), worklist.Filters(tab=tab))
    return [r.id for r in rows if r.number == number]


def test_a_deactivated_leaders_sign_off_is_released_to_everyone_who_may_instruct(driver, core, login, leaving):
    """签批销号转交: the leader leaves while the sign-off waits for them. It is not stuck behind an
    inactive account: released (audited, told) to the leaders and the party tier's supervisors, who
    see it in 我的待办 and take it; others still may not."""
    from app.auth.services import create_user
    from tests.conftest import audit_rows
    with core.db.unit_of_work() as session:
        create_user(session, "leader2", "bihuan123", ["viewer", "leader"], "副主任")
    number = driver.register()
    driver.dispatch(number)
    JointService(core).instruct(number, user="leader", text="请城管中队三日内彻底清理", deadline="2026-11-20")
    close_loop(driver, number)
    sign_off = driver.task(number, "leader_sign_off")
    assert sign_off["assignee"] == "leader" and _told(core, sign_off["id"]) == {"leader"}

    assert leaving("leader")["released"] == 1
    assert driver.task(number, "leader_sign_off")["assignee"] is None
    [row] = audit_rows(core, number, "sign_off_released")
    assert row.actor == "admin" and row.task_id == sign_off["id"]
    assert row.changes["assignee"] == ["leader", None] and row.changes["reason"] == "user_deactivated"
    assert _told(core, sign_off["id"]) == {"leader", "party", "leader2"}  # told on arrival, then on release
    # everyone who may instruct sees it; nobody else does
    for username in ("party", "leader2"):
        assert _worklist_ids(core, username, number) == [sign_off["id"]], username
        assert [t["id"] for t in core.cases.list_tasks(case=number, user=username)] == [sign_off["id"]]
    for username in ("center", "viewer", "dispatcher"):
        assert _worklist_ids(core, username, number) == [], username
    with pytest.raises(Forbidden):
        driver.do(number, "leader_sign_off", "center", sign_off_note="同意销号")
    center = login("center")
    assert center.post(f"/tasks/{sign_off['id']}/claim").status_code == 403
    history = login("party").get(f"/cases/{number}").get_data(as_text=True)
    assert "签批销号转交" in history

    # the party's supervisor takes it (claim): theirs from then on, in 我的待办, not another leader's
    party = login("party")
    page = party.get("/tasks").get_data(as_text=True)
    assert f'{sign_off["id"]}/claim' in page
    assert party.post(f"/tasks/{sign_off['id']}/claim").status_code in (302, 303)
    assert _worklist_ids(core, "party", number, tab="mine") == [sign_off["id"]]
    assert _worklist_ids(core, "leader2", number) == []
    with pytest.raises((Forbidden, Conflict)):
        driver.do(number, "leader_sign_off", "leader2", sign_off_note="同意销号")
    response = party.post(f"/tasks/{sign_off['id']}", data={"sign_off_note": "领导已调离，党工委签批销号"})
    assert response.status_code in (302, 303)
    assert driver.show(number)["status"] == "closed"
    with core.db.read() as session:
        assert instruction_counts(session) == {"total": 1, "closed": 1}


def test_a_sign_off_arriving_after_its_leader_left_is_released_at_once(driver, core, leaving):
    """The instructing leader was deactivated before the case got to its sign-off: the task arrives
    released (nobody's), and is told to everyone who may instruct, who can sign it off directly."""
    number = driver.register()
    driver.dispatch(number)
    JointService(core).instruct(number, user="leader", text="请三日内办结", deadline="2026-11-20")
    assert leaving("leader")["released"] == 0
    close_loop(driver, number)
    sign_off = driver.task(number, "leader_sign_off")
    assert sign_off["assignee"] is None
    from tests.conftest import audit_rows
    [row] = audit_rows(core, number, "sign_off_released")
    assert row.task_id == sign_off["id"] and row.changes == {"assignee": ["leader", None], "reason": "user_inactive"}
    assert _told(core, sign_off["id"]) == {"party"}
    assert _worklist_ids(core, "party", number) == [sign_off["id"]]
    assert driver.do(number, "leader_sign_off", "party", sign_off_note="同意销号")["status"] == "closed"
