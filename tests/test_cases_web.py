"""The case page, the reporter reveal, the diagram JSON and the case search, through the real app."""
from __future__ import annotations

from datetime import datetime

import pytest

from app.cases.search import Criteria, search_cases
from app.web.access import WebUser
from tests.conftest import at, audit_rows

PHONE = "13912345678"


@pytest.fixture
def chengguan_case(driver, clock):
    """Registered with a reporter, dispatched to chengguan (城市管理), waiting for 签收."""
    number = driver.register(text="小区门口路灯不亮", address="幸福路12号", reporter_name="王小明",
                             reporter_phone=PHONE)
    driver.dispatch(number)
    return number


def page(client, url):
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


# -- who may open a case ------------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["viewer", "operator", "dispatcher", "center", "discipline", "party", "admin",
                                  "handler"])
def test_case_page_opens_for_roles_that_see_the_case(login, chengguan_case, user):
    status, body = page(login(user), f"/cases/{chengguan_case}")
    assert status == 200, user
    assert chengguan_case in body and "小区门口路灯不亮" in body and "幸福路12号" in body
    assert "已派单" in body and "城管执法中队" in body  # status and department as labels, not identifiers


@pytest.mark.parametrize("user", ["handler2", "grid"])
def test_case_page_is_forbidden_outside_the_users_scope(login, chengguan_case, user):
    status, body = page(login(user), f"/cases/{chengguan_case}")
    assert status == 403 and "无权访问" in body and "小区门口路灯不亮" not in body
    assert login(user).get(f"/cases/{chengguan_case}/diagram").status_code == 403


def test_unknown_case_is_404_and_anonymous_goes_to_login(login, chengguan_case):
    assert page(login("viewer"), "/cases/HD-20000101-9999")[0] == 404
    assert login("viewer").get("/cases/HD-20000101-9999/diagram").status_code == 404
    response = login(None).get(f"/cases/{chengguan_case}")
    assert response.status_code == 302 and "/login" in response.location


def test_grid_worker_sees_the_cases_of_their_grid(login, driver, clock):
    number = driver.register(channel="grid", text="井盖缺失", grid="G01", user="grid")
    assert page(login("grid"), f"/cases/{number}")[0] == 200
    other = driver.register(text="别的网格")
    assert page(login("grid"), f"/cases/{other}")[0] == 403


# -- reporter masking and the audited reveal -------------------------------------------------------------
@pytest.mark.parametrize("user", ["viewer", "handler", "center"])
def test_reporter_is_masked_for_everyone_without_the_reveal_right(login, chengguan_case, user):
    status, body = page(login(user), f"/cases/{chengguan_case}")
    assert status == 200
    assert "139****5678" in body and PHONE not in body
    assert "王**" in body and "王小明" not in body
    assert "显示完整号码" not in body


@pytest.mark.parametrize("user", ["operator", "dispatcher"])
def test_operator_and_dispatcher_reveal_the_phone_and_each_look_is_audited(login, core, chengguan_case, user):
    client = login(user)
    status, body = page(client, f"/cases/{chengguan_case}")
    assert "139****5678" in body and PHONE not in body and "显示完整号码" in body
    response = client.post(f"/cases/{chengguan_case}/reporter")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and PHONE in body and "王小明" in body
    assert response.headers["Cache-Control"] == "no-store"
    rows = audit_rows(core, chengguan_case, "reveal_reporter")
    assert [(r.actor, r.source) for r in rows] == [(user, "web")]
    assert "查看完整号码" in body  # the look itself is on the timeline
    # only that response: the next plain view is masked again
    assert PHONE not in page(client, f"/cases/{chengguan_case}")[1]


@pytest.mark.parametrize("user", ["viewer", "handler", "center", "admin"])
def test_reveal_is_forbidden_without_the_right_and_writes_nothing(login, core, chengguan_case, user):
    response = login(user).post(f"/cases/{chengguan_case}/reporter")
    assert response.status_code == 403 and PHONE not in response.get_data(as_text=True)
    assert audit_rows(core, chengguan_case, "reveal_reporter") == []


def test_reveal_of_an_unknown_case_is_404(login, core, clock):
    assert login("operator").post("/cases/HD-20000101-9999/reporter").status_code == 404


