"""The leader opens 领导驾驶舱 on a generated half-year, clicks the overdue figure, lands on the
filtered ledger and downloads it as .xlsx, which is read back."""
from __future__ import annotations

import shutil
from pathlib import Path

from openpyxl import load_workbook

from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.conftest import at

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_leader_drills_from_the_dashboard_to_the_ledger_export(core, driver, clock, new_page, tmp_path):
    from app.reports.history_writer import generate
    from workflows.clock import utcnow
    # One case surely overdue: dispatched five weeks ago, never signed for.
    clock.move_to(at(2026, 9, 21, 10))
    overdue = driver.register(text="和平路路灯连续一周不亮")
    driver.dispatch(overdue, difficulty="simple")
    clock.move_to(at(2026, 11, 2, 10))
    generate(core, cases=400, months=4, open_limit=40)
    assert utcnow() >= at(2026, 11, 2, 10)

    page = new_page("leader")
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/dashboard")
    page.wait_for_selector("#chart-trend canvas")
    page.wait_for_selector("#heatmap-lifecycle .bh-heat-badge")
    figure = page.locator("#fig-overdue .n")
    shown = int(figure.inner_text())
    assert shown >= 1
    shot = screenshot(page, "dashboard")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, DOCS_IMG / "dashboard.png")

    # Clicking a heatmap node lists its cases.
    # The badge may sit outside the fitted canvas (the diagram is wide): a click event, not a pointer.
    page.locator("#heatmap-lifecycle .bh-heat-badge.has-open").first.dispatch_event("click")
    page.wait_for_selector("#heatmap-cases tbody a")

    page.click("#fig-overdue")
    page.wait_for_url("**/ledgers?overdue=1")
    assert overdue in page.content()
    with page.expect_download() as info:
        page.click("a.export-xlsx")
    path = tmp_path / "ledger.xlsx"
    info.value.save_as(path)
    book = load_workbook(path, read_only=True)
    numbers = {row[0] for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
               if row and isinstance(row[0], str) and row[0].startswith("HD-")}
    assert overdue in numbers
    assert len(numbers) == shown  # the export holds exactly the rows behind the figure
    assert (SCREENSHOTS / "dashboard.png").exists()
