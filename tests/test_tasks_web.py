"""我的待办 and task forms through the real app: who sees what, sorting, claims, validation, conflicts."""
from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import delete, select

from app.auth.models import User
from app.auth.services import create_user
from app.cases.models import Case, Incident, ReadyTask
from app.tasks import worklist
from app.web.access import WebUser
from tests.conftest import at, audit_rows, deploy_variant
from workflows.clock import utcnow

XSS = "<script>alert(1)</script>"


def page(response) -> str:
    return response.get_data(as_text=True)


def rows(html: str) -> list[str]:
    """Case numbers of the worklist rows, in order."""
    return re.findall(r'<tr class="[^"]*" data-task="[^"]+" data-case="([^"]+)"', html)


def row_class(html: str, number: str) -> str:
    return re.search(rf'<tr class="([^"]*)" data-task="[^"]+" data-case="{number}"', html).group(1)


def tab_count(html: str, tab: str) -> str:
    return re.search(rf'data-tab="{tab}"[^>]*>[^<]*<span class="count">([^<]+)</span>', html).group(1)


def status(core, number) -> str:
    with core.db.read() as session:
        return session.scalar(select(Case.status).where(Case.number == number))


@pytest.fixture
def colleague(core):
    """A second dispatcher, to see what one person's claim means for another."""
    with core.db.unit_of_work() as session:
        if session.scalars(select(User).where(User.username == "dispatcher_b")).first() is None:
            create_user(session, "dispatcher_b", "bihuan123", ["dispatcher"], "指挥中心小周")
    yield "dispatcher_b"
    with core.db.unit_of_work() as session:
        session.execute(delete(User).where(User.username == "dispatcher_b"))


# -- who may open what -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["dispatcher", "handler", "handler2", "center", "discipline", "party"])
def test_worklist_for_task_roles(login, user):
    response = login(user).get("/tasks")
    assert response.status_code == 200 and "我的待办" in page(response)


@pytest.mark.parametrize("user", ["operator", "viewer", "grid", "designer", "admin"])
def test_worklist_refuses_other_roles(login, user):
    assert login(user).get("/tasks").status_code == 403


