"""KPIs 按责任人 (by person): each case counted for the person it is down to — who replied, or whom the
lead handler task is assigned to now — from cases driven through the real engine; the same figures
from the page, the CLI and the ledger rows behind them, and department scope."""
from __future__ import annotations

import pytest

from app.reports import ledger
from app.reports.kpis import compute_kpis
from app.tasks.claims import claim
from tests.conftest import at

NOV = ("2026-11-01", "2026-11-30")


@pytest.fixture
def november(driver, clock):
    """replied: chengguan complaint claimed and replied on time by handler (due 11-23).
    food: a 食品安全 report in G01 sent straight to grid_pro, who replies on time.
    held: a chengguan inquiry (due 11-04) handler signed and holds but never replied: overdue on 11-10.
    pool: a chengguan inquiry (due 11-04) nobody claimed: overdue, and down to nobody."""
    out = {}
    clock.move_to(at(2026, 11, 2, 9))
    out["replied"] = driver.register(text="人行道井盖缺失")
    driver.dispatch(out["replied"])
    claim(driver.core, driver.task(out["replied"], "sign_for")["id"], user="handler")
    driver.sign(out["replied"])
    driver.reply(out["replied"])
    out["food"] = driver.register(channel="grid", type="举报", text="农贸市场摊位售卖过期熟食", grid="G01",
                                  category="食品安全", user="grid")
    driver.dispatch(out["food"], category="食品安全")
    driver.sign(out["food"], user="grid_pro")
    driver.reply(out["food"], user="grid_pro", text="已责令下架")
    out["held"] = driver.register(type="咨询", text="垃圾分类投放时间咨询")
    driver.dispatch(out["held"])
    claim(driver.core, driver.task(out["held"], "sign_for")["id"], user="handler")
    driver.sign(out["held"])
    # A claim is for one task: the 办理 that follows 签收 waits in the pool until someone claims it too.
    claim(driver.core, driver.task(out["held"], "handle")["id"], user="handler")
    out["pool"] = driver.register(type="咨询", text="路灯维修进度咨询")
    driver.dispatch(out["pool"])
    clock.move_to(at(2026, 11, 10, 10))
    return out


def _rows(data) -> dict:
    return {r["key"]: r for r in data["rows"]}


def test_kpis_by_person(core, november):
    with core.db.read() as session:
        data = compute_kpis(session, start=NOV[0], end=NOV[1], by="person")
        by_department = compute_kpis(session, start=NOV[0], end=NOV[1], by="department")
    rows = _rows(data)
    assert set(rows) == {"handler", "grid_pro", None}
    # 按期回复率: handler replied one of two on time (the held inquiry went overdue), grid_pro one of one;
    # the pool inquiry is down to nobody.
    assert (rows["handler"]["on_time_reply_rate_num"], rows["handler"]["on_time_reply_rate_den"]) == (1, 2)
    assert (rows["grid_pro"]["on_time_reply_rate_num"], rows["grid_pro"]["on_time_reply_rate_den"]) == (1, 1)
    assert (rows[None]["on_time_reply_rate_num"], rows[None]["on_time_reply_rate_den"]) == (0, 1)
    assert rows["handler"]["label"] == "城管中队小张" and rows["grid_pro"]["label"] == "市场监管所专业网格员小刘"
    # 及时签收率 by the person holding the case: the pool inquiry never signed for is nobody's.
    assert (rows["handler"]["on_time_sign_rate_num"], rows["handler"]["on_time_sign_rate_den"]) == (2, 2)
    # Counted from the case rows (no rollup key for people), the totals are the rollup's all the same.
    for name in ("on_time_reply_rate", "on_time_sign_rate", "closure_rate", "return_rate"):
        for part in ("num", "den"):
            assert data["total"][f"{name}_{part}"] == by_department["total"][f"{name}_{part}"], (name, part)


def test_each_person_figure_drills_down_to_its_ledger_rows(core, november, login):
    with core.db.read() as session:
        data = compute_kpis(session, start=NOV[0], end=NOV[1], by="person")
        for row in data["rows"]:
            if row["key"] is None:
                continue
            for part in ("num", "den"):
                f = ledger.parse_filter(session, {"kpi": "on_time_reply_rate", "part": part, "from": NOV[0],
                                                  "to": NOV[1], "person": row["key"]})
                assert ledger.count(session, f) == row[f"on_time_reply_rate_{part}"], (row["key"], part)
    page = login("viewer").get(f"/kpis?from={NOV[0]}&to={NOV[1]}&by=person").get_data(as_text=True)
    assert '<option value="person" selected' in page and "城管中队小张" in page
    assert "kpi=on_time_reply_rate&amp;part=den&amp;from=2026-11-01&amp;to=2026-11-30&amp;person=handler" in page
    rows = login("viewer").get("/ledgers?kpi=on_time_reply_rate&part=den&from=2026-11-01&to=2026-11-30"
                               "&person=handler").get_data(as_text=True)
    assert november["replied"] in rows and november["held"] in rows and november["food"] not in rows


def test_person_breakdown_is_scoped_like_the_others(core, november, login):
    # handler2 (community_building) sees none of these cases: no person rows.
    page = login("handler2").get(f"/kpis?from={NOV[0]}&to={NOV[1]}&by=person")
    assert page.status_code == 200 and "城管中队小张" not in page.get_data(as_text=True)
    # The chengguan handler sees their department's people only (grid_pro's case is market supervision's).
    html = login("handler").get(f"/kpis?from={NOV[0]}&to={NOV[1]}&by=person").get_data(as_text=True)
    assert "城管中队小张" in html and "市场监管所专业网格员小刘" not in html


def test_cli_kpi_by_person(core, november, database_url):
    from tests.test_cli import run
    data = run("kpi", "--from", NOV[0], "--to", NOV[1], "--by", "person", url=database_url)
    rows = _rows(data)
    assert data["by"] == "person" and rows["grid_pro"]["on_time_reply_rate"] == 1.0
    assert rows["handler"]["on_time_reply_rate"] == 0.5
    scoped = run("kpi", "--from", NOV[0], "--to", NOV[1], "--by", "person", "--user", "handler", url=database_url)
    assert set(_rows(scoped)) == {"handler", None}
    line = run("kpi", "--from", NOV[0], "--to", NOV[1], "--by", "people", url=database_url, expect_ok=False)
    assert "unknown breakdown" in line and "person" in line
