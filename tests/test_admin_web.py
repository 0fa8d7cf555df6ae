"""Admin pages through the real app: users, departments, calendar overrides, audit, access.

Users and departments survive between tests (conftest keeps those tables), so every test makes
its own with a fresh name and never deactivates or renames a demo one.
"""
from __future__ import annotations

import random
import re
import string
from datetime import date

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import AuditEntry, ReadyTask
from app.org.models import Department

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/departments", "/admin/calendar", "/admin/calendar?all=1"]
NON_ADMINS = ["designer", "operator", "dispatcher", "handler", "center", "party", "grid", "viewer"]


def letters(k: int = 8) -> str:
    return "".join(random.choices(string.ascii_lowercase, k=k))


def admin_audit(core, action: str | None = None) -> list[AuditEntry]:
    with core.db.read() as session:
        query = select(AuditEntry).where(AuditEntry.case_id.is_(None))
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def user_row(core, username: str) -> User | None:
    with core.db.read() as session:
        return session.scalars(select(User).where(User.username == username)).first()


def new_user(client, username=None, password="s3cret-pass", roles=("viewer",), **extra) -> str:
    username = username or f"u_{letters()}"
    data = {"username": username, "display_name": extra.pop("display_name", "测试用户"), "roles": list(roles),
            "department": extra.pop("department", ""), "grid": extra.pop("grid", ""),
            "password": password, "password_confirm": extra.pop("password_confirm", password)}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return username


def can_login(login, username: str, password: str) -> int:
    return login(None).post("/login", data={"username": username, "password": password}).status_code


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


# -- access ----------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_every_admin_page_opens_for_the_admin(login, url):
    response = login("admin").get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "系统管理" in html and 'class="tabs admin-tabs"' in html
    # every POST form carries the CSRF token
    assert html.count('method="post"') == html.count('name="csrf_token"')


@pytest.mark.parametrize("username", NON_ADMINS)
def test_everyone_else_gets_403_on_pages_and_actions(login, core, username):
    client = login(username)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
    posts = {"/admin/users/new": {"username": "intruder", "roles": ["admin"], "password": "x" * 10,
                                  "password_confirm": "x" * 10},
             "/admin/users/1": {"roles": ["admin"]}, "/admin/users/1/active": {"active": "0"},
             "/admin/users/1/password": {"password": "y" * 10, "password_confirm": "y" * 10},
             "/admin/departments": {"code": "intruders", "name": "入侵"},
             "/admin/departments/chengguan/rename": {"name": "改名"},
             "/admin/calendar": {"day": "2026-10-08", "kind": "holiday"},
             "/admin/calendar/2026-10-08/remove": {}}
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert user_row(core, "intruder") is None and admin_audit(core) == []


def test_anonymous_is_sent_to_login(login):
    client = login(None)
    for url in ADMIN_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location
    assert client.post("/admin/departments", data={"code": "x", "name": "x"}).status_code == 302


def test_nav_shows_system_admin_only_to_admins(login):
    assert 'href="/admin/users"' in login("admin").get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' not in login("viewer").get("/no-such-page").get_data(as_text=True)


# -- users -----------------------------------------------------------------------------------
def test_created_user_is_listed_audited_and_can_log_in(login, core):
    admin = login("admin")
    username = new_user(admin, password="Pass-word-1", roles=("handler",), department="chengguan",
                        display_name="新同事")
    row = user_row(core, username)
    assert row.roles == {"handler"} and row.department == "chengguan" and row.active
    assert row.password_hash.startswith("$argon2") and "Pass-word-1" not in row.password_hash
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert username in listing and "新同事" in listing and "城管执法中队" in listing
    [entry] = admin_audit(core, "user_create")
    assert entry.actor == "admin" and entry.source == "web" and entry.case_id is None
    assert entry.changes["user"] == username and entry.changes["roles"] == ["handler"]
    assert "Pass-word-1" not in repr(entry.changes)
    assert can_login(login, username, "Pass-word-1") == 302
    assert can_login(login, username, "wrong-password") == 401


