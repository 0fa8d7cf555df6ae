"""Routing by grid and field (直接责任人) through the real engine: a 食品安全 report in G01 reaches
the grid's 食品安全 professional (grid_pro); elsewhere, or for another field, the department pool.
A professional who is deactivated gives their open tasks back to the department, audited."""
from __future__ import annotations

from sqlalchemy import select

from app.admin.services import set_user_active
from app.auth.models import User
from app.cases.models import ReadyTask
from tests.conftest import audit_rows, deploy_variant


def _report(driver, grid="G01", category="食品安全", text="农贸市场摊位售卖过期熟食"):
    number = driver.register(channel="grid", type="举报", text=text, grid=grid, category=category, user="grid")
    driver.dispatch(number, category=category)
    return number


def _assignee(driver, number, bpmn_id):
    return driver.task(number, bpmn_id)["assignee"]


def test_food_safety_report_in_g01_reaches_the_grid_professional(driver, login):
    number = _report(driver)
    sign = driver.task(number, "sign_for")
    assert sign["department"] == "market_supervision"
    assert sign["assignee"] == "grid_pro"
    # The person signs and handles it; the handling task goes to them directly too.
    driver.sign(number, user="grid_pro")
    assert _assignee(driver, number, "handle") == "grid_pro"
    # Their worklist shows it under 我的 (mine); department scoping still holds for everyone else.
    page = login("grid_pro").get("/tasks?tab=mine").get_data(as_text=True)
    assert number in page
    assert login("handler").get(f"/cases/{number}").status_code == 403
    driver.reply(number, user="grid_pro", text="已责令下架并立案查处")
    assert driver.show(number)["status"] == "replied"


def test_without_a_professional_the_department_pool_takes_it(driver):
    # G02 has no 食品安全 professional: market supervision's ordinary pool.
    elsewhere = _report(driver, grid="G02")
    task = driver.task(elsewhere, "sign_for")
    assert task["department"] == "market_supervision" and task["assignee"] is None
    # Another field in G01 (城市管理 → chengguan): the professional of 食品安全 is not its person.
    other = _report(driver, category="城市管理", text="占道经营")
    task = driver.task(other, "sign_for")
    assert task["department"] == "chengguan" and task["assignee"] is None
    # No grid at all (a phone call): the pool, as before.
    phoned = driver.register(text="超市卖过期牛奶", category="食品安全")
    driver.dispatch(phoned, category="食品安全")
    assert _assignee(driver, phoned, "sign_for") is None


def test_the_field_table_decides(core, driver):
    # A designer maps 食品安全 to another field: grid_pro (食品安全) is no longer the person.
    deploy_variant(core, "rules/grid_fields.dmn", '<text>"食品安全"</text></inputEntry>\n'
                   '        <outputEntry id="grid_fields_rule_11_field"><text>"食品安全"</text>',
                   '<text>"食品安全"</text></inputEntry>\n'
                   '        <outputEntry id="grid_fields_rule_11_field"><text>"环境"</text>')
    number = _report(driver)
    assert _assignee(driver, number, "sign_for") is None


def test_deactivated_professional_returns_tasks_to_the_department(core, driver):
    first, second = _report(driver), _report(driver, text="无证经营小作坊")
    driver.sign(second, user="grid_pro")
    with core.db.read() as session:
        grid_pro = session.scalar(select(User).where(User.username == "grid_pro"))
    try:
        result = set_user_active(core, "admin", grid_pro.id, False)
        assert result["released"] == 2
        assert _assignee(driver, first, "sign_for") is None
        assert _assignee(driver, second, "handle") is None
        for number in (first, second):
            rows = audit_rows(core, number, "unassign")
            assert len(rows) == 1 and rows[0].actor == "admin"
            assert rows[0].changes["assignee"] == ["grid_pro", None]
        # A new report while they are gone goes to the pool, and a colleague can take it on.
        third = _report(driver, text="餐馆后厨卫生差")
        assert _assignee(driver, third, "sign_for") is None
        with core.db.read() as session:
            assert session.scalar(select(ReadyTask.assignee).where(ReadyTask.assignee == "grid_pro")) is None
    finally:
        set_user_active(core, "admin", grid_pro.id, True)
    fourth = _report(driver, text="奶茶店无健康证")
    assert _assignee(driver, fourth, "sign_for") == "grid_pro"