# -- what the page shows ---------------------------------------------------------------------------------
def test_complaint_text_is_escaped_on_the_page_and_in_search(login, driver, clock):
    number = driver.register(text='<script>alert("x")</script> 占道经营', address="<b>人民路</b>")
    status, body = page(login("viewer"), f"/cases/{number}")
    assert status == 200
    assert '<script>alert("x")' not in body and "&lt;script&gt;alert(" in body
    assert "<b>人民路</b>" not in body and "&lt;b&gt;人民路&lt;/b&gt;" in body
    status, body = page(login("viewer"), "/cases/search?q=占道")
    assert status == 200 and number in body
    assert '<script>alert("x")' not in body and "&lt;script&gt;alert(" in body


def test_timeline_names_who_did_what_in_chinese(login, driver, chengguan_case):
    driver.sign(chengguan_case)
    driver.do(chengguan_case, "handle", "handler", decision="extension_request", extension_days=3,
              extension_reason="<i>需要</i>采购配件")
    body = page(login("viewer"), f"/cases/{chengguan_case}")[1]
    timeline = body.split('class="timeline case-timeline"')[1].split("</ol>")[0]
    for word in ("受理", "派单", "签收", "延期申请", "受理员小王", "指挥中心小李", "城管中队小张"):
        assert word in timeline, word
    assert timeline.index("受理") < timeline.index("派单") < timeline.index("签收")
    assert "需要" in timeline and "<i>需要</i>" not in timeline  # submitted data shown, never as HTML
    assert "延期工作日数" in timeline  # form titles, not field identifiers
    assert "办理中" in timeline  # the status change the action made


def test_my_actions_link_to_the_task_page_only_for_who_may_do_them(login, driver, chengguan_case):
    sign_for = driver.task(chengguan_case, "sign_for")
    mine = page(login("handler"), f"/cases/{chengguan_case}")[1]
    actions = mine.split('class="card my-actions"')[1].split("</section>")[0]
    assert f'/tasks/{sign_for["id"]}' in actions and "签收" in actions
    for user in ("viewer", "dispatcher"):
        actions = page(login(user), f"/cases/{chengguan_case}")[1].split('class="card my-actions"')[1]
        assert f'/tasks/{sign_for["id"]}' not in actions.split("</section>")[0]
    # every user still sees where the case waits
    assert "签收" in page(login("viewer"), f"/cases/{chengguan_case}")[1]


def test_claims_and_incidents_show_on_the_case_page(login, core, driver, chengguan_case):
    from sqlalchemy import select, update

    from app.cases.models import Case, ReadyTask
    from app.cases.services import record_incident
    sign_for = driver.task(chengguan_case, "sign_for")
    with core.db.unit_of_work() as session:
        session.execute(update(ReadyTask).where(ReadyTask.id == sign_for["id"]).values(assignee="handler"))
        case_id = session.scalar(select(Case.id).where(Case.number == chengguan_case))
    record_incident(core, case_id, "route: <b>NameError</b> name 'x' is not defined", "scheduler", "route")
    body = page(login("viewer"), f"/cases/{chengguan_case}")[1]
    assert "认领人：城管中队小张" in body
    incidents = body.split('class="card incidents"')[1].split("</section>")[0]
    assert "NameError" in incidents and "<b>NameError</b>" not in incidents and "route" in incidents
    assert "流程异常" in body.split('class="case-badges"')[1].split("</div>")[0]


def test_supervision_items_and_their_records_show_on_the_case_page(login, driver, clock):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))  # the handling deadline (end of 11-04) has passed
    assert driver.fire() == 1
    driver.do(number, "urge", "center", urge_note="请于三日内办结", department_response="正在协调")
    body = page(login("viewer"), f"/cases/{number}")[1]
    section = body.split('class="card supervision"')[1].split("</section>")[0]
    assert "社会治理中心督办" in section and "拖延办理" in section and "督办中" in section
    assert "请于三日内办结" in section and "催办内容" in section and "社会治理中心督办员" in section


