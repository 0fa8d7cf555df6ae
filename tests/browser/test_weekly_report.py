"""The leader reads the weekly 专报 in the browser: the charts draw from the vendored ECharts, a figure
drills down to the ledger, and the .docx downloads; screenshots for people (and the README)."""
from __future__ import annotations

import io

from docx import Document

from app.reports.jobruns import weekly_job
from tests.browser.conftest import screenshot
from tests.conftest import at
from tests.test_weekly_report import _week_45


def test_the_leader_reads_the_weekly_report(driver, clock, core, new_page, live_server):
    _week_45(driver, clock)
    clock.move_to(at(2026, 11, 9, 8, 0))
    assert weekly_job(core) == ["2026-W45"]
    page = new_page("viewer")
    page.goto(f"{live_server}/reports/weekly")
    page.click("text=2026-W45")
    page.wait_for_selector("#chart-trend svg")  # ECharts drew the 13-week trend
    assert page.locator("#chart-channels svg").count() == 1
    assert page.locator("#channels tr[data-key=phone] td[data-field=new]").inner_text() == "3"
    screenshot(page, "weekly_report")
    with page.expect_download() as download:
        page.click("text=下载 Word")
    doc = Document(io.BytesIO(open(download.value.path(), "rb").read()))
    assert doc.paragraphs[0].text == "街道社会治理联动指挥中心"
    page.click("#channels tr[data-key=phone] td[data-field=new] a")
    page.wait_for_load_state()
    assert "/ledgers?" in page.url and "channel=phone" in page.url and "from=2026-11-02" in page.url
