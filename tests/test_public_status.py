"""The public status page /status: a case number and the phone's last four digits show the status
and the plain timeline, nothing personal; a wrong phone reads exactly like an unknown number; the
lookups are rate-limited per address."""
from __future__ import annotations

import re

import pytest

PHONE = "13912345678"
NAME = "王小明"


@pytest.fixture
def status_case(driver):
    number = driver.register(text="幸福路 12 号门口路灯不亮，联系人王小明 13912345678", address="幸福路12号",
                             reporter_name=NAME, reporter_phone=PHONE)
    driver.dispatch(number)
    driver.sign(number)
    return number


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_the_page_opens_without_login_and_fits_a_phone(login):
    response = login(None).get("/status")
    assert response.status_code == 200
    body = _body(response)
    assert 'name="viewport"' in body and 'name="tail"' in body and 'inputmode="numeric"' in body
    assert "csrf_token" in body


def test_number_and_tail_show_status_and_timeline_without_personal_data(login, status_case):
    response = login(None).post("/status", data={"number": status_case.lower(), "tail": "5678"})
    assert response.status_code == 200
    body = _body(response)
    assert 'id="status-result"' in body and status_case in body
    labels = re.findall(r'<span class="step-label">([^<]+)</span>', body)
    assert labels == ["受理", "派单", "办理中", "已答复", "已回访", "已办结"]
    assert re.findall(r'<li class="step-(\w+)">', body) == ["done", "done", "current", "pending", "pending",
                                                            "pending"]
    assert "承办部门办理中" in body and "城管执法中队" in body
    # nothing personal: no name, no phone (whole or masked), no text, no address, no staff
    for secret in (NAME, "王", PHONE, "1391", "5678", "****", "幸福路", "路灯不亮", "operator", "dispatcher",
                   "handler", "受理员", "张", "已修复"):
        assert secret not in body, secret


def test_a_closed_case_shows_every_step_done(login, driver, status_case):
    driver.reply(status_case)
    driver.do(status_case, "verify", "dispatcher", verify_result="passed")
    driver.do(status_case, "follow_up", "dispatcher", satisfaction="satisfied")
    body = _body(login(None).post("/status", data={"number": status_case, "tail": "5678"}))
    assert re.findall(r'<li class="step-(\w+)">', body) == ["done"] * 6
    assert "已办结" in body and "办理时限" not in body


def test_wrong_tail_reads_exactly_like_an_unknown_number(login, status_case):
    client = login(None)
    wrong = client.post("/status", data={"number": status_case, "tail": "0000"})
    unknown = client.post("/status", data={"number": "HD-20991231-9999", "tail": "5678"})
    assert wrong.status_code == unknown.status_code == 200
    # the echoed number and the CSRF token differ, nothing else does
    same = lambda body: re.sub(r'value="[^"]*"', "", body)
    assert same(_body(wrong)) == same(_body(unknown))
    assert 'id="status-result"' not in _body(wrong)


def test_a_case_without_phone_is_never_found(login, driver):
    number = driver.register(text="网格巡查发现井盖缺失", channel="grid", user="grid", grid="G01")
    body = _body(login(None).post("/status", data={"number": number, "tail": "0000"}))
    assert 'id="status-result"' not in body and "没有找到" in body


@pytest.mark.parametrize("form, message", [({"number": "<script>", "tail": "1234"}, "请填写工单号"),
                                           ({"number": "HD-20261102-0001", "tail": "12a4"}, "后四位"),
                                           ({}, "请填写工单号")])
def test_malformed_input_is_a_clear_400(login, form, message):
    response = login(None).post("/status", data=form)
    assert response.status_code == 400 and message in _body(response)


def test_lookups_are_rate_limited_per_address(app, login, status_case):
    app.config["STATUS_RATE_LIMIT"] = "3 per minute"
    client = login(None)
    codes = [client.post("/status", data={"number": status_case, "tail": f"{i:04d}"}).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    # even the right answer is refused now: guessing cannot go on past the limit
    assert client.post("/status", data={"number": status_case, "tail": "5678"}).status_code == 429
    other = app.test_client()
    response = other.post("/status", data={"number": status_case, "tail": "5678"},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200 and 'id="status-result"' in _body(response)
    assert client.get("/status").status_code == 200  # reading the form is not limited


def test_the_form_carries_csrf_when_protection_is_on(core):
    from app import create_app
    app = create_app({"TESTING": True, "SECRET_KEY": "test"}, core=core)
    client = app.test_client()
    assert client.post("/status", data={"number": "HD-20261102-0001", "tail": "1234"}).status_code == 400
    page = _body(client.get("/status"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/status", data={"csrf_token": token, "number": "HD-20261102-0001", "tail": "1234"})
    assert response.status_code == 200