# -- the diagram JSON -------------------------------------------------------------------------------------
def test_diagram_json_has_the_path_after_dispatch(login, chengguan_case):
    response = login("viewer").get(f"/cases/{chengguan_case}/diagram")
    assert response.status_code == 200
    body = response.get_json()
    assert "<bpmn:definitions" in body["xml"] or "definitions" in body["xml"]
    assert {"register_start", "register", "dispatch", "assign"} <= set(body["completed"])
    assert body["ready"] == ["sign_for"]
    assert "sign_for_deadline" in body["waiting"]
    assert body["supervision"] is None


def test_diagram_json_has_the_supervision_run_once_escalated(login, driver, clock):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    driver.sign(number)
    clock.move_to(at(2026, 11, 5, 9, 0))  # the handling deadline (end of 11-04) has passed
    assert driver.fire() == 1
    body = login("handler").get(f"/cases/{number}/diagram").get_json()
    assert "handle" in body["ready"] and "supervise_delay" in body["ready"]
    assert "handle_deadline" in body["completed"] and "sign_for" in body["completed"]
    run = body["supervision"]
    assert run["call"] == "supervise_delay" and run["finished"] is False
    assert "supervision_escalation" in run["xml"]
    assert "urge" in run["ready"] and "open_tier1" in run["completed"]


# -- search -----------------------------------------------------------------------------------------------
def numbers_of(core, user, **args):
    with core.db.read() as session:
        criteria = Criteria(**{k: v for k, v in args.items() if k != "page"})
        result = search_cases(session, user, criteria, args.get("page", 1))
        return [r.number for r in result.rows], result.has_next


VIEWER = WebUser(1, "viewer", "viewer", {"viewer"})
DISPATCHER = WebUser(2, "dispatcher", "dispatcher", {"dispatcher"})  # may search by phone (calls back)


@pytest.fixture
def several(driver, clock):
    """Cases on three Shanghai days, with different channels, types, departments and statuses."""
    made = {}
    made["lamp"] = driver.register(text="路灯不亮", address="幸福路1号", reporter_phone="13900000001")
    driver.dispatch(made["lamp"])  # -> chengguan, dispatched
    clock.move_to(at(2026, 11, 3, 23, 30))  # still 11-03 in Shanghai (15:30 UTC)
    made["noise"] = driver.register(channel="web", type="举报", text="夜间施工噪音", address="和平街8号",
                                    reporter_phone="13900000002")
    driver.dispatch(made["noise"], category="社区事务")
    clock.move_to(at(2026, 11, 4, 0, 30))  # 11-04 in Shanghai, still 11-03 in UTC
    made["tree"] = driver.register(channel="grid", type="建议", text="建议补种行道树", address="幸福路9号",
                                   grid="G01", reporter_phone="13900000003", user="grid")
    return made


def test_search_filters_each_find_the_right_cases(core, several):
    lamp, noise, tree = several["lamp"], several["noise"], several["tree"]
    assert numbers_of(core, VIEWER) == ([tree, noise, lamp], False)  # newest first
    assert numbers_of(core, VIEWER, number=noise)[0] == [noise]
    assert numbers_of(core, VIEWER, number=lamp[:11])[0] == [lamp]  # prefix HD-20261102
    assert numbers_of(core, VIEWER, number="HD-2026110")[0] == [tree, noise, lamp]
    assert numbers_of(core, DISPATCHER, phone="13900000002")[0] == [noise]
    assert numbers_of(core, DISPATCHER, phone="1390000000")[0] == []  # phone is exact
    assert numbers_of(core, VIEWER, q="噪音")[0] == [noise]
    assert numbers_of(core, VIEWER, q="幸福路")[0] == [tree, lamp]  # the address counts too
    assert numbers_of(core, VIEWER, q="50%")[0] == []
    assert numbers_of(core, VIEWER, status="dispatched")[0] == [noise, lamp]
    assert numbers_of(core, VIEWER, status="registered")[0] == [tree]
    assert numbers_of(core, VIEWER, department="chengguan")[0] == [lamp]
    assert numbers_of(core, VIEWER, status="dispatched", department="community_building")[0] == [noise]
    assert numbers_of(core, VIEWER, channel="grid")[0] == [tree]
    assert numbers_of(core, VIEWER, type="report")[0] == [noise]
    assert numbers_of(core, VIEWER, channel="phone", type="complaint")[0] == [lamp]
    # date range in Shanghai days, both ends included
    d = datetime.fromisoformat
    assert numbers_of(core, VIEWER, date_from=d("2026-11-03").date(), date_to=d("2026-11-03").date())[0] == [noise]
    assert numbers_of(core, VIEWER, date_from=d("2026-11-04").date())[0] == [tree]
    assert numbers_of(core, VIEWER, date_to=d("2026-11-02").date())[0] == [lamp]