def test_anonymous_users_are_sent_to_login(login):
    client = login(None)
    for url in ("/tasks", "/tasks/00000000-0000-0000-0000-000000000000"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


def test_each_role_and_department_sees_only_its_own_tasks(login, driver):
    waiting = driver.register(text="待派单")
    dispatched = driver.register(text="已派单")
    driver.dispatch(dispatched)  # 城市管理 -> chengguan
    html = page(login("dispatcher").get("/tasks"))
    assert rows(html) == [waiting]
    assert rows(page(login("handler").get("/tasks"))) == [dispatched]
    assert rows(page(login("handler2").get("/tasks"))) == []
    assert "暂无待办" in page(login("handler2").get("/tasks"))
    assert rows(page(login("center").get("/tasks"))) == []


def test_task_page_access(login, driver):
    number = driver.register()
    dispatch_id = driver.task(number, "dispatch")["id"]
    assert login("dispatcher").get(f"/tasks/{dispatch_id}").status_code == 200
    assert login("handler").get(f"/tasks/{dispatch_id}").status_code == 403
    assert login("operator").get(f"/tasks/{dispatch_id}").status_code == 403
    assert login("dispatcher").get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    assert login("dispatcher").get("/tasks/" + "x" * 80).status_code == 404
    driver.dispatch(number)
    sign_id = driver.task(number, "sign_for")["id"]
    assert login("handler").get(f"/tasks/{sign_id}").status_code == 200
    handler2 = login("handler2")
    assert handler2.get(f"/tasks/{sign_id}").status_code == 403  # another department's task
    assert handler2.post(f"/tasks/{sign_id}", data={"decision": "sign_for"}).status_code == 403
    assert handler2.post(f"/tasks/{sign_id}/claim").status_code == 403
    # a completed task is gone from GET
    assert login("dispatcher").get(f"/tasks/{dispatch_id}").status_code == 404
    assert status(driver.core, number) == "dispatched"


def test_case_text_is_escaped_on_worklist_and_task_page(login, driver):
    number = driver.register(text=XSS, address=XSS)
    client = login("dispatcher")
    for html in (page(client.get("/tasks")), page(client.get(f"/tasks/{driver.task(number, 'dispatch')['id']}"))):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert XSS not in html


# -- order, colours, tabs, filters, pages ------------------------------------------------------------------------------
@pytest.fixture
def three_for_chengguan(driver):
    """Sign-for tasks due: long ago (and escalated to tier 1), tomorrow, and handling due in 15 working days."""
    with time_machine.travel(at(2026, 10, 20, 10, 0), tick=False):
        late = driver.register(type="咨询", channel="web", text="早已逾期")
        driver.dispatch(late)
    with time_machine.travel(at(2026, 11, 2, 10, 0), tick=False):
        driver.fire()  # the sign-for timer opens 社会治理中心督办 on the late case
        soon = driver.register(type="投诉", text="明天到期")
        driver.dispatch(soon)
        later = driver.register(type="投诉", category="城市管理", text="尚早")
        driver.dispatch(later)
        driver.sign(later)
    return late, soon, later


def test_sorted_by_due_with_overdue_and_due_soon_rows(login, three_for_chengguan):
    late, soon, later = three_for_chengguan
    with time_machine.travel(at(2026, 11, 2, 11, 0), tick=False):
        client = login("handler")  # a session from the future would not be valid in the past
        html = page(client.get("/tasks"))
        assert rows(html) == [late, soon, later]
        assert row_class(html, late) == "overdue"
        assert row_class(html, soon) == "due-soon"  # end of tomorrow
        assert row_class(html, later) == ""
        assert rows(page(client.get("/tasks?sort=-due"))) == [later, soon, late]
        assert (tab_count(html, "all"), tab_count(html, "overdue"), tab_count(html, "unclaimed"),
                tab_count(html, "mine")) == ("3", "1", "3", "0")
        assert rows(page(client.get("/tasks?tab=overdue"))) == [late]
        assert "社会治理中心督办" in html and 'class="badge tier1"' in html


def test_tab_counts_stop_at_the_cap_each_on_its_own(login, driver, three_for_chengguan, monkeypatch):
    """A role's backlog can be huge: each tab counts up to COUNT_CAP and only a tab that reached it
    says "+"; the others stay exact."""
    late, soon, later = three_for_chengguan
    monkeypatch.setattr(worklist, "COUNT_CAP", 2)
    with time_machine.travel(at(2026, 11, 2, 11, 0), tick=False):
        client = login("handler")
        html = page(client.get("/tasks"))
        assert rows(html) == [late, soon, later]  # the list itself is not capped
        assert (tab_count(html, "all"), tab_count(html, "overdue"), tab_count(html, "unclaimed"),
                tab_count(html, "mine")) == ("2+", "1", "2+", "0")
    monkeypatch.setattr(worklist, "COUNT_CAP", 4)
    with time_machine.travel(at(2026, 11, 2, 11, 0), tick=False):
        html = page(login("handler").get("/tasks"))
        assert (tab_count(html, "all"), tab_count(html, "unclaimed")) == ("3", "3")
    # Beyond the cap the tabs are counted each on its own, not among the first COUNT_CAP tasks
    # (the two due first, both claimed here, would say nothing is unclaimed).
    monkeypatch.setattr(worklist, "COUNT_CAP", 2)
    with time_machine.travel(at(2026, 11, 2, 11, 0), tick=False):
        client = login("handler")
        for number in (late, soon):
            assert client.post(f"/tasks/{driver.task(number, 'sign_for')['id']}/claim").status_code == 303
        html = page(client.get("/tasks"))
        assert (tab_count(html, "all"), tab_count(html, "unclaimed"), tab_count(html, "mine")) == ("2+", "1", "2+")


def test_filters(login, three_for_chengguan, monkeypatch):
    late, soon, later = three_for_chengguan
    client = login("handler")
    assert rows(page(client.get("/tasks?type=inquiry"))) == [late]
    assert rows(page(client.get("/tasks?channel=web"))) == [late]
    assert rows(page(client.get("/tasks?tier=1"))) == [late]
    assert rows(page(client.get("/tasks?tier=0&type=complaint"))) == [soon, later]
    html = page(client.get("/tasks?type=complaint&channel=phone"))
    assert rows(html) == [soon, later] and tab_count(html, "all") == "2"
    monkeypatch.setattr(worklist, "COUNT_CAP", 1)  # filtered counts stop early and say so
    html = page(client.get("/tasks?type=complaint"))
    assert rows(html) == [soon, later] and tab_count(html, "all") == "1+"
    # nonsense filters are ignored rather than failing the page
    assert rows(page(client.get("/tasks?type=x&tier=9&page=abc&sort=up&tab=zzz"))) == [late, soon, later]
    # the supervisor of tier 1 has the urge task of the late case
    html = page(login("center").get("/tasks"))
    assert rows(html) == [late] and "催办" in html


def test_pages_of_the_worklist(login, driver, monkeypatch):
    monkeypatch.setattr(worklist, "PAGE_SIZE", 2)
    numbers = [driver.register(text=f"第{i}件") for i in range(3)]
    client = login("dispatcher")
    first = page(client.get("/tasks"))
    assert len(rows(first)) == 2 and 'rel="next"' in first and 'rel="prev"' not in first
    second = page(client.get("/tasks?page=2"))
    assert len(rows(second)) == 1 and 'rel="prev"' in second and 'rel="next"' not in second
    assert sorted(rows(first) + rows(second)) == sorted(numbers)


def test_worklist_reads_the_index_in_due_order(core):
    """The page is one indexed walk: no sort step and no scan of cases (SQLite's plan says so)."""
    if core.db.engine.dialect.name != "sqlite":
        pytest.skip("query plan text is SQLite's")
    user = WebUser(1, "handler", "h", {"handler"}, "chengguan")
    for filters in (worklist.Filters(), worklist.Filters(sort="-due"), worklist.Filters(tab="unclaimed")):
        query = worklist.page_query(user, filters, utcnow())
        with core.db.engine.connect() as conn:
            compiled = query.compile(conn)
            plan = " | ".join(r[3] for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[k] for k in compiled.positiontup)))
        assert "ix_ready_tasks_role_department_due" in plan and "TEMP B-TREE" not in plan, plan
        assert "SCAN cases" not in plan and "PRIMARY KEY" in plan, plan


