"""受理登记 and 网格上报 through the real app: roles, registration, duplicates, errors at their fields."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.cases.models import Case
from tests.conftest import audit_rows
from workflows.clock import utcnow

FORM = {"channel": "phone", "type": "complaint", "category": "城市管理", "text": "夜间施工噪音扰民",
        "address": "和平路88号", "grid": "G02", "reporter_name": "李四", "reporter_phone": "13912345678"}


def page(response) -> str:
    return response.get_data(as_text=True)


def case_row(core, number) -> Case:
    with core.db.read() as session:
        return session.scalars(select(Case).where(Case.number == number)).one()


@pytest.mark.parametrize("user", ["operator", "dispatcher", "admin"])
def test_register_page_for_intake_roles(login, user):
    response = login(user).get("/intake/register")
    assert response.status_code == 200
    html = page(response)
    assert "受理登记" in html and 'name="csrf_token"' in html
    for channel in ("公众电话投诉", "网络舆情", "社会治理平台件", "网上诉求"):
        assert channel in html
    assert 'value="grid"' not in html.split('id="channel"')[1].split("</select>")[0]  # grid reports use /patrol
    assert "第一网格" in html and "城市管理" in html  # grids, and categories from the routing table


@pytest.mark.parametrize("user", ["handler", "viewer", "grid", "center", "designer"])
def test_register_page_refuses_other_roles(login, user):
    assert login(user).get("/intake/register").status_code == 403
    assert login(user).post("/intake/register", data=FORM).status_code == 403


def test_anonymous_is_sent_to_login(login):
    response = login(None).get("/intake/register")
    assert response.status_code == 302 and "/login" in response.location


def test_register_creates_the_case_and_goes_to_its_page(login, core):
    client = login("operator")
    response = client.post("/intake/register", data={**FORM, "urgent": "on"})
    assert response.status_code == 302
    number = response.location.rsplit("/", 1)[1]
    assert response.location.endswith(f"/cases/{number}") and number.startswith("HD-")
    case = case_row(core, number)
    assert (case.channel, case.type, case.category, case.text, case.address, case.grid) == (
        "phone", "complaint", "城市管理", "夜间施工噪音扰民", "和平路88号", "G02")
    assert (case.reporter_name, case.reporter_phone, case.urgent, case.registered_by) == (
        "李四", "13912345678", True, "operator")
    [entry] = audit_rows(core, number)
    assert (entry.action, entry.actor, entry.source) == ("register", "operator", "web")
    with client.client.session_transaction() as session:
        assert (session["_flashes"][0][1]) == f"已受理，工单号 {number}"


def test_errors_come_back_at_their_field_with_the_values_kept(login, core):
    client = login("operator")
    response = client.post("/intake/register", data={**FORM, "text": "   "})
    assert response.status_code == 400
    html = page(response)
    assert 'id="text-error"' in html and "请填写诉求内容" in html
    assert 'value="和平路88号"' in html and 'value="李四"' in html and 'value="13912345678"' in html
    assert 'value="G02" selected' in html and 'value="complaint" selected' in html

    html = page(client.post("/intake/register", data={**FORM, "reporter_phone": "call me"}))
    assert 'id="reporter_phone-error"' in html and "电话号码" in html and "夜间施工噪音扰民" in html
    html = page(client.post("/intake/register", data={**FORM, "type": "gossip"}))
    assert 'id="type-error"' in html
    html = page(client.post("/intake/register", data={**FORM, "grid": "G99"}))
    assert 'id="grid-error"' in html
    with core.db.read() as session:
        assert session.scalars(select(Case)).first() is None


@pytest.mark.parametrize("change, field, chinese, english", [
    ({"channel": "fax"}, "channel", "请选择来源渠道", "Choose a channel"),
    ({"type": "gossip"}, "type", "请选择诉求类型", "Choose a request type"),
    ({"text": ""}, "text", "请填写诉求内容（最多 5000 字）", "Enter the request details (at most 5000 characters)"),
    ({"text": "长" * 5001}, "text", "请填写诉求内容（最多 5000 字）", "Enter the request details (at most 5000 characters)"),
    ({"reporter_phone": "call me"}, "reporter_phone", "电话号码只能包含数字、空格、+ 和 -",
     "A phone number may contain only digits, spaces, + and -"),
    ({"grid": "G99"}, "grid", "所选网格不存在", "The chosen grid does not exist"),
])
def test_each_refusal_is_said_at_its_field_in_the_page_language(login, change, field, chinese, english):
    client = login("operator")
    html = page(client.post("/intake/register", data={**FORM, **change}))
    assert f'<span class="field-error" id="{field}-error" role="alert">{chinese}</span>' in html
    assert html.count('class="field-error"') == 1 and 'class="form-error"' not in html
    client.get("/lang/en")
    html = page(client.post("/intake/register", data={**FORM, **change}))
    assert f'<span class="field-error" id="{field}-error" role="alert">{english}</span>' in html


def test_duplicates_partial_matches_phone_or_address_and_masks_the_phone(login, driver):
    same_phone = driver.register(reporter_phone="13912345678", address="别处1号", text="楼道堆物")
    same_address = driver.register(reporter_phone="13700000000", address="和平路88号", text="<script>alert(1)</script>")
    other = driver.register(reporter_phone="13600000000", address="光明路2号")
    client = login("operator")
    html = page(client.get("/intake/duplicates?phone=13912345678&address=和平路88号"))
    assert same_phone in html and same_address in html and other not in html
    assert "139****5678" in html and "13912345678" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    # htmx sends the form's own field names
    assert same_phone in page(client.get("/intake/duplicates?reporter_phone=13912345678&address="))
    assert "暂未发现重复件" in page(client.get("/intake/duplicates?phone=&address="))
    assert login("handler").get("/intake/duplicates?phone=13912345678").status_code == 403


def test_finished_and_old_cases_are_not_duplicates(login, driver):
    with time_machine.travel(utcnow() - timedelta(days=31), tick=False):
        old = driver.register(reporter_phone="13912345678")
    refused = driver.register(reporter_phone="13912345678")
    driver.do(refused, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
    html = page(login("operator").get("/intake/duplicates?phone=13912345678"))
    assert old not in html and refused not in html and "暂未发现重复件" in html


def test_submitting_with_duplicates_asks_to_confirm_first(login, driver, core):
    earlier = driver.register(reporter_phone="13912345678")
    client = login("operator")
    response = client.post("/intake/register", data=FORM)
    assert response.status_code == 200
    html = page(response)
    assert "仍然受理" in html and earlier in html and 'name="confirm_duplicates"' in html
    assert "夜间施工噪音扰民" in html  # the operator's text is still there
    with core.db.read() as session:
        assert len(session.scalars(select(Case)).all()) == 1
    response = client.post("/intake/register", data={**FORM, "confirm_duplicates": "1"})
    assert response.status_code == 302 and earlier not in response.location
    with core.db.read() as session:
        assert len(session.scalars(select(Case)).all()) == 2


def test_patrol_page_is_for_grid_workers_with_their_grid_preselected(login):
    html = page(login("grid").get("/intake/patrol"))
    assert "网格上报" in html and 'value="G01" selected' in html
    assert 'name="viewport"' in html and "patrol" in html
    for user in ("operator", "dispatcher", "handler", "viewer"):
        assert login(user).get("/intake/patrol").status_code == 403


def test_patrol_report_registers_a_grid_case(login, core):
    response = login("grid").post("/intake/patrol", data={
        "type": "report", "category": "市容环境", "text": "小区门口占道经营", "address": "和平路3号", "grid": "G01",
        "channel": "phone", "reporter_phone": "13900000000"})  # channel and reporter are fixed for patrols
    assert response.status_code == 302
    case = case_row(core, response.location.rsplit("/", 1)[1])
    assert (case.channel, case.type, case.grid, case.registered_by, case.reporter_phone) == (
        "grid", "report", "G01", "grid", None)


def test_patrol_error_keeps_values(login):
    response = login("grid").post("/intake/patrol", data={"type": "report", "text": "", "address": "和平路3号"})
    assert response.status_code == 400
    html = page(response)
    assert "请填写诉求内容" in html and 'value="和平路3号"' in html and 'value="report" checked' in html


def test_grid_worker_sees_duplicates_only_within_their_scope(login, driver):
    mine = driver.register(address="和平路3号", grid="G01")
    elsewhere = driver.register(address="和平路3号", grid="G03")
    html = page(login("grid").get("/intake/duplicates?address=和平路3号"))
    assert mine in html and elsewhere not in html