def test_search_is_scoped_like_the_case_page(core, several):
    handler = WebUser(2, "handler", "h", {"handler"}, "chengguan")
    handler2 = WebUser(3, "handler2", "h2", {"handler"}, "community_building")
    grid = WebUser(4, "grid", "g", {"grid_worker"}, None, "G01")
    assert numbers_of(core, handler)[0] == [several["lamp"]]
    assert numbers_of(core, handler2)[0] == [several["noise"]]
    assert numbers_of(core, grid)[0] == [several["tree"]]
    assert numbers_of(core, handler2, number=several["lamp"])[0] == []


def test_search_page_renders_filters_masks_phones_and_paginates(login, driver, clock):
    numbers = []
    for i in range(23):
        clock.shift(60)
        numbers.append(driver.register(text=f"第{i}件 楼道堆物", reporter_phone=f"1390000{i:04d}"))
    client = login("viewer")
    status, body = page(client, "/cases/search?q=楼道")
    assert status == 200
    assert numbers[-1] in body and numbers[3] in body and numbers[2] not in body  # 20 newest
    assert "139****0022" in body and "13900000022" not in body
    assert "下一页" in body and "上一页" not in body
    assert "q=%E6%A5%BC%E9%81%93" in body and "page=2" in body  # the next link keeps the criteria
    status, body = page(client, "/cases/search?q=楼道&page=2")
    assert [n for n in numbers if n in body] == numbers[:3]
    assert "下一页" not in body and "上一页" in body
    assert '<a class="button prev" rel="prev" href="/cases/search?q=%E6%A5%BC%E9%81%93&amp;page=1">' in body
    status, body = page(login("dispatcher"), "/cases/search?phone=13900000007")
    assert numbers[7] in body and numbers[8] not in body
    assert 'class="pagination"' not in body  # one page: no pager
    status, body = page(client, "/cases/search?q=没有这件事")
    assert '<p class="muted empty-result">没有符合条件的工单。</p>' in body and "<table" not in body


def test_search_page_reports_bad_values_instead_of_failing(login, several):
    status, body = page(login("viewer"), "/cases/search?date_from=2026-13-40&status=nope&phone=abc&page=x")
    assert status == 200
    assert "日期格式应为 YYYY-MM-DD" in body and "无此选项" in body and "电话号码只能包含数字" in body
    assert several["lamp"] in body  # the bad filters are dropped, the rest still searches


def test_search_page_for_handler2_hides_other_departments(login, several):
    body = page(login("handler2"), "/cases/search")[1]
    assert several["noise"] in body and several["lamp"] not in body and several["tree"] not in body


def test_search_needs_a_login(login, core):
    response = login(None).get("/cases/search?q=x")
    assert response.status_code == 302 and "/login" in response.location


def test_a_number_prefix_search_can_use_an_index_on_postgresql(core, several):
    """LIKE 'prefix%' needs an index in the "C" collation (migration 0043), and the newest of the
    prefix come off it backwards with no sort: without it a day's search walked every case (0.5 s at
    300 000; 1.2 s at 1 000 000 when only the filter had an index). Sequential scans are switched
    off here so that the plan shows whether an index *can* serve the prefix, whatever the tiny
    table's statistics would make the planner prefer."""
    from sqlalchemy import text

    from app.cases.search import build_query
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite searches a prefix as a range of the unique index")
    prefix = several["lamp"][:11]
    with core.db.read() as session:
        query = build_query(session, VIEWER, Criteria(number=prefix)).limit(21)
        session.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "Index Scan Backward using ix_cases_number_c" in plan and "Sort" not in plan, plan