def test_a_user_with_several_roles_gets_one_list_merged_in_due_order(core, driver, clock, monkeypatch):
    """Dispatcher and handler work of one person: each role is read off its own index and merged;
    the pages hold exactly what one OR-query sorted by due time would, in the same order."""
    monkeypatch.setattr(worklist, "PAGE_SIZE", 2)
    for i in range(4):
        driver.register(text=f"待派单 {i}")
    for day in (5, 3, 9, 4, 6):  # more of each role than one page reaches, dispatched out of due order
        clock.move_to(at(2026, 11, day, 10, 0))
        driver.dispatch(driver.register(text=f"已派单 {day}"))
    user = WebUser(99, "both", "both", {"dispatcher", "handler"}, "chengguan")
    with core.db.read() as session:
        expected = session.execute(
            select(ReadyTask.id, ReadyTask.due_at).where(worklist.task_clause(user.roles, user.department))).all()
        pages, page_no, more = [], 1, True
        while more:
            rows_, more = worklist.page(session, user, worklist.Filters(page=page_no))
            pages.append(rows_)
            page_no += 1
    got = [row for rows_ in pages for row in rows_]
    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    assert sorted(r.id for r in got) == sorted(e.id for e in expected) and len(got) == 9
    dues = [r.due_at for r in got]
    # 派单 has its own deadline too (center_deadlines.dmn: one working day), so every row has one
    assert dues == sorted(dues) and None not in dues
    assert {r.bpmn_id for r in got} == {"dispatch", "sign_for"}


