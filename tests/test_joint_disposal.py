"""联动处置 through the real engine under time travel: co-handlers in parallel, each with its own
deadline and escalation, the lead's reply waiting for their feedback."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Forbidden, Invalid
from app.joint.models import CoHandler
from tests.conftest import at, audit_rows

CO = ["community_building", "police", "emergency"]


def joint_dispatch(driver, number, co=CO, lead="chengguan", **extra):
    return driver.dispatch(number, department=lead, joint=True, co_handlers=list(co), **extra)


def co_task(driver, number, bpmn_id, unit):
    matches = [t for t in driver.tasks(number) if t["task"] == bpmn_id and t["department"] == unit]
    assert matches, f"{bpmn_id} of {unit} not ready: {[(t['task'], t['department']) for t in driver.tasks(number)]}"
    return matches[0]


def co_do(driver, number, bpmn_id, unit, user, **data):
    return driver.core.cases.complete_task(co_task(driver, number, bpmn_id, unit)["id"], user=user, data=data)


@pytest.fixture
def units(core):
    """One handler per co-handling unit."""
    from app.auth.services import create_user
    with core.db.unit_of_work() as session:
        for unit in CO:
            create_user(session, f"h_{unit}", "pw-12345678", ["handler"], f"{unit}承办员", unit)
    return {unit: f"h_{unit}" for unit in CO}


def parts(core, number):
    from app.cases.models import Case
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return {r.unit: r for r in session.scalars(select(CoHandler).where(CoHandler.case_id == case_id))}


def test_three_co_handlers_one_late_escalates_alone_then_the_lead_replies_and_the_case_closes(driver, clock, units):
    number = driver.register(type="咨询")  # 2 working days: due 2026-11-04
    joint_dispatch(driver, number)
    tasks = driver.tasks(number)
    assert sorted((t["task"], t["department"]) for t in tasks) == sorted(
        [("sign_for", "chengguan")] + [("co_sign_for", u) for u in CO])
    # each co-handler's task is in its own unit's worklist only
    for unit, user in units.items():
        mine = driver.core.cases.list_tasks(user=user)
        assert [(t["task"], t["department"]) for t in mine] == [("co_sign_for", unit)]
        assert co_task(driver, number, "co_sign_for", unit)["due"] == "2026-11-04T15:59:59+00:00"
    assert [t["task"] for t in driver.core.cases.list_tasks(user="handler")] == ["sign_for"]
    # and a co-handler may not do another unit's part
    with pytest.raises(Forbidden):
        co_do(driver, number, "co_sign_for", "police", units["emergency"])

    driver.sign(number)
    for unit in CO:
        co_do(driver, number, "co_sign_for", unit, units[unit])
    co_do(driver, number, "co_handle", "community_building", units["community_building"],
          feedback_text="社区已组织清理", people_deployed=6)
    co_do(driver, number, "co_handle", "police", units["police"], feedback_text="派出所维持秩序", people_deployed=4)

    # the emergency office misses its deadline: only its part escalates, against it
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    case = driver.show(number)
    delay = [(i["tier"], i["reason"], i["department"]) for i in case["supervision"]]
    assert (1, "delay", "emergency") in delay
    assert all(d in ("emergency", "chengguan") for _t, _r, d in delay)
    assert not [d for _t, _r, d in delay if d in ("community_building", "police")]

    # the lead replies: it waits for the emergency office's feedback
    driver.reply(number)
    assert "co_feedback_wait" in driver.ready(number)
    assert driver.show(number)["status"] == "handling"
    # the late co-handler answers: its item goes to 核实销号, the lead's reply goes through
    co_do(driver, number, "co_handle", "emergency", units["emergency"], feedback_text="应急办迟到反馈")
    case = driver.show(number)
    assert case["status"] == "replied"
    emergency = [i for i in case["supervision"] if i["department"] == "emergency"]
    assert emergency and all(i["status"] == "replied" for i in emergency)
    assert {u: r.status for u, r in parts(driver.core, number).items()} == {u: "fed_back" for u in CO}
    late = parts(driver.core, number)
    assert late["emergency"].fed_back_at > late["emergency"].deadline
    assert late["police"].fed_back_at < late["police"].deadline and late["police"].people_deployed == 4

    # the rest of the loop closes the case
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    for task in [t for t in driver.tasks(number) if t["task"] == "verify_close"]:
        driver.core.cases.complete_task(task["id"], user="center", data={"verify_close_note": "已核实"})
    case = driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert case["status"] == "closed"
    timeline_units = {r.changes.get("unit") for r in audit_rows(driver.core, number, "complete")}
    assert set(CO) <= timeline_units


def test_the_lead_replies_with_a_co_handler_missing_and_a_stated_reason(driver, clock, units):
    number = driver.register()
    joint_dispatch(driver, number, co=CO[:2])
    driver.sign(number)
    co_do(driver, number, "co_sign_for", "community_building", units["community_building"])
    co_do(driver, number, "co_handle", "community_building", units["community_building"], feedback_text="已处理")
    driver.reply(number)
    assert "co_feedback_wait" in driver.ready(number)
    wait = driver.task(number, "co_feedback_wait")
    assert wait["department"] == "chengguan"
    with pytest.raises(Invalid) as refused:
        driver.do(number, "co_feedback_wait", "handler")
    assert refused.value.fields[0][0] == "missing_reason"
    case = driver.do(number, "co_feedback_wait", "handler", missing_reason="派出所警力调往防汛，无法到场")
    assert case["status"] == "replied"
    assert "co_sign_for" not in driver.ready(number)
    rows = parts(driver.core, number)
    assert rows["police"].status == "missing" and rows["police"].missing_reason.startswith("派出所警力")
    assert rows["community_building"].status == "fed_back" and rows["community_building"].missing_reason is None


def test_all_feedback_in_before_the_lead_replies_goes_straight_to_the_reply(driver, units):
    number = driver.register()
    joint_dispatch(driver, number, co=CO[:1])
    co_do(driver, number, "co_sign_for", "community_building", units["community_building"])
    co_do(driver, number, "co_handle", "community_building", units["community_building"], feedback_text="已处理")
    driver.sign(number)
    case = driver.reply(number)
    assert case["status"] == "replied" and "co_feedback_wait" not in driver.ready(number)


@pytest.mark.parametrize("extra, field", [
    ({"joint": True, "co_handlers": ["police"]}, "department"),                     # no lead
    ({"joint": True, "department": "chengguan", "co_handlers": ["police", "chengguan"]}, "co_handlers"),  # lead repeated
    ({"joint": True, "department": "chengguan"}, "co_handlers"),                    # no co-handler
    ({"joint": True, "department": "chengguan", "co_handlers": ["nowhere"]}, "co_handlers"),
    ({"joint": True, "department": "chengguan", "co_handlers": ["police", "police"]}, "co_handlers"),
    ({"co_handlers": ["police"]}, "co_handlers"),                                    # co-handlers without joint
    ({"joint": True, "department": "chengguan", "co_handlers": ["command_center"]}, "co_handlers"),
])
def test_bad_joint_dispatch_is_refused_at_the_field_and_changes_nothing(driver, extra, field):
    number = driver.register()
    with pytest.raises(Invalid) as refused:
        driver.do(number, "dispatch", "dispatcher", decision="dispatch", category="城市管理", difficulty="normal",
                  **extra)
    assert refused.value.fields[0][0] == field
    assert driver.ready(number) == ["dispatch"]
    assert driver.show(number)["status"] == "registered"


def test_kpis_count_each_co_handlers_timeliness(driver, clock, units):
    from app.reports.kpis import compute_kpis
    from datetime import date
    number = driver.register(type="咨询")  # co-handlers due 2026-11-04
    joint_dispatch(driver, number)
    co_do(driver, number, "co_sign_for", "community_building", units["community_building"])
    co_do(driver, number, "co_handle", "community_building", units["community_building"], feedback_text="按期")
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    co_do(driver, number, "co_sign_for", "police", units["police"])
    co_do(driver, number, "co_handle", "police", units["police"], feedback_text="迟了")
    with driver.core.db.read() as session:
        rows = {r["unit"]: r for r in compute_kpis(session, start=date(2026, 11, 1), end=date(2026, 11, 30))["co_handling"]}
    assert {u: (r["parts"], r["on_time"], r["late"], r["open"], r["on_time_rate"]) for u, r in rows.items()} == {
        "community_building": (1, 1, 0, 0, 1.0), "police": (1, 0, 1, 0, 0.0), "emergency": (1, 0, 1, 0, 0.0)}


def test_a_late_co_handlers_feedback_answers_its_own_escalation_only(driver, clock, units):
    number = driver.register(type="咨询")
    joint_dispatch(driver, number, co=CO[:2])
    driver.sign(number)
    co_do(driver, number, "co_sign_for", "police", units["police"])
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    before = {(i["department"], i["reason"]): i["status"] for i in driver.show(number)["supervision"]}
    assert before == {("chengguan", "delay"): "open", ("police", "delay"): "open",
                      ("community_building", "delay"): "open"}
    co_do(driver, number, "co_handle", "police", units["police"], feedback_text="迟到的反馈")
    after = {(i["department"], i["reason"]): i["status"] for i in driver.show(number)["supervision"]}
    # the police's item goes to 核实销号; the lead's and the other co-handler's stay open
    assert after == {("chengguan", "delay"): "open", ("police", "delay"): "replied",
                     ("community_building", "delay"): "open"}
    assert "handle" in driver.ready(number)
