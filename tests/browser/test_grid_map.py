"""网格地图 on a phone (390×844): the polygons from the database are drawn by the vendored ECharts,
coloured by open cases, and tapping a grid shows its team and open cases."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.browser.conftest import screenshot

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_map_renders_polygons_on_a_phone_and_a_tap_opens_the_grid(driver, new_page, live_server):
    numbers = [driver.register(grid=grid, text=f"网格巡查发现问题{i}")
               for i, grid in enumerate(["G01"] * 5 + ["G02"] * 3 + ["G05", "G12", "G12", "G27"])]
    page = new_page("leader", viewport=(390, 844))
    page.goto(f"{live_server}/map")
    page.wait_for_selector("#grid-map[data-ready='1'] canvas")
    assert page.get_attribute("#grid-map", "data-grids") == "40"
    # The canvas really has the coloured polygons: count the pixels of the 5-case red in G01's colour range.
    drawn = page.evaluate("""() => {
        const chart = window.bihuanGridMap.chart;
        const series = chart.getModel().getSeriesByIndex(0);
        const canvas = document.querySelector('#grid-map canvas');
        const ctx = canvas.getContext('2d');
        const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 0 && !(d[i] > 240 && d[i + 1] > 240 && d[i + 2] > 240)) { coloured++; }
        }
        return {regions: series.getData().count(), coloured: coloured, max: chart.getOption().visualMap[0].max};
    }""")
    assert drawn["regions"] == 40 and drawn["max"] == 5
    assert drawn["coloured"] > 10000, drawn
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    shot = screenshot(page, "grid_map_phone")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, DOCS_IMG / "grid_map.png")

    # Tap G01: its panel lists the 1+1+N team and its open cases.
    point = page.evaluate("""() => {
        const chart = window.bihuanGridMap.chart;
        const geojson = JSON.parse(document.getElementById('map-geojson').textContent);
        const g = geojson.features.find(f => f.properties.name === 'G01');
        const ring = g.geometry.coordinates[0];
        const lon = ring.slice(0, 4).reduce((s, p) => s + p[0], 0) / 4;
        const lat = ring.slice(0, 4).reduce((s, p) => s + p[1], 0) / 4;
        return chart.convertToPixel({seriesIndex: 0}, [lon, lat]);
    }""")
    box = page.locator("#grid-map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    panel = page.locator("#grid-panel .grid-detail[data-grid='G01']")
    panel.wait_for()
    text = panel.inner_text()
    assert "市场监管所专业网格员小刘" in text and "网格员小陈" in text
    assert all(n in text for n in numbers[:5]) and numbers[5] not in text
    panel.scroll_into_view_if_needed()
    screenshot(page, "grid_map_phone_panel")