@pytest.mark.parametrize("data, field, message", [
    ({"username": "handler"}, "username", "已被使用"),
    ({"username": "HANDLER"}, "username", "已被使用"),
    ({"username": "有空 格"}, "username", "字母、数字"),
    ({"roles": []}, "roles", "至少选择一个角色"),
    ({"roles": ["emperor"]}, "roles", "未知角色"),
    ({"roles": ["handler"], "department": ""}, "department", "必须选择所属部门"),
    ({"department": "no_such_department"}, "department", "没有这个部门"),
    ({"grid": "G99"}, "grid", "没有这个网格"),
    ({"password": "short", "password_confirm": "short"}, "password", "至少 10 位"),
    ({"password_confirm": "something-else"}, "password_confirm", "不一致"),
])
def test_create_user_validation_keeps_the_form(login, core, data, field, message):
    form = {"username": f"v_{letters()}", "display_name": "王五", "roles": ["viewer"], "department": "",
            "grid": "", "password": "Good-passw0rd", "password_confirm": "Good-passw0rd", **data}
    response = login("admin").post("/admin/users/new", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert f'value="{form["username"]}"' in html and 'value="王五"' in html  # what was typed stays
    assert "Good-passw0rd" not in html  # passwords are never sent back
    if form["username"] not in ("handler", "HANDLER"):
        assert user_row(core, form["username"]) is None
    assert admin_audit(core) == []


def test_several_mistakes_are_reported_together(login):
    response = login("admin").post("/admin/users/new", data={"username": "", "roles": ["handler"],
                                                             "password": "x", "password_confirm": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(html, "username") and field_error(html, "department") and field_error(html, "password")


def test_edit_roles_department_grid_and_name(login, core):
    admin = login("admin")
    username = new_user(admin, roles=("viewer",))
    user_id = user_row(core, username).id
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert username in page and re.search(r'value="viewer"\s*checked', page)
    response = admin.post(f"/admin/users/{user_id}", data={"display_name": "网格员老刘", "roles": ["grid_worker", "viewer"],
                                                           "department": "", "grid": "G02"})
    assert response.status_code == 302
    row = user_row(core, username)
    assert row.roles == {"grid_worker", "viewer"} and row.grid == "G02" and row.display_name == "网格员老刘"
    [entry] = admin_audit(core, "user_update")
    assert entry.actor == "admin" and entry.source == "web"
    assert entry.changes["roles"] == [["viewer"], ["grid_worker", "viewer"]] and entry.changes["grid"] == [None, "G02"]

    # handler needs a department; the form comes back with the choices kept
    response = admin.post(f"/admin/users/{user_id}", data={"display_name": "网格员老刘", "roles": ["handler"],
                                                           "department": "", "grid": "G02"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "必须选择所属部门" in field_error(html, "department")
    assert re.search(r'value="handler"\s*checked', html)
    assert user_row(core, username).roles == {"grid_worker", "viewer"}

    # the new roles take effect for the user's next request
    admin.post(f"/admin/users/{user_id}", data={"display_name": "x", "roles": ["admin"], "department": "", "grid": ""})
    client = login(None)
    client.post("/login", data={"username": username, "password": "s3cret-pass"})
    assert client.get("/admin/users").status_code == 200


def test_edit_unknown_user_is_404(login):
    admin = login("admin")
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999", data={"roles": ["viewer"]}).status_code == 404
    assert admin.post("/admin/users/999999/active", data={"active": "0"}).status_code == 404


def test_admin_cannot_lock_themself_out(login, core):
    admin = login("admin")
    admin_id = user_row(core, "admin").id
    response = admin.post(f"/admin/users/{admin_id}", data={"display_name": "系统管理员", "roles": ["viewer"],
                                                            "department": "", "grid": ""})
    assert response.status_code == 400 and "不能取消自己的系统管理员角色" in response.get_data(as_text=True)
    response = admin.post(f"/admin/users/{admin_id}/active", data={"active": "0"})
    assert response.status_code == 400 and "不能停用自己的账号" in response.get_data(as_text=True)
    row = user_row(core, "admin")
    assert row.active and "admin" in row.roles and admin_audit(core) == []


def test_deactivated_user_cannot_log_in_loses_the_session_and_releases_claims(login, core, driver):
    admin = login("admin")
    username = new_user(admin, roles=("handler",), department="chengguan")
    user_id = user_row(core, username).id
    session_client = login(None)
    assert session_client.post("/login", data={"username": username, "password": "s3cret-pass"}).status_code == 302
    number = driver.register()
    driver.dispatch(number, department="chengguan")
    with core.db.unit_of_work() as session:  # as if the user had claimed the sign-for task
        task = session.scalars(select(ReadyTask)).one()
        task.assignee = username

    assert admin.get(f"/admin/users/{user_id}").get_data(as_text=True).count("1 件待办") == 1
    response = admin.post(f"/admin/users/{user_id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert not user_row(core, username).active
    assert can_login(login, username, "s3cret-pass") == 401
    assert "/login" in session_client.get("/admin/users").location  # the open session ended too
    with core.db.read() as session:
        assert session.scalars(select(ReadyTask.assignee)).one() is None
    [entry] = admin_audit(core, "user_deactivate")
    assert entry.changes == {"user": username, "released_tasks": 1} and entry.actor == "admin"
    assert "已停用" in admin.get("/admin/users").get_data(as_text=True)

    assert admin.post(f"/admin/users/{user_id}/active", data={"active": "1"}).status_code == 302
    assert can_login(login, username, "s3cret-pass") == 302
    assert len(admin_audit(core, "user_activate")) == 1


def test_reset_password(login, core):
    admin = login("admin")
    username = new_user(admin, password="Old-passw0rd")
    user_id = user_row(core, username).id
    response = admin.post(f"/admin/users/{user_id}/password", data={"password": "abc", "password_confirm": "abc"})
    assert response.status_code == 400 and "至少 10 位" in field_error(response.get_data(as_text=True), "password")
    assert can_login(login, username, "Old-passw0rd") == 302

    response = admin.post(f"/admin/users/{user_id}/password",
                          data={"password": "Brand-new-pw1", "password_confirm": "Brand-new-pw1"})
    assert response.status_code == 302
    assert "Brand-new-pw1" not in admin.get(response.location).get_data(as_text=True)
    assert can_login(login, username, "Old-passw0rd") == 401
    assert can_login(login, username, "Brand-new-pw1") == 302
    [entry] = admin_audit(core, "user_password_reset")
    assert entry.changes == {"user": username} and entry.actor == "admin" and entry.source == "web"


def test_user_data_is_escaped(login, core):
    admin = login("admin")
    new_user(admin, display_name="<script>alert(1)</script>")
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- departments -----------------------------------------------------------------------------
def test_add_and_rename_department(login, core):
    admin = login("admin")
    code, name = f"office_{letters()}", f"住建办{letters(4)}"
    assert admin.post("/admin/departments", data={"code": code, "name": name}).status_code == 302
    html = admin.get("/admin/departments").get_data(as_text=True)
    assert f"<code>{code}</code>" in html and name in html
    [entry] = admin_audit(core, "department_add")
    assert entry.changes == {"code": code, "name": name} and entry.actor == "admin" and entry.source == "web"

    # the new department is offered for users at once
    assert f'value="{code}"' in admin.get("/admin/users/new").get_data(as_text=True)

    renamed = f"住房和城乡建设办{letters(4)}"
    assert admin.post(f"/admin/departments/{code}/rename", data={"name": renamed}).status_code == 302
    with core.db.read() as session:
        assert session.scalars(select(Department.name).where(Department.code == code)).one() == renamed
    [entry] = admin_audit(core, "department_rename")
    assert entry.changes == {"code": code, "name": [name, renamed]}


@pytest.mark.parametrize("code, name, field, message", [
    ("Chengguan", "某部门", "code", "小写字母和下划线"),
    ("dept2", "某部门", "code", "小写字母和下划线"),
    ("", "某部门", "code", "小写字母和下划线"),
    ("chengguan", "某部门", "code", "已存在"),
    ("brand_new", "", "name", "请填写部门名称"),
    ("brand_new", "城管执法中队", "name", "已有同名部门"),
])
def test_add_department_validation(login, core, code, name, field, message):
    response = login("admin").post("/admin/departments", data={"code": code, "name": name})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in field_error(html, field)
    assert f'value="{code}"' in html
    with core.db.read() as session:
        assert session.scalar(select(Department.id).where(Department.code == "brand_new")) is None
    assert admin_audit(core) == []


def test_rename_department_validation(login, core):
    admin = login("admin")
    response = admin.post("/admin/departments/chengguan/rename", data={"name": ""})
    assert response.status_code == 400 and "请填写部门名称" in response.get_data(as_text=True)
    response = admin.post("/admin/departments/chengguan/rename", data={"name": "社区建设办"})
    assert response.status_code == 400 and "已有同名部门" in response.get_data(as_text=True)
    assert admin.post("/admin/departments/no_such/rename", data={"name": "某"}).status_code == 404
    with core.db.read() as session:
        assert session.scalars(select(Department.name).where(Department.code == "chengguan")).one() == "城管执法中队"


# -- calendar overrides ----------------------------------------------------------------------
def test_calendar_override_changes_the_working_day_arithmetic(login, core):
    admin = login("admin")
    start = "2026-03-02T10:00:00+08:00"  # a Monday; Tuesday 3 March is a plain working day
    assert core.calendar.current().working_days_after(start, 1).date() == date(2026, 3, 3)

    response = admin.post("/admin/calendar", data={"day": "2026-03-03", "kind": "holiday", "note": "临时停工"})
    assert response.status_code == 302
    assert core.calendar.current().working_days_after(start, 1).date() == date(2026, 3, 4)
    [entry] = admin_audit(core, "calendar_override_add")
    assert entry.changes == {"date": "2026-03-03", "kind": "holiday", "note": "临时停工"}
    assert entry.actor == "admin" and entry.source == "web" and entry.case_id is None

    # a Saturday made a working day (调休)
    assert admin.post("/admin/calendar", data={"day": "2026-03-07", "kind": "workday"}).status_code == 302
    assert core.calendar.current().working_days_after("2026-03-06T10:00:00+08:00", 1).date() == date(2026, 3, 7)

    listing = admin.get("/admin/calendar?all=1").get_data(as_text=True)
    assert 'data-day="2026-03-03"' in listing and "临时停工" in listing and 'data-day="2026-03-07"' in listing

    assert admin.post("/admin/calendar/2026-03-03/remove").status_code == 302
    assert core.calendar.current().working_days_after(start, 1).date() == date(2026, 3, 3)
    [entry] = admin_audit(core, "calendar_override_remove")
    assert entry.changes == {"date": "2026-03-03", "kind": "holiday", "note": "临时停工"}
    assert 'data-day="2026-03-03"' not in admin.get("/admin/calendar?all=1").get_data(as_text=True)


def test_replacing_an_override_is_audited_with_what_it_replaced(login, core):
    admin = login("admin")
    admin.post("/admin/calendar", data={"day": "2026-12-28", "kind": "holiday", "note": "初稿"})
    admin.post("/admin/calendar", data={"day": "2026-12-28", "kind": "workday", "note": "改为上班"})
    first, second = admin_audit(core, "calendar_override_add")
    assert "replaced" not in first.changes
    assert second.changes["replaced"] == {"kind": "holiday", "note": "初稿"} and second.changes["kind"] == "workday"
    assert core.calendar.current().is_workday(date(2026, 12, 28))


def test_calendar_lists_upcoming_by_default_and_everything_on_request(login, core):
    core.calendar.add_override("2020-05-06", "holiday", "往年", actor="cli")
    core.calendar.set_provisional(2099, True, actor="cli")  # a correction needs a year the calendar knows
    core.calendar.add_override("2099-01-02", "holiday", "远期", actor="cli")
    admin = login("admin")
    upcoming = admin.get("/admin/calendar").get_data(as_text=True)
    assert 'data-day="2099-01-02"' in upcoming and 'data-day="2020-05-06"' not in upcoming
    everything = admin.get("/admin/calendar?all=1").get_data(as_text=True)
    assert 'data-day="2099-01-02"' in everything and 'data-day="2020-05-06"' in everything
    assert "未公布" in everything  # chinesecalendar knows nothing of 2099


@pytest.mark.parametrize("data, field, message", [
    ({"day": "2026-02-30", "kind": "holiday"}, "day", "YYYY-MM-DD"),
    ({"day": "明天", "kind": "holiday"}, "day", "YYYY-MM-DD"),
    ({"day": "", "kind": "holiday"}, "day", "YYYY-MM-DD"),
    ({"day": "2026-10-09", "kind": "sometimes"}, "kind", "工作日"),
    ({"day": "2026-10-09", "kind": "holiday", "note": "长" * 201}, "note", "200"),
    # One entry must never declare a whole unknown year (it used to make 2100 plain Monday-Friday).
    ({"day": "2100-01-01", "kind": "holiday", "note": "元旦"}, "day", "2100 年的节假日安排尚未导入"),
])
def test_calendar_validation(login, core, data, field, message):
    before = core.calendar.list_overrides()
    response = login("admin").post("/admin/calendar", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in field_error(html, field)
    if data["day"]:
        assert f'value="{data["day"]}"' in html
    assert core.calendar.list_overrides() == before and admin_audit(core) == []


def test_removing_a_missing_override_is_404(login):
    admin = login("admin")
    assert admin.post("/admin/calendar/2026-10-09/remove").status_code == 404
    assert admin.post("/admin/calendar/not-a-date/remove").status_code == 404


@pytest.mark.parametrize("password,message", [
    ("Short-1", "至少 10 位"),
    ("alllowercaseletters", "至少三类"),
    ("NoDigitsOrSymbolsHere", "至少三类"),
    ("Xx-policy_probe-1", "用户名"),
    ("Password123!", "太常见"),
    ("Bihuan123!!", "太常见"),
])
def test_the_password_policy_names_what_is_wrong(login, core, password, message):
    admin = login("admin")
    response = admin.post("/admin/users/new", data={
        "username": "policy_probe", "display_name": "张三", "roles": ["viewer"], "department": "", "grid": "",
        "password": password, "password_confirm": password})
    assert response.status_code == 400
    assert message in field_error(response.get_data(as_text=True), "password")
    assert user_row(core, "policy_probe") is None
