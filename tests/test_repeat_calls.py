"""Repeat callers (回头件) at intake, through the real engine and the intake page: closed cases show
as possible duplicates within their window, a call is attached to a case and counted there, and a
closed case is reopened as 重办 through the diagram's 回头件重办 start."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.cases.models import Case
from app.errors import Conflict
from app.intake.models import RepeatCall
from app.intake.repeat_calls import attach_call
from tests.conftest import at, audit_rows
from tests.test_notifications import close_case, utc_iso, who_got
from workflows.clock import utcnow

PHONE = "13912345678"
FORM = {"channel": "phone", "type": "complaint", "category": "城市管理", "text": "路灯又不亮了，上次修过",
        "address": "和平路88号", "grid": "G02", "reporter_name": "李四", "reporter_phone": PHONE}


def page(response) -> str:
    return response.get_data(as_text=True)


def count_cases(core) -> int:
    with core.db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def closed_case(driver, **kw) -> str:
    number = driver.register(reporter_phone=PHONE, address="和平路88号", **kw)
    driver.dispatch(number)
    driver.sign(number)
    close_case(driver, number)
    return number


def test_closed_cases_within_the_window_are_offered_for_a_repeat_call(login, driver, monkeypatch, clock):
    with time_machine.travel(utcnow() - timedelta(days=100), tick=False):
        long_ago = closed_case(driver)
    recent = closed_case(driver)
    client = login("operator")
    html = page(client.get(f"/intake/duplicates?phone={PHONE}"))
    assert recent in html and long_ago not in html
    assert f'name="reopen" value="{recent}"' in html and f'name="attach_to" value="{recent}"' in html
    # the window is the office's to set
    monkeypatch.setenv("BIHUAN_REPEAT_CALL_DAYS", "120")
    html = page(client.get(f"/intake/duplicates?phone={PHONE}"))
    assert recent in html and long_ago in html and "120" in html


def test_attaching_a_call_counts_it_on_the_open_case_and_tells_its_handler(login, driver, core):
    number = driver.register(reporter_phone=PHONE)
    driver.dispatch(number)
    client = login("operator")
    response = client.post("/intake/register", data=FORM)  # the duplicate shows, with its buttons
    assert f'name="attach_to" value="{number}"' in page(response) and f'name="reopen" value="{number}"' not in page(response)
    response = client.post("/intake/register", data={**FORM, "attach_to": number})
    assert response.status_code == 302 and response.location.endswith(f"/cases/{number}")
    assert count_cases(core) == 1  # no new case
    assert driver.show(number)["repeat_calls"] == 1
    with core.db.read() as session:
        [call] = session.scalars(select(RepeatCall)).all()
    assert (call.by, call.caller_phone_masked, call.text, call.reopened) == ("operator", "139****5678", FORM["text"],
                                                                             False)
    [row] = audit_rows(core, number, "repeat_call")
    assert row.actor == "operator" and row.changes["repeat_calls"] == [0, 1]
    assert who_got(core, "repeat_call", number) == {"handler"}  # whoever holds 签收 now
    html = page(client.get(f"/cases/{number}"))
    assert "回头件来电" in html
    client.post("/intake/register", data={**FORM, "attach_to": number})
    assert driver.show(number)["repeat_calls"] == 2


def test_a_closed_case_is_reopened_as_redo_through_the_diagram(login, driver, core, clock):
    number = closed_case(driver)
    before = driver.show(number)
    assert before["redo_count"] == 0
    clock.shift(timedelta(days=7))  # the resident calls back a week later
    client = login("operator")
    response = client.post("/intake/register", data={**FORM, "reopen": number})
    assert response.status_code == 302, page(response)
    case = driver.show(number)
    assert case["status"] == "handling" and case["redo_count"] == 1 and case["repeat_calls"] == 1
    assert case["closed_at"] is None and case["department"] == before["department"]
    assert driver.ready(number) == ["handle"]
    # a new deadline: 15 working days (投诉) from the call on Monday 11-09
    assert case["deadline"] == utc_iso(at(2026, 11, 30, 23, 59, 59)) != before["deadline"]
    assert who_got(core, "task_arrived", number) >= {"handler"}
    html = page(client.get(f"/cases/{number}"))
    assert "回头件重办" in html and FORM["text"] in html
    [row] = audit_rows(core, number, "reopen")
    assert row.changes["columns"]["status"] == ["closed", "handling"]
    # the loop goes on from there, to closing again
    close_case(driver, number)
    assert driver.show(number)["redo_count"] == 1


def test_only_a_closed_case_is_reopened(login, driver, core):
    number = driver.register(reporter_phone=PHONE)
    response = login("operator").post("/intake/register", data={**FORM, "reopen": number})
    assert response.status_code == 400 and "未能记为回头件" in page(response)
    assert driver.show(number)["status"] == "registered" and driver.show(number)["repeat_calls"] == 0
    with pytest.raises(Conflict):
        attach_call(core, number, user="operator", text="再次来电", reopen=True)


def test_a_repeat_call_needs_what_the_caller_said_and_the_right_to_take_calls(login, driver, core):
    number = closed_case(driver)
    response = login("operator").post("/intake/register", data={**FORM, "text": "", "attach_to": number})
    assert response.status_code == 400 and driver.show(number)["repeat_calls"] == 0
    from app.errors import Forbidden
    with pytest.raises(Forbidden):
        attach_call(core, number, user="handler", text="再次来电")


def test_the_cli_attaches_a_call_and_lists_notifications(driver, database_url):
    from tests.test_cli import run
    number = driver.register(reporter_phone=PHONE)
    answer = run("call", "attach", number, "--user", "operator", "--text", "再次来电催办", url=database_url)
    assert answer == {"number": number, "status": "registered", "repeat_calls": 1, "reopened": False}
    error = run("call", "attach", number, "--user", "operator", "--text", "再次来电", "--reopen", url=database_url,
                expect_ok=False)
    assert error.startswith("error:") and "not closed" in error
    listed = run("notify", "list", "--user", "dispatcher", url=database_url)
    assert {n["kind"] for n in listed} == {"task_arrived", "repeat_call"} and all(n["case"] == number for n in listed)
    assert run("notify", "drain", url=database_url) == {"sent": 0, "retry": 0, "failed": 0}