# -- claiming ----------------------------------------------------------------------------------------------------------
def test_claim_and_unclaim_with_a_colleague(login, driver, core, colleague):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    me, other = login("dispatcher"), login(colleague)

    response = me.post(f"/tasks/{task_id}/claim", data={"next": "/tasks?tab=mine"})
    assert response.status_code == 303 and response.location.endswith("/tasks?tab=mine")
    assert driver.task(number, "dispatch")["assignee"] == "dispatcher"
    html = page(me.get("/tasks?tab=mine"))
    assert rows(html) == [number] and "取消认领" in html and tab_count(html, "mine") == "1"
    html = page(other.get("/tasks"))
    assert rows(html) == [number] and '<td class="assignee" data-label="认领人">dispatcher</td>' in html
    assert tab_count(html, "unclaimed") == "0" and rows(page(other.get("/tasks?tab=unclaimed"))) == []

    response = other.post(f"/tasks/{task_id}/claim")
    assert response.status_code == 409 and "已由 dispatcher 认领" in page(response)
    assert other.post(f"/tasks/{task_id}/unclaim").status_code == 409
    assert "已由 dispatcher 认领" in page(other.get(f"/tasks/{task_id}"))
    response = other.post(f"/tasks/{task_id}", data={"decision": "refuse", "refuse_reason": "同事填写的理由"})
    assert response.status_code == 409
    assert "dispatcher 认领" in page(response) and "同事填写的理由" in page(response)
    assert status(core, number) == "registered"

    assert me.post(f"/tasks/{task_id}/unclaim").status_code == 303
    assert driver.task(number, "dispatch")["assignee"] is None
    assert [(r.action, r.actor, r.task_bpmn_id) for r in audit_rows(core, number)][1:] == [
        ("claim", "dispatcher", "dispatch"), ("unclaim", "dispatcher", "dispatch")]
    response = other.post(f"/tasks/{task_id}", data={"decision": "refuse", "refuse_reason": "不属于受理范围"})
    assert response.status_code == 303 and status(core, number) == "refused"


def test_claim_of_a_finished_task_is_a_404(login, driver):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    driver.dispatch(number)
    assert login("dispatcher").post(f"/tasks/{task_id}/claim").status_code == 404


# -- the task form -----------------------------------------------------------------------------------------------------
def test_dispatch_form_shows_the_case_and_the_deadline(login, driver):
    with time_machine.travel(at(2026, 11, 2, 10, 0), tick=False):
        first = driver.register(reporter_phone="13912345678", text="第一次来电")
        number = driver.register(reporter_phone="13912345678", reporter_name="王五", category="物业管理",
                                 address="和平路1号", text="楼上漏水")
        task_id = driver.task(number, "dispatch")["id"]
        client = login("dispatcher")
        html = page(client.get(f"/tasks/{task_id}"))
        assert "派单/转办" in html and "楼上漏水" in html and "和平路1号" in html and "投诉" in html
        assert "139****5678" in html and "13912345678" not in html
        assert 'value="物业管理"' in html  # the category given at intake is the starting point
        assert "办理时限：15 个工作日，截止 2026-11-23 23:59" in html
        assert first in html  # possible duplicate, for 并单
        # history as the case page labels it: the person's name and unit, not the login (issue 15)
        assert re.search(r'<span class="actor">受理员小王</span><span class="muted unit">（指挥中心）</span>', html)
        assert '<span class="actor">operator</span>' not in html
        preview = page(client.get(f"/tasks/{task_id}/deadline-preview?difficulty=complex"))
        assert "办理时限：20 个工作日，截止 2026-11-30 23:59" in preview
        preview = page(client.get(f"/tasks/{task_id}/deadline-preview?difficulty=simple&urgent=true"))
        assert "办理时限：0 个工作日，截止 2026-11-02 23:59" in preview
        assert login("handler").get(f"/tasks/{task_id}/deadline-preview").status_code == 403

        response = client.post(f"/tasks/{task_id}", data={"decision": "dispatch", "category": "物业管理",
                                                          "difficulty": "complex", "department": ""})
        assert response.status_code == 303 and response.location.endswith("/tasks")
        with client.client.session_transaction() as session:
            assert session["_flashes"][-1][1] == f"已办理：{number}「派单/转办」"
        case = driver.show(number)
    assert case["deadline"] == "2026-11-30T15:59:59+00:00"  # what the preview said
    assert case["department"] == "community_building"  # 物业管理 by the routing table
    assert case["history"][-1]["source"] == "web"


