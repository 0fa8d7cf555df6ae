"""The three-tier supervision escalation, driven by real timers under time travel."""
from __future__ import annotations

import pytest
import time_machine

from app.errors import Invalid
from tests.conftest import at, audit_rows


def items(case):
    return [(i["tier"], i["reason"], i["status"]) for i in case["supervision"]]


def test_sign_for_overdue_opens_tier_one(driver, clock):
    number = driver.register()
    driver.dispatch(number)
    assert driver.task(number, "sign_for")["due"] == "2026-11-03T15:59:59+00:00"  # end of next working day
    clock.move_to(at(2026, 11, 3, 20, 0))
    assert driver.fire() == 0
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "sign_overdue", "open")]
    assert case["supervision_tier"] == 1
    assert case["supervision"][0]["due"] == "2026-11-09T15:59:59+00:00"  # 3 working days after 11-04
    assert driver.ready(number) == ["sign_for", "urge"]
    urge = driver.task(number, "urge")
    assert urge["role"] == "supervisor_center" and urge["supervision_tier"] == 1
    assert [r.action for r in audit_rows(driver.core, number, "timer")] == ["timer"]


def test_handling_overdue_climbs_all_three_tiers_to_accountability(driver, clock):
    number = driver.register(type="咨询")  # 2 working days
    driver.dispatch(number)
    driver.sign(number)
    assert driver.task(number, "handle")["due"] == "2026-11-04T15:59:59+00:00"

    clock.move_to(at(2026, 11, 5, 9, 0))
    assert driver.fire() == 1
    assert items(driver.show(number)) == [(1, "delay", "open")]
    driver.do(number, "urge", "center", urge_note="请于三日内办结", department_response="正在协调")

    clock.move_to(at(2026, 11, 11, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "delay", "escalated"), (2, "delay", "open")]
    assert case["supervision_tier"] == 2
    assert driver.task(number, "interview_or_notice")["role"] == "supervisor_discipline"
    driver.do(number, "interview_or_notice", "discipline", measure="interview", measure_note="约谈城管中队负责人")

    clock.move_to(at(2026, 11, 17, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "delay", "escalated"), (2, "delay", "escalated"), (3, "delay", "open")]
    assert case["supervision"][1]["measure"] == "interview"
    case = driver.do(number, "accountability", "party", accountability_decision="accountability",
                     responsible_person="张队长", accountability_note="拖延办理，予以问责")
    tier3 = case["supervision"][2]
    assert tier3["accountability_decision"] == "accountability" and tier3["responsible_person"] == "张队长"
    assert tier3["records"][0]["by"] == "party"

    # the department finally replies: its open item goes to 核实销号
    case = driver.reply(number)
    assert items(case)[2] == (3, "delay", "replied")
    assert sorted(driver.ready(number)) == ["verify", "verify_close"]
    case = driver.do(number, "verify_close", "center", verify_close_note="已核实办结")
    # 核实销号 closes the whole escalation; the escalated tiers keep when they were escalated
    assert items(case) == [(1, "delay", "closed"), (2, "delay", "closed"), (3, "delay", "closed")]
    assert [bool(i["escalated_at"]) for i in case["supervision"]] == [True, True, False]
    assert case["supervision_tier"] == 0
    assert driver.ready(number) == ["verify"]


def test_reply_at_tier_one_stops_the_escalation(driver, clock):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    driver.reply(number)
    case = driver.show(number)
    assert items(case) == [(1, "delay", "replied")]
    # the tier-1 deadline passes: the answered item escalates no more (the center's own 核实, due a
    # working day after the reply, is late by then and opens an item against the center)
    clock.move_to(at(2026, 11, 20, 9, 0))
    assert driver.fire() == 1
    case = driver.show(number)
    assert items(case) == [(1, "delay", "replied"), (1, "center_overdue", "open")]
    case = driver.do(number, "verify_close", "center", verify_close_note="已答复")
    assert items(case)[0] == (1, "delay", "closed")
    case = driver.do(number, "verify", "dispatcher", verify_result="passed")
    # doing the late 核实 answers the center's own item; 回访 (3 working days from the reply) is late
    # from the start and opens another; the 满意 回访 closes the case and answers that one too, and
    # the center closes both items (核实销号)
    center = lambda c: {i["step"]: i["status"] for i in c["supervision"] if i["reason"] == "center_overdue"}  # noqa: E731
    assert center(case) == {"verify": "replied", "follow_up": "open"}
    case = driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert center(case) == {"verify": "replied", "follow_up": "replied"}
    while "verify_close" in driver.ready(number):
        case = driver.do(number, "verify_close", "center", verify_close_note="本环节已完成")
    assert center(case) == {"verify": "closed", "follow_up": "closed"}
    assert case["status"] == "closed" and case["tasks"] == []


