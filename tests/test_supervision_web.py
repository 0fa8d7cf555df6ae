"""The supervision board (督办台) through the real app, with escalations fired by real timers."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from app.supervision.board import board_rows
from tests.conftest import at


@pytest.fixture
def handling(driver, clock):
    """A 咨询 (2 working days) signed by chengguan on Monday 11-02: handling is due at the end of 11-04."""
    number = driver.register(type="咨询", text="咨询垃圾分类时间")
    driver.dispatch(number)
    driver.sign(number)
    return number


def board(client, query=""):
    response = client.get(f"/supervision{query}")
    return response.status_code, response.get_data(as_text=True)


def items_table(body):
    return body.split('class="card board"')[1].split("</section>")[0]


def test_board_lists_the_item_once_the_handling_deadline_passes(login, driver, clock, handling):
    center = login("center")
    status, body = board(center)
    assert status == 200 and handling not in items_table(body)
    clock.move_to(at(2026, 11, 4, 23, 0))
    assert driver.fire() == 0
    assert handling not in items_table(board(center)[1])

    clock.move_to(at(2026, 11, 6, 9, 0))
    assert driver.fire() == 1
    status, body = board(center)
    table = items_table(body)
    assert status == 200 and handling in table
    assert "拖延办理" in table and "城管执法中队" in table
    assert "超期（工作日）" in table
    # deadline 11-04 23:59:59 Shanghai -> Friday 11-06 09:00: the second working day past it
    assert re.search(r'<td class="days"[^>]*>2</td>', table)
    urge = driver.task(handling, "urge")
    assert f'href="/tasks/{urge["id"]}"' in table and "催办" in table
    assert '<span class="count">1</span>' in body  # the tier-1 tab counts it


def test_item_is_on_its_own_tier_only(login, driver, clock, handling):
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    viewer = login("viewer")
    assert handling in items_table(board(viewer, "?tier=1")[1])
    for tier in (2, 3):
        status, body = board(viewer, f"?tier={tier}")
        assert status == 200 and handling not in items_table(body) and "本级没有督办中的事项" in body
    status, body = board(login("discipline"))
    assert status == 200 and handling not in items_table(body)


def test_escalation_moves_the_item_up_a_tier_with_the_next_task(login, driver, clock, handling):
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    driver.do(handling, "urge", "center", urge_note="请尽快办结")
    clock.move_to(at(2026, 11, 11, 9, 0))
    assert driver.fire() == 1
    assert handling not in items_table(board(login("center"))[1])
    body = board(login("discipline"))[1]
    table = items_table(body)
    task = driver.task(handling, "interview_or_notice")
    assert handling in table and f'/tasks/{task["id"]}' in table and "约谈/通报" in table
    # the viewer sees the tier but gets no link to act
    viewer_table = items_table(board(login("viewer"), "?tier=2")[1])
    assert handling in viewer_table and f'/tasks/{task["id"]}' not in viewer_table and "约谈/通报" in viewer_table


def test_replied_items_wait_for_the_center_to_close_them(login, driver, clock, handling):
    clock.move_to(at(2026, 11, 5, 9, 0))
    driver.fire()
    driver.reply(handling)
    body = board(login("center"))[1]
    assert handling not in items_table(body)
    replied = body.split('class="card replied"')[1].split("</section>")[0]
    close = driver.task(handling, "verify_close")
    assert handling in replied and f'/tasks/{close["id"]}' in replied


@pytest.mark.parametrize("user,query,status", [
    ("center", "", 200), ("center", "?tier=1", 200), ("center", "?tier=2", 403), ("center", "?tier=3", 403),
    ("discipline", "?tier=2", 200), ("discipline", "?tier=1", 403), ("party", "?tier=3", 200),
    ("viewer", "?tier=3", 200), ("admin", "?tier=2", 200), ("dispatcher", "?tier=1", 200),
    ("handler", "", 403), ("operator", "", 403), ("grid", "", 403),
    ("viewer", "?tier=9", 404), ("viewer", "?tier=x", 404),
])
def test_who_may_open_which_tier(login, core, user, query, status):
    assert board(login(user), query)[0] == status


def test_supervisor_sees_only_their_tab_and_viewer_all_three(login, core):
    body = board(login("party"))[1]
    tabs = body.split('class="tabs"')[1].split("</nav>")[0]
    assert tabs.count("data-tier=") == 1 and "党工委督办" in tabs
    tabs = board(login("viewer"))[1].split('class="tabs"')[1].split("</nav>")[0]
    assert tabs.count("data-tier=") == 3


def test_anonymous_goes_to_login(login, core):
    response = login(None).get("/supervision")
    assert response.status_code == 302 and "/login" in response.location


def test_board_is_two_queries_however_many_items(core, driver, clock):
    numbers = []
    for _ in range(4):
        number = driver.register(type="咨询")
        driver.dispatch(number)
        driver.sign(number)
        numbers.append(number)
    clock.move_to(at(2026, 11, 5, 9, 0))
    assert driver.fire() == 4
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(core.db.engine, "before_cursor_execute", listener)
    try:
        with core.db.read() as session:
            rows = board_rows(session, 1, at(2026, 11, 5, 9, 0))
    finally:
        event.remove(core.db.engine, "before_cursor_execute", listener)
    assert sorted(r.number for r in rows) == sorted(numbers)
    assert all(r.task_id and r.department_name == "城管执法中队" for r in rows)
    # the items with their cases, departments and tasks; then the escalations' latest records
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2
