"""联动处置 and 批示督办 through the pages: the dispatch form refuses bad input at its field, the
case page shows every unit's part, the records and the instruction, the 督办台 counts 批示件 apart."""
from __future__ import annotations

import re

from tests.test_joint_disposal import co_do, joint_dispatch, units  # noqa: F401  (fixture)


def page(response) -> str:
    return response.get_data(as_text=True)


def dispatch_form(number, **extra):
    return {"decision": "dispatch", "category": "消防安全", "difficulty": "normal", **extra}


def test_dispatch_form_refuses_a_lead_among_the_co_handlers_at_the_field(login, driver):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    client = login("dispatcher")
    response = client.post(f"/tasks/{task_id}", data=dispatch_form(number, department="chengguan", joint="on",
                                                                   co_handlers="police, chengguan"))
    assert response.status_code in (400, 422)
    html = page(response)
    assert "主办部门 chengguan 不能同时作为协办单位" in html
    assert re.search(r'name="co_handlers"[^>]*value="police, chengguan"', html)  # what was typed is kept
    response = client.post(f"/tasks/{task_id}", data=dispatch_form(number, joint="on", co_handlers="police"))
    assert response.status_code in (400, 422) and "联动处置须指定主办部门" in page(response)
    assert driver.ready(number) == ["dispatch"]
    response = client.post(f"/tasks/{task_id}", data=dispatch_form(number, department="chengguan", joint="on",
                                                                   co_handlers="police，emergency"))
    assert response.status_code in (302, 303)
    assert sorted(t["department"] for t in driver.tasks(number) if t["task"] == "co_sign_for") == ["emergency",
                                                                                                   "police"]


def test_case_page_shows_units_records_and_instruction_and_the_board_counts_apart(login, driver, clock, units):
    number = driver.register()
    joint_dispatch(driver, number, co=["community_building", "police"], category="消防安全")
    co_do(driver, number, "co_sign_for", "police", units["police"])
    co_do(driver, number, "co_handle", "police", units["police"], feedback_text="派出所已疏导围观群众",
          people_deployed=4)
    dispatcher = login("dispatcher")
    response = dispatcher.post(f"/joint/{number}/meeting", data={
        "held_on": "2026-11-02", "units": "chengguan, police, community_building",
        "decisions": "当日拆除违建，清运杂物", "actions": "police：现场警戒\ncommunity_building：通知住户"})
    assert response.status_code == 302
    response = dispatcher.post(f"/joint/{number}/disposal", data={
        "people_deployed": "32", "q_structures_removed": "9", "q_truckloads_cleared": "10"})
    assert response.status_code == 302
    bad = dispatcher.post(f"/joint/{number}/disposal", data={"people_deployed": "many"}, follow_redirects=True)
    assert "出动人数应为" in page(bad)
    leader = login("leader")
    bad = leader.post(f"/joint/{number}/instruct", data={"instruction_text": "请尽快", "deadline": "2026-10-01"},
                      follow_redirects=True)
    assert "督办期限须晚于今天" in page(bad)
    assert leader.post(f"/joint/{number}/instruct", data={"instruction_text": "务必当日清除隐患",
                                                          "deadline": "2026-11-04"}).status_code == 302

    html = page(login("handler").get(f"/cases/{number}"))
    assert 'id="joint"' in html and "派出所已疏导围观群众" in html and "当日拆除违建，清运杂物" in html
    assert "拆除违建 9" in html and "清运垃圾杂物 10" in html and "出动人数 32" in html
    assert "务必当日清除隐患" in html and "待领导签批销号" in html
    # the co-handling unit sees the case it has a part in; another department does not
    assert login("handler2").get(f"/cases/{number}").status_code == 200  # community_building co-handles
    diagram = login("handler").get(f"/cases/{number}/diagram").get_json()
    parts = {p["unit"]: p for p in diagram["co_handling"]}
    assert parts["police"]["status"] == "fed_back" and parts["community_building"]["status"] == "dispatched"
    assert "co_handle" in diagram["completed"] and "co_sign_for" in diagram["ready"]

    board = page(login("party").get("/supervision?tier=3"))
    assert "领导批示件 1 件，已销号 0 件" in board and "务必当日清除隐患" in board
    # the leader's sign-off lands in the leader's worklist
    driver.sign(number)
    co_do(driver, number, "co_sign_for", "community_building", units["community_building"])
    co_do(driver, number, "co_handle", "community_building", units["community_building"], feedback_text="已通知")
    driver.reply(number)
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")
    assert "领导签批销号" in page(login("leader").get("/tasks"))
