"""到期预警 on the command center's own steps (派单, 改派, 核实, 回访), through the real engine and the
timer sweep: the diagram's reminder timers fire at their working-day instant (an hour before when
center_deadlines.dmn counts the step in hours), once, tell the step's claimant or else the center's
dispatchers, and leave with the step when it is done first."""
from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from app.auth.models import User
from app.auth.services import create_user
from app.notifications.models import Notification
from app.tasks.claims import claim
from tests.conftest import at, audit_rows


def utc_iso(value) -> str:
    return value.astimezone(UTC).isoformat()


def who_got(core, kind: str, number: str) -> list[str]:
    """Usernames told ``kind`` about the case, one entry per notification (so a repeat shows)."""
    with core.db.read() as session:
        return sorted(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                      .where(Notification.kind == kind, Notification.case_number == number)))


def notice(core, kind: str, number: str) -> Notification:
    with core.db.read() as session:
        return session.scalars(select(Notification).where(Notification.kind == kind,
                                                          Notification.case_number == number)).one()


def refuse(driver, number):
    driver.do(number, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")


def test_dispatch_warned_one_working_day_before_its_deadline_across_a_weekend(driver, core, clock):
    clock.move_to(at(2026, 11, 6, 10, 0))  # Friday
    late, done = driver.register(), driver.register()
    due = driver.task(late, "dispatch")["due"]
    assert due == utc_iso(at(2026, 11, 9, 23, 59, 59))  # one working day (center_deadlines.dmn): Monday's end
    refuse(driver, done)  # the step done before its warning: the reminders go with it

    clock.move_to(at(2026, 11, 6, 23, 59, 59))  # Friday's end, the warning's instant: not passed yet
    driver.fire()
    assert who_got(core, "task_due_soon", late) == []
    clock.move_to(at(2026, 11, 7, 0, 0, 0))  # Saturday: Monday's deadline is one working day away
    assert driver.fire() == 0  # a reminder is not a fired deadline
    assert who_got(core, "task_due_soon", late) == ["dispatcher"]  # the center's pool (nobody claimed it)
    warning = notice(core, "task_due_soon", late)
    assert warning.task_id == driver.task(late, "dispatch")["id"]
    assert warning.params["task"] == "派单/转办" and warning.params["due"] == "2026-11-09 23:59"
    assert driver.task(late, "dispatch")["due"] == due  # the worklist still shows the deadline
    assert audit_rows(core, late)[-1].action == "reminder"
    assert not driver.show(late)["supervision_tier"]  # not escalated by a reminder

    clock.move_to(at(2026, 11, 9, 23, 59, 59))  # Monday: nothing new, and not overdue yet
    driver.fire()
    assert who_got(core, "task_due_soon", late) == ["dispatcher"]  # once
    assert who_got(core, "task_overdue", late) == []
    clock.move_to(at(2026, 11, 10, 0, 0, 0))  # past the deadline: told, and escalated as before
    assert driver.fire() == 1
    assert who_got(core, "task_overdue", late) == ["dispatcher"]
    assert driver.show(late)["supervision_tier"] == 1
    assert audit_rows(core, late)[-1].action == "timer"
    clock.move_to(at(2026, 11, 12, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", late) == ["dispatcher"] and who_got(core, "task_overdue", late) == ["dispatcher"]
    assert who_got(core, "task_due_soon", done) == [] and who_got(core, "task_overdue", done) == []


def test_verify_warned_to_its_claimant_or_the_dispatchers_and_not_once_verified(driver, core, clock):
    with core.db.unit_of_work() as session:
        create_user(session, "dispatcher2", "x" * 12, ["dispatcher"], "指挥中心小周")
    pool, claimed, verified = (driver.register() for _ in range(3))
    for number in (pool, claimed, verified):
        driver.dispatch(number)
        driver.sign(number)
        driver.reply(number)  # Monday 11-02, 10:00
    assert driver.task(pool, "verify")["due"] == utc_iso(at(2026, 11, 3, 23, 59, 59))  # one working day
    claim(core, driver.task(claimed, "verify")["id"], user="dispatcher2")
    driver.do(verified, "verify", "dispatcher", verify_result="passed")

    clock.move_to(at(2026, 11, 2, 23, 59, 59))
    driver.fire()
    assert [who_got(core, "task_due_soon", n) for n in (pool, claimed, verified)] == [[], [], []]
    clock.move_to(at(2026, 11, 3, 0, 0, 0))  # past Monday's end: 核实 is due at Tuesday's end
    driver.fire()
    assert who_got(core, "task_due_soon", pool) == ["dispatcher", "dispatcher2"]
    assert who_got(core, "task_due_soon", claimed) == ["dispatcher2"]
    assert who_got(core, "task_due_soon", verified) == []
    assert notice(core, "task_due_soon", claimed).params["task"] == "核实"

    clock.move_to(at(2026, 11, 4, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_overdue", pool) == ["dispatcher", "dispatcher2"]
    assert who_got(core, "task_overdue", claimed) == ["dispatcher2"]
    assert who_got(core, "task_overdue", verified) == []
    assert who_got(core, "task_due_soon", pool) == ["dispatcher", "dispatcher2"]  # each fired once


def test_an_urgent_dispatch_is_warned_an_hour_before_its_two_hours(driver, core, clock):
    number = driver.register(urgent=True)  # Monday 10:00: dispatch within 2 hours (center_deadlines.dmn)
    assert driver.task(number, "dispatch")["due"] == utc_iso(at(2026, 11, 2, 12, 0))
    driver.fire()  # a working day before 12:00 lies before the step began: not warned at once
    assert who_got(core, "task_due_soon", number) == []
    clock.move_to(at(2026, 11, 2, 11, 0, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == []
    clock.move_to(at(2026, 11, 2, 11, 0, 1))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == ["dispatcher"]
    clock.move_to(at(2026, 11, 2, 12, 0, 1))
    assert driver.fire() == 1
    assert who_got(core, "task_overdue", number) == ["dispatcher"]


def test_reassign_and_follow_up_are_warned_too(driver, core, clock):
    returned, replied = driver.register(), driver.register()
    driver.dispatch(returned)
    driver.do(returned, "sign_for", "handler", decision="return", return_reason="非本部门职责")
    assert driver.task(returned, "reassign")["due"] == utc_iso(at(2026, 11, 3, 23, 59, 59))
    driver.dispatch(replied)
    driver.sign(replied)
    driver.reply(replied)  # Monday: 回访 within three working days, by Thursday's end
    driver.do(replied, "verify", "dispatcher", verify_result="passed")
    assert driver.task(replied, "follow_up")["due"] == utc_iso(at(2026, 11, 5, 23, 59, 59))

    clock.move_to(at(2026, 11, 3, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", returned) == ["dispatcher"]
    assert notice(core, "task_due_soon", returned).params["task"] == "改派"
    assert who_got(core, "task_due_soon", replied) == []
    clock.move_to(at(2026, 11, 4, 23, 59, 59))
    driver.fire()
    assert who_got(core, "task_due_soon", replied) == []
    clock.move_to(at(2026, 11, 5, 0, 0, 0))  # past Wednesday's end: Thursday's deadline is one working day away
    driver.fire()
    assert who_got(core, "task_due_soon", replied) == ["dispatcher"]
    assert notice(core, "task_due_soon", replied).params["task"] == "回访"
    assert who_got(core, "task_overdue", returned) == ["dispatcher"]  # 改派 was due at Tuesday's end


def test_a_step_arriving_within_a_working_day_of_its_deadline_is_warned_as_it_arrives(driver, core, clock):
    """Registered on a Saturday, 派单 is due at Monday's end: the warning's instant (Friday's end) has
    passed as the task arrives, so the timer fires in the registration itself, and is told with it."""
    clock.move_to(at(2026, 11, 7, 10, 0))  # Saturday
    number = driver.register()
    assert driver.task(number, "dispatch")["due"] == utc_iso(at(2026, 11, 9, 23, 59, 59))
    assert who_got(core, "task_arrived", number) == ["dispatcher"]
    assert who_got(core, "task_due_soon", number) == ["dispatcher"]
    assert notice(core, "task_due_soon", number).task_id == driver.task(number, "dispatch")["id"]
    clock.move_to(at(2026, 11, 9, 12, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == ["dispatcher"]  # and not again


def test_a_year_without_a_calendar_still_registers_and_warns_by_calendar_days(driver, core, frozen_clock):
    """Intake never fails on the calendar: 派单's deadline then counts calendar days (step_due), and
    so does its warning, instead of the whole registration failing on 2100's missing schedule."""
    frozen_clock.move_to(at(2100, 2, 1, 10, 0))
    number = driver.register()
    assert driver.task(number, "dispatch")["due"] == utc_iso(at(2100, 2, 2, 23, 59, 59))
    frozen_clock.move_to(at(2100, 2, 1, 23, 59, 59))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == []
    frozen_clock.move_to(at(2100, 2, 2, 0, 0, 0))
    driver.fire()
    assert who_got(core, "task_due_soon", number) == ["dispatcher"]