def test_returned_twice_by_one_department_is_buck_passing(driver, clock):
    """buck_passing.dmn: a department's second return of the same case (two departments' first
    returns are not; see tests/test_supervision_causes.py)."""
    number = driver.register()
    driver.dispatch(number)
    driver.do(number, "sign_for", "handler", decision="return", return_reason="不归我们管")
    driver.do(number, "reassign", "dispatcher", department="chengguan")
    case = driver.do(number, "sign_for", "handler", decision="return", return_reason="还是不归我们管")
    assert case["return_count"] == 2
    assert items(case) == [(1, "buck_passing", "open")]
    assert case["supervision"][0]["department"] == "chengguan"
    assert driver.ready(number) == ["reassign", "urge"]


def test_unsatisfied_again_after_redo_escalates(driver, clock):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    for _ in range(2):
        driver.reply(number)
        driver.do(number, "verify", "dispatcher", verify_result="passed")
        case = driver.do(number, "follow_up", "dispatcher", satisfaction="unsatisfied")
    assert case["redo_count"] == 2
    assert items(case) == [(1, "unsatisfied_after_redo", "open")]
    assert "handle" in driver.ready(number)


def test_five_working_days_across_national_day(driver):
    with time_machine.travel(at(2026, 9, 28, 10, 0), tick=False) as clock:
        number = driver.register(type="咨询")
        case = driver.dispatch(number, difficulty="complex")  # deadlines.dmn: 咨询（复杂） = 5
        driver.sign(number)
        # 09-29, 09-30, (10-01..10-07 holiday), 10-08, 10-09, 10-10 (Saturday, 调休 working day)
        assert case["deadline"] == "2026-10-10T15:59:59+00:00"
        clock.move_to(at(2026, 10, 7, 12, 0))
        assert driver.fire() == 0
        clock.move_to(at(2026, 10, 10, 18, 0))
        assert driver.fire() == 0
        clock.move_to(at(2026, 10, 11, 0, 1))
        assert driver.fire() == 1
        assert items(driver.show(number)) == [(1, "delay", "open")]


def test_a_deadline_into_an_unknown_year_waits_for_its_official_schedule(driver, core):
    """2100 is imported (nothing but weekends in December); 2101 is unknown. Friday 2100-12-17 + 15
    working days: 12-20..24 (5), 12-27..31 (10), then 2101. Once 2101 is imported with 元旦 observed
    on Monday 01-03 (01-01/02 are a weekend): 01-04..01-07 (14), Monday 01-10 (15)."""
    from app.calendar.importing import import_schedule
    import_schedule(core, b"2100-01-01,holiday,New Year", actor="test")
    with time_machine.travel(at(2100, 12, 17, 10, 0), tick=False):
        number = driver.register(type="投诉")
        with pytest.raises(Invalid, match="2101"):
            driver.dispatch(number)
        assert driver.show(number)["status"] == "registered"
        assert driver.ready(number) == ["dispatch"]
        with pytest.raises(Invalid, match="2101"):  # one correction does not make 2101 known
            core.calendar.add_override("2101-01-03", "holiday", "元旦")
        import_schedule(core, "2101-01-03,休,元旦（补休）".encode(), actor="test")
        case = driver.dispatch(number)
        assert case["deadline"] == "2101-01-10T15:59:59+00:00"


def test_missed_timers_fire_on_the_next_sweep(driver, clock):
    """Catch-up: a scheduler that was down for a week fires everything due when it comes back."""
    numbers = [driver.register(type="咨询") for _ in range(3)]
    for n in numbers:
        driver.dispatch(n)
    clock.move_to(at(2026, 11, 10, 9, 0))
    assert driver.fire() == 3
    assert all(items(driver.show(n)) == [(1, "sign_overdue", "open")] for n in numbers)
    assert driver.fire() == 0
