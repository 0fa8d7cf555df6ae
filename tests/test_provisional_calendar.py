"""Deadlines into a year without a published schedule: refused, allowed provisionally (暂定), and
recomputed through the engine when the official schedule is imported. Real engine, real database.

2100 is used because no chinesecalendar release will cover it soon. Facts (checked by hand):
  2100-02-01 is a Monday. On the *provisional* calendar (rule holidays, no make-up days) the
  Spring Festival is 02-08 (除夕) .. 02-11 (初三).
  The synthetic *official* schedule below differs: 02-08..02-14 off, with Sunday 02-07 and
  Saturday 02-20 worked (调休).
  A 投诉 dispatched on 02-01 gets 15 working days:
    provisional: 02-02..05 (4), 02-12 (5), 02-15..19 (10), 02-22..26 (15)      -> 02-26 23:59:59
    official:    02-02..05 (4), 02-07 (5), 02-15..19 (10), 02-20 (11), 02-22..25 (15) -> 02-25
  An approved 5-day extension from that deadline:
    provisional: from 02-26: 03-01..05                                       -> 03-05
    official:    from 02-25 (the recomputed one): 02-26, 03-01..04          -> 03-04
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.calendar.importing import import_schedule
from app.calendar.models import ProvisionalDeadline
from app.cases.models import Case, WorkflowInstance
from app.errors import Invalid
from tests.conftest import at, audit_rows, utc

OFFICIAL_2100 = """日期,类型,说明
2100-01-01,休,元旦
2100-02-07,班,春节调休
2100-02-08,休,春节
2100-02-09,休,春节
2100-02-10,休,春节
2100-02-11,休,春节
2100-02-12,休,春节
2100-02-13,休,春节
2100-02-14,休,春节
2100-02-20,班,春节调休
2100-04-05,休,清明节
2100-05-01,休,劳动节
2100-05-03,休,劳动节
2100-10-01,休,国庆节
2100-10-04,休,国庆节
"""


def eod(y, m, d) -> str:
    """End of a Shanghai day, as the case JSON shows deadlines (UTC ISO)."""
    return utc(y, m, d, 15, 59, 59).isoformat()


def provisional_rows(core, number=None) -> list[tuple]:
    with core.db.read() as session:
        query = select(Case.number, ProvisionalDeadline.start, ProvisionalDeadline.days, ProvisionalDeadline.value
                       ).join(Case, Case.id == ProvisionalDeadline.case_id).order_by(ProvisionalDeadline.days)
        if number:
            query = query.where(Case.number == number)
        return [tuple(row) for row in session.execute(query)]


def next_timer(core, number):
    with core.db.read() as session:
        return session.scalar(select(WorkflowInstance.next_timer_at).join(Case, Case.id == WorkflowInstance.case_id)
                              .where(Case.number == number))


@pytest.fixture
def feb_2100(frozen_clock):
    frozen_clock.move_to(at(2100, 2, 1, 10, 0))
    return frozen_clock


def test_a_deadline_into_an_unknown_year_fails_loudly_and_changes_nothing(driver, feb_2100):
    number = driver.register(type="投诉")
    with pytest.raises(Invalid, match="2100"):
        driver.dispatch(number)
    assert driver.ready(number) == ["dispatch"]
    assert driver.show(number)["status"] == "registered" and driver.show(number)["deadline"] is None


def test_provisional_deadlines_are_flagged_listed_and_recomputed_on_import(driver, core, feb_2100, login):
    core.calendar.set_provisional(2100, True, actor="admin")
    number = driver.register(type="投诉")
    case = driver.dispatch(number)
    dispatched = case["dispatched_at"]
    assert case["deadline"] == eod(2100, 2, 26)
    # Both computations reached the provisional year: the handling deadline and the sign-for timer.
    assert provisional_rows(core, number) == [(number, dispatched, 1, eod(2100, 2, 2)),
                                              (number, dispatched, 15, eod(2100, 2, 26))]
    driver.sign(number)
    # the earliest timer is the 办理 reminder, a working day before the 02-26 deadline
    assert next_timer(core, number) == utc(2100, 2, 25, 15, 59, 59)
    # 暂定 on the case page, the worklist and a new dispatch's deadline preview; the admin page lists it.
    assert "暂定" in login("dispatcher").get(f"/cases/{number}").get_data(as_text=True)
    row = login("handler").get("/tasks").get_data(as_text=True).split(f'data-case="{number}"', 1)[1]
    assert "暂定" in row.split("</tr>", 1)[0]
    other = driver.task(driver.register(type="投诉"), "dispatch")["id"]
    preview = login("dispatcher").get(f"/tasks/{other}").get_data(as_text=True)
    assert "deadline-preview" in preview and "暂定" in preview.split("deadline-preview", 1)[1].split("</p>", 1)[0]
    listing = login("admin").get("/admin/calendar").get_data(as_text=True)
    assert f"/cases/{number}" in listing

    summary = import_schedule(core, OFFICIAL_2100.encode(), note="国办发明电〔2099〕1号", actor="admin")
    assert summary["year"] == 2100 and summary["holidays"] == 13 and summary["workdays"] == 2
    # the second case is still waiting for 派单: its one-working-day deadline stays what it was
    assert summary["recomputed"] == {"cases": 2, "changed": 1, "unchanged": 1, "closed": 0, "retry": []}
    assert "暂定" not in login("dispatcher").get(f"/tasks/{other}").get_data(as_text=True)

    case = driver.show(number)
    assert case["deadline"] == eod(2100, 2, 25)
    assert driver.task(number, "handle")["due"] == eod(2100, 2, 25)
    # the engine's timers moved with it: the 到期预警 is now a working day before 02-25
    assert next_timer(core, number) == utc(2100, 2, 24, 15, 59, 59)
    assert provisional_rows(core, number) == []
    [row] = audit_rows(core, number, "recompute_deadlines")
    assert row.changes["year"] == 2100 and row.changes["deadlines"] == {eod(2100, 2, 26): eod(2100, 2, 25)}
    assert row.changes["reminders"] == {"handle_due_warning": [eod(2100, 2, 25), eod(2100, 2, 24)]}
    assert row.changes["columns"]["deadline"] == [eod(2100, 2, 26), eod(2100, 2, 25)]
    assert "暂定" not in login("dispatcher").get(f"/cases/{number}").get_data(as_text=True)

    # The timer fires at the official deadline, which the provisional one would have missed.
    feb_2100.move_to(at(2100, 2, 26, 9, 0))
    assert driver.fire() == 2  # (and the other case, never dispatched, escalates against the center)
    assert driver.show(number)["supervision_tier"] == 1


def told(core, number, kind) -> list[str]:
    from app.auth.models import User
    from app.notifications.models import Notification
    with core.db.read() as session:
        return sorted(session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                                      .where(Notification.kind == kind, Notification.case_number == number)))


def test_the_reminders_move_with_the_recomputed_deadlines(driver, core, feb_2100):
    """The 到期预警 timers count back from a deadline (``working_days_before``), so recomputing the
    deadline alone would leave them at the provisional instant: 办理's warning would come on the day
    the official deadline falls, not the working day before it. Re-evaluated on import, it fires on
    02-25 (a working day before the official 02-25 deadline counts to 02-24's end), and the
    overdue notice at the official deadline, under the real sweep."""
    core.calendar.set_provisional(2100, True, actor="admin")
    number = driver.register(type="投诉")
    driver.dispatch(number)
    driver.sign(number)
    # a 派单 still waiting keeps its reminders where they were (its deadline did not move)
    waiting = driver.register(type="投诉")
    import_schedule(core, OFFICIAL_2100.encode(), actor="admin")

    feb_2100.move_to(at(2100, 2, 24, 23, 59, 59))  # the warning's instant, not passed yet
    driver.fire()
    assert told(core, number, "task_due_soon") == []
    feb_2100.move_to(at(2100, 2, 25, 0, 0, 1))
    assert driver.fire() == 0  # reminders only: nothing escalates
    assert told(core, number, "task_due_soon") == ["handler"]
    assert told(core, number, "task_overdue") == []
    assert not driver.show(number)["supervision_tier"]
    feb_2100.move_to(at(2100, 2, 26, 0, 0, 1))  # the official deadline has passed
    driver.fire()
    assert told(core, number, "task_due_soon") == ["handler"]  # once
    assert told(core, number, "task_overdue") == ["handler"]
    assert driver.show(number)["supervision_tier"] == 1
    assert audit_rows(core, waiting, "recompute_deadlines") == []


def test_a_deadline_counted_from_a_provisional_one_is_recomputed_from_its_new_value(driver, core, feb_2100):
    core.calendar.set_provisional(2100, True, actor="admin")
    number = driver.register(type="投诉")
    driver.dispatch(number)
    driver.sign(number)
    driver.do(number, "handle", "handler", decision="extension_request", extension_days=5, extension_reason="需协调")
    case = driver.do(number, "approve_extension", "dispatcher", extension_decision="approve")
    assert case["deadline"] == eod(2100, 3, 5)
    assert case["extensions"][0]["old_deadline"] == eod(2100, 2, 26)

    import_schedule(core, OFFICIAL_2100.encode(), actor="admin")
    case = driver.show(number)
    assert case["deadline"] == eod(2100, 3, 4)
    # The recorded history follows too: the extension now reads 02-25 -> 03-04.
    assert case["extensions"][0]["old_deadline"] == eod(2100, 2, 25)
    assert case["extensions"][0]["new_deadline"] == eod(2100, 3, 4)
    assert driver.task(number, "handle")["due"] == eod(2100, 3, 4)


def test_closed_cases_keep_their_history_and_leave_the_list(driver, core, feb_2100):
    core.calendar.set_provisional(2100, True, actor="admin")
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    closed = driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert closed["status"] == "closed" and provisional_rows(core, number)
    summary = import_schedule(core, OFFICIAL_2100.encode(), actor="admin")
    assert summary["recomputed"]["closed"] == 1
    assert driver.show(number)["deadline"] == closed["deadline"] and provisional_rows(core, number) == []
    assert audit_rows(core, number, "recompute_deadlines") == []


def test_switching_provisional_on_for_a_known_year_is_refused(core):
    with pytest.raises(Invalid, match="2026"):
        core.calendar.set_provisional(2026, True)
    with pytest.raises(Invalid, match="2100"):
        core.calendar.set_provisional(2100, False)


def test_a_timer_whose_next_deadline_cannot_be_computed_is_an_incident_and_the_case_stays_workable(
        driver, core, frozen_clock, caplog):
    """2100 runs provisionally, 2101 is unknown. A 咨询 (2 working days) dispatched on Monday
    2100-12-27 is due Wednesday 12-29; when it fires on 12-30 the tier-1 deadline (3 working days
    from 12-30: 12-31, then 2101) cannot be computed."""
    core.calendar.set_provisional(2100, True, actor="admin")
    frozen_clock.move_to(at(2100, 12, 27, 10, 0))
    number = driver.register(type="咨询")
    assert driver.dispatch(number)["deadline"] == eod(2100, 12, 29)
    driver.sign(number)
    frozen_clock.move_to(at(2100, 12, 30, 9, 0))
    with caplog.at_level("WARNING"):
        assert driver.fire() == 0
    case = driver.show(number)
    assert case["has_incident"] and "2101" in case["incidents"][0]["message"]
    assert any(number in r.getMessage() and "2101" in r.getMessage() for r in caplog.records)  # operators see it
    assert next_timer(core, number) is None  # parked until an admin resolves it, not retried every sweep
    # Workable by hand all the same.
    driver.reply(number)
    assert driver.ready(number) == ["verify"]


def test_status_says_how_far_the_calendar_reaches(core, frozen_clock):
    from workflows.workdays import library_covers
    last = max(y for y in range(2004, 2200) if library_covers(y))
    frozen_clock.move_to(at(last, 11, 30, 10, 0))
    status = core.calendar.status()
    assert status["covered_until"] == f"{last}-12-31" and status["days_left"] == 31 and status["warning"]
    assert status["provisional_until"] is None
    assert {"year": last + 1, "coverage": None, "provisional_deadlines": 0} in status["years"]
    core.calendar.set_provisional(last + 1, True)
    status = core.calendar.status()
    assert status["provisional_until"] == f"{last + 1}-12-31" and status["warning"]
    frozen_clock.move_to(at(last, 6, 1, 10, 0))
    assert not core.calendar.status()["warning"]  # 213 days ahead


def test_health_and_the_admin_banner_warn_sixty_days_ahead(login, core, frozen_clock):
    from workflows.workdays import library_covers
    last = max(y for y in range(2004, 2200) if library_covers(y))
    frozen_clock.move_to(at(last, 11, 30, 10, 0))  # 2026-11-30 while chinesecalendar ends with 2026
    health = login(None).get("/health").get_json()
    assert health["calendar"]["covered_until"] == f"{last}-12-31" and health["calendar"]["warning"] is True
    admin_page = login("admin").get("/admin/users").get_data(as_text=True)
    assert 'id="calendar-banner"' in admin_page and f"{last}-12-31" in admin_page
    assert 'id="calendar-banner"' not in login("dispatcher").get("/tasks").get_data(as_text=True)
    frozen_clock.move_to(at(last, 10, 31, 10, 0))  # 61 days before the end
    assert 'id="calendar-banner"' not in login("admin").get("/admin/users").get_data(as_text=True)
    assert login(None).get("/health").get_json()["calendar"]["warning"] is False


def test_the_cli_reports_status_and_lists_provisional_deadlines(core, database_url, feb_2100):
    from tests.test_cli import run
    assert run("calendar", "provisional", "2100", "on", url=database_url) == {"year": 2100, "provisional": True}
    status = run("calendar", "status", url=database_url)
    assert {"year": 2100, "coverage": "provisional", "provisional_deadlines": 0} in status["years"]
    number = run("case", "create", "--channel", "phone", "--type", "投诉", "--text", "路灯不亮", "--user", "operator",
                 url=database_url)["number"]
    task = next(t for t in run("task", "list", "--case", number, url=database_url) if t["task"] == "dispatch")
    run("task", "complete", task["id"], "--user", "dispatcher", "--data",
        json.dumps({"decision": "dispatch", "category": "城市管理", "difficulty": "normal"}), url=database_url)
    listed = run("calendar", "deadlines", "--year", "2100", url=database_url)
    # the 派单 deadline (a working day from intake; one row with the 签收 timer's when both start in
    # the same second), the 签收 timer and the handling deadline
    assert sorted({(d["case"], d["days"], d["deadline"]) for d in listed}) == [(number, 1, eod(2100, 2, 2)),
                                                                               (number, 15, eod(2100, 2, 26))]
