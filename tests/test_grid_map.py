"""网格地图 /map: polygons from the database, figures per grid from indexed counts, the grid panel
(team, open cases, the patrol hook), who may see it, and hostile parameters."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from app.org import map as grid_map
from tests.conftest import TEST_NOW, at


def _data(html: str, part: str = "map-data") -> dict:
    match = re.search(rf'<script type="application/json" id="{part}">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def core_geometry(driver, code: str) -> str:
    from sqlalchemy import select
    from app.org.models import Grid
    with driver.core.db.read() as session:
        return session.scalar(select(Grid.geometry).where(Grid.code == code))


def _values(data) -> dict:
    return {g["code"]: g["value"] for g in data["grids"]}


def test_map_draws_every_grid_and_counts_open_and_overdue_cases(driver, login):
    g01 = [driver.register(grid="G01", text=f"井盖缺失{i}") for i in range(3)]
    driver.register(grid="G02", text="路灯不亮")
    driver.dispatch(g01[0])
    refused = g01[2]
    driver.do(refused, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
    viewer = login("viewer")
    page = viewer.get("/map")
    assert page.status_code == 200
    data, geojson = _data(page.get_data(as_text=True)), _data(page.get_data(as_text=True), "map-geojson")
    assert len(geojson["features"]) == 40 and len(data["grids"]) == 40
    assert geojson["features"][0] == {"type": "Feature", "properties": {"name": "G01"},
                                      "geometry": json.loads(core_geometry(driver, "G01"))}
    values = _values(data)
    assert (values["G01"], values["G02"], values["G03"]) == (2, 1, 0)  # the refused case is finished
    # Nothing is overdue yet; once the clock passes the dispatched case's deadline, it is.
    assert set(_values(_data(viewer.get("/map?metric=overdue").get_data(as_text=True))).values()) == {0}


def test_overdue_after_the_deadline(driver, login, frozen_clock):
    number = driver.register(grid="G03", text="垃圾清运不及时")
    driver.dispatch(number)
    frozen_clock.move_to(TEST_NOW + timedelta(days=60))
    values = _values(_data(login("viewer").get("/map?metric=overdue").get_data(as_text=True)))
    assert values["G03"] == 1 and values["G01"] == 0


def test_reports_per_100_households_over_a_range(core, driver, login, frozen_clock):
    for i in range(2):
        driver.register(grid="G01", channel="grid", user="grid", text=f"占道经营{i}")
    frozen_clock.move_to(TEST_NOW + timedelta(days=40))
    driver.register(grid="G01", channel="grid", user="grid", text="晚来的上报")
    with core.db.read() as session:
        households = {s["code"]: s["households"] for s in grid_map.grid_shapes(session)}
    viewer = login("viewer")
    day = (TEST_NOW + timedelta(days=40)).date().isoformat()
    recent = _values(_data(viewer.get(f"/map?metric=reports&from={day}&to={day}").get_data(as_text=True)))
    assert recent["G01"] == round(100 * 1 / households["G01"], 2)
    start = TEST_NOW.date().isoformat()
    both = _values(_data(viewer.get(f"/map?metric=reports&from={start}&to={day}").get_data(as_text=True)))
    assert both["G01"] == round(100 * 3 / households["G01"], 2) and both["G02"] == 0


def test_grid_panel_shows_team_cases_and_patrol_hook(driver, login, monkeypatch):
    number = driver.register(grid="G01", text="电动车楼道充电")
    viewer = login("viewer")
    html = viewer.get("/map/grids/G01").get_data(as_text=True)
    assert "专业网格员：市场监管所专业网格员小刘（食品安全" in html and "专职网格员：网格员小陈" in html
    assert number in html and 'id="grid-patrol"' in html  # the core wired the patrol record
    monkeypatch.setattr(grid_map, "PATROL_RECORD", None)
    assert "暂无巡查记录" in viewer.get("/map/grids/G01").get_data(as_text=True)


def _patrol(core, clock, worker, day, households, report=None):
    """A finished patrol of ``worker`` on ``day`` (09:00–11:00 Shanghai), optionally filing a report."""
    from app.patrol.services import finish_patrol, link_reports, start_patrol
    clock.move_to(at(day.year, day.month, day.day, 9))
    patrol = start_patrol(core, worker)
    if report:
        core.cases.register(channel="grid", type="投诉", text=report, category="城市管理", grid=patrol["grid"],
                            user=worker, attach=link_reports())
    clock.move_to(at(day.year, day.month, day.day, 11))
    finish_patrol(core, patrol["id"], worker, {"households": str(households)})


def test_grid_panel_shows_the_patrol_record_with_missing_working_days(core, login, clock):
    """Mon 10-26 .. Mon 11-02 (today, not yet missing): G01's worker patrols Mon 10-26 (5 households, one
    report) and Thu 10-29 (7); Tue 10-27, Wed 10-28 and Fri 10-30 are missing working days."""
    _patrol(core, clock, "grid", date(2026, 10, 26), 5, report="楼道堆放杂物堵塞消防通道")
    _patrol(core, clock, "grid", date(2026, 10, 29), 7)
    clock.move_to(at(2026, 11, 2, 10))
    with core.db.read() as session:
        record = grid_map.PATROL_RECORD(session, "G01", date(2026, 10, 26), date(2026, 11, 2))
    assert (record["days"], record["patrols"], record["households_visited"], record["reports"]) == (2, 2, 12, 1)
    assert record["missing_days"] == ["2026-10-27", "2026-10-28", "2026-10-30"] and record["workdays"] == 5
    assert record["staffed"] and record["last_patrol"]["worker"] == "grid"

    inspector_like = login("viewer")
    html = inspector_like.get("/map/grids/G01?from=2026-10-26&to=2026-11-02").get_data(as_text=True)
    assert "巡查天数 2" in html and "走访入户 12" in html and "巡查上报 1" in html
    assert "工作日缺巡 3 / 5：2026-10-27、2026-10-28、2026-10-30" in html
    assert "/patrol/overview?grid=G01" in html  # the viewer reads the overview
    # The center supervises from the map but does not read patrols: no link for it.
    center = login("center").get("/map/grids/G01?from=2026-10-26&to=2026-11-02").get_data(as_text=True)
    assert "巡查天数 2" in center and "/patrol/overview" not in center
    # G03 has no grid worker: nothing is flagged as missing there.
    g03 = inspector_like.get("/map/grids/G03?from=2026-10-26&to=2026-11-02").get_data(as_text=True)
    assert "巡查天数 0" in g03 and "不标记缺巡" in g03 and "missing-days" not in g03
    # The default range is the last 30 days; a five-year range is cut to the overview's quarter.
    wide = inspector_like.get("/map/grids/G01?from=2022-01-01&to=2026-11-02").get_data(as_text=True)
    assert 'data-from="2026-08-02"' in wide and "巡查天数 2" in wide


@pytest.mark.parametrize("user,status", [("viewer", 200), ("dispatcher", 200), ("admin", 200), ("center", 200),
                                          ("handler", 403), ("grid", 403), ("operator", 403), ("designer", 403),
                                          ("grid_pro", 403)])
def test_who_sees_the_map(login, user, status):
    client = login(user)
    assert client.get("/map").status_code == status
    assert client.get("/map/grids/G01").status_code == status


def test_anonymous_is_sent_to_login(login):
    assert login(None).get("/map").status_code in (302, 401)


@pytest.mark.parametrize("query", ["metric=drop%20table", "metric=" + "x" * 5000, "from=2026-13-01",
                                   "from=2026-11-05&to=2026-11-01", "from=1900-01-01&to=2026-11-01",
                                   "to=%00", "from[]=1", "metric=open&metric=overdue&from=x"])
def test_hostile_map_parameters_are_400_not_500(login, query):
    response = login("viewer").get(f"/map?{query}")
    assert response.status_code in (200, 400), response.status_code
    if "metric=open&metric" not in query and "from[]" not in query:
        assert response.status_code == 400


@pytest.mark.parametrize("code", ["NOPE", "G01'--", "x" * 300, "%00", "..%2F..%2Fetc"])
def test_hostile_grid_codes_are_404(login, code):
    assert login("viewer").get(f"/map/grids/{code}").status_code == 404