def test_invalid_data_comes_back_at_its_field_with_values_kept(login, driver, core):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    client = login("dispatcher")
    response = client.post(f"/tasks/{task_id}", data={"decision": "refuse", "note": "我写的备注"})
    assert response.status_code == 400
    html = page(response)
    assert re.search(r'id="field-refuse_reason".*?<span class="field-error"[^>]*>必填</span>', html, re.S)
    assert "我写的备注" in html and 'value="refuse" checked' in html
    html = page(client.post(f"/tasks/{task_id}", data={"decision": "merge_duplicate", "duplicate_of": "HD-1"}))
    assert re.search(r'id="field-duplicate_of".*?格式不正确', html, re.S) and 'value="HD-1"' in html
    html = page(client.post(f"/tasks/{task_id}", data={"decision": "merge_duplicate",
                                                       "duplicate_of": "HD-20000101-0001"}))
    assert "原工单号不存在" in html
    html = page(client.post(f"/tasks/{task_id}", data={"decision": "dispatch", "category": "城市管理",
                                                       "difficulty": "normal", "department": "nowhere"}))
    assert "承办部门不存在" in html
    assert status(core, number) == "registered" and len(audit_rows(core, number)) == 1


def test_conflict_keeps_the_typed_data(login, driver, core):
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    client = login("dispatcher")
    assert client.get(f"/tasks/{task_id}").status_code == 200
    driver.dispatch(number)  # someone else was quicker
    response = client.post(f"/tasks/{task_id}", data={"decision": "refuse", "refuse_reason": "我刚打好的理由"})
    assert response.status_code == 409
    html = page(response)
    assert "已由 dispatcher 于" in html and "办理完毕" in html
    assert "我刚打好的理由" in html and "<fieldset class=\"plain\" disabled" in html
    assert status(core, number) == "dispatched"


def test_a_process_failure_is_a_clear_409(login, driver, core):
    deploy_variant(core, "case_lifecycle.bpmn", "department = department or routed_department",
                   "department = department or no_such_name")
    number = driver.register()
    task_id = driver.task(number, "dispatch")["id"]
    response = login("dispatcher").post(f"/tasks/{task_id}", data={
        "decision": "dispatch", "category": "城市管理", "difficulty": "normal", "note": "派单备注"})
    assert response.status_code == 409
    assert "流程执行出错" in page(response) and "派单备注" in page(response)
    with core.db.read() as session:
        assert session.scalars(select(Incident)).first() is not None
    assert status(core, number) == "registered"


def test_the_whole_loop_through_the_forms(login, driver, core):
    number = driver.register()
    dispatcher, handler = login("dispatcher"), login("handler")

    def submit(client, bpmn_id, data, expect=303):
        task_id = driver.task(number, bpmn_id)["id"]
        assert client.get(f"/tasks/{task_id}").status_code == 200
        response = client.post(f"/tasks/{task_id}", data=data)
        assert response.status_code == expect, page(response)
        return response

    submit(dispatcher, "dispatch", {"decision": "dispatch", "category": "城市管理", "difficulty": "normal",
                                    "department": ""})
    submit(handler, "sign_for", {"decision": "sign_for", "return_reason": ""})
    response = submit(handler, "handle", {"decision": "extension_request", "extension_days": "三"}, expect=400)
    assert "请填写数字" in page(response)
    submit(handler, "handle", {"decision": "reply", "reply_text": "已协调施工方停止夜间施工"})
    # No choice made is no decision: the two-way choice is required (it used to be a checkbox, "no" when empty)
    response = submit(dispatcher, "verify", {"verify_note": ""}, expect=400)
    assert re.search(r'id="field-verify_result".*?必填', page(response), re.S)
    response = submit(dispatcher, "verify", {"verify_result": "failed", "verify_note": ""}, expect=400)
    assert re.search(r'id="field-verify_note".*?必填', page(response), re.S)
    submit(dispatcher, "verify", {"verify_result": "passed"})
    submit(dispatcher, "follow_up", {"satisfaction": "satisfied", "follow_up_note": "居民表示满意"})
    case = driver.show(number)
    assert case["status"] == "closed" and case["satisfaction"] == "satisfied"
    assert [h["source"] for h in case["history"][1:]] == ["web"] * 5  # the follow-up closed it: no 销号 step
    assert rows(page(dispatcher.get("/tasks"))) == []


def test_handler_tasks_on_a_phone_sized_layout_are_one_page(login, driver):
    number = driver.register()
    driver.dispatch(number)
    html = page(login("handler").get("/tasks"))
    assert 'class="list responsive worklist"' in html and 'name="viewport"' in html
    with driver.core.db.read() as session:
        assert session.scalar(select(ReadyTask.department).where(ReadyTask.bpmn_id == "sign_for")) == "chengguan"
