"""协办单位 on /admin/units: list, add, rename, deactivate (admin only, CSRF tokens, audited); a
deactivated unit is refused as the co-handler of a new dispatch while its running part goes on; the
CLI ``bihuan joint unit`` follows the same rules."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.cases.models import AuditEntry
from app.errors import Invalid
from app.org.models import Department
from tests.test_joint_disposal import joint_dispatch


TEST_UNITS = ("sanitation_co", "new_unit", "u1", "c_store", "c_two")


@pytest.fixture(autouse=True)
def _forget_test_units(core):
    """Departments outlive a test (the suite keeps the seeded organisation): drop the ones made here."""
    yield
    from sqlalchemy import delete, update
    with core.db.unit_of_work() as session:
        session.execute(delete(Department).where(Department.code.in_(TEST_UNITS)))
        session.execute(update(Department).values(active=True))


def _unit(core, code):
    with core.db.read() as session:
        return session.scalars(select(Department).where(Department.code == code)).first()


def _audits(core, action):
    with core.db.read() as session:
        return [(a.actor, a.changes) for a in session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                                               .order_by(AuditEntry.id))]


def test_add_rename_deactivate_through_the_page(core, login):
    admin = login("admin")
    page = admin.get("/admin/units")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('method="post"') == html.count('name="csrf_token"')
    assert admin.post("/admin/units", data={"code": "sanitation_co", "name": "环卫公司",
                                            "kind": "outside"}).status_code == 302
    row = _unit(core, "sanitation_co")
    assert (row.name, row.kind, row.active) == ("环卫公司", "outside", True)
    assert 'data-code="sanitation_co"' in admin.get("/admin/units").get_data(as_text=True)
    assert admin.post("/admin/units/sanitation_co/rename", data={"name": "城发环卫公司"}).status_code == 302
    assert admin.post("/admin/units/sanitation_co/active", data={"active": "0"}).status_code == 302
    assert (_unit(core, "sanitation_co").name, _unit(core, "sanitation_co").active) == ("城发环卫公司", False)
    assert _audits(core, "unit_add") == [("admin", {"code": "sanitation_co", "name": "环卫公司", "kind": "outside"})]
    assert _audits(core, "unit_rename") == [("admin", {"code": "sanitation_co", "name": ["环卫公司", "城发环卫公司"]})]
    assert _audits(core, "unit_active") == [("admin", {"code": "sanitation_co", "active": [True, False]})]
    assert "已停用" in admin.get("/admin/units").get_data(as_text=True)
    assert admin.post("/admin/units/sanitation_co/active", data={"active": "1"}).status_code == 302
    assert _unit(core, "sanitation_co").active is True


@pytest.mark.parametrize("form, field", [
    ({"code": "", "name": "环卫公司", "kind": "outside"}, "代码"),
    ({"code": "bad code!", "name": "环卫公司", "kind": "outside"}, "代码"),
    ({"code": "x" * 80, "name": "环卫公司", "kind": "outside"}, "代码"),
    ({"code": "chengguan", "name": "新名字", "kind": "outside"}, "已存在"),  # never overwrites a department
    ({"code": "new_unit", "name": "城管执法中队", "kind": "outside"}, "名称已被"),
    ({"code": "new_unit", "name": "", "kind": "outside"}, "请填写名称"),
    ({"code": "new_unit", "name": "某单位", "kind": "department"}, "类型不正确"),
    ({"code": "new_unit", "name": "某\x00单位", "kind": "outside"}, "请填写名称"),
])
def test_bad_units_are_refused_at_their_field(core, login, form, field):
    response = login("admin").post("/admin/units", data=form)
    assert response.status_code == 400 and field in response.get_data(as_text=True)
    assert _unit(core, "new_unit") is None and _unit(core, "chengguan").name == "城管执法中队"
    assert _audits(core, "unit_add") == []


def test_only_units_of_the_page_kinds_and_only_admins(core, login):
    admin = login("admin")
    # A sub-district department is not renamed or deactivated here (it has /admin/departments).
    assert admin.post("/admin/units/chengguan/active", data={"active": "0"}).status_code == 404
    assert admin.post("/admin/units/nowhere/rename", data={"name": "x"}).status_code == 404
    assert admin.post("/admin/units/%00/active", data={"active": "0"}).status_code == 404
    assert _unit(core, "chengguan").active is True
    for user in ("dispatcher", "handler", "viewer"):
        client = login(user)
        assert client.get("/admin/units").status_code == 403
        assert client.post("/admin/units", data={"code": "u1", "name": "某单位", "kind": "outside"}).status_code == 403
    assert _unit(core, "u1") is None
    assert login(None).get("/admin/units").status_code in (302, 401)


def test_a_deactivated_unit_takes_no_new_part_but_its_running_one_goes_on(core, driver, clock):
    from app.joint import units
    with core.db.unit_of_work() as session:
        units.add(session, "admin", code="sanitation_co", name="环卫公司", kind="outside")
    running = driver.register(text="河道垃圾堆积")
    joint_dispatch(driver, running, co=["sanitation_co"])
    with core.db.unit_of_work() as session:
        units.set_active(session, "admin", "sanitation_co", False)
    fresh = driver.register(text="背街小巷垃圾清运")
    with pytest.raises(Invalid) as refused:
        joint_dispatch(driver, fresh, co=["sanitation_co"])
    assert refused.value.fields == [("co_handlers", "单位 sanitation_co 已停用")]
    assert driver.ready(fresh) == ["dispatch"]  # nothing happened to the new case
    assert "co_sign_for" in driver.ready(running)  # the part already given goes on


def test_cli_joint_unit_uses_the_same_rules(core, database_url):
    from tests.test_cli import run
    assert run("joint", "unit", "c_store", "便民超市", "--kind", "community", "--user", "admin",
               url=database_url) == {"code": "c_store", "name": "便民超市", "kind": "community"}
    assert "is taken by unit 'c_store'" in run("joint", "unit", "c_two", "便民超市", "--user", "admin",
                                                url=database_url, expect_ok=False)
    line = run("joint", "unit", "c_two", "另一家", "--user", "handler", url=database_url, expect_ok=False)
    assert "admin only" in line
