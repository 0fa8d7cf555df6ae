"""The ledger in a real browser: filter, then download the .xlsx and read it back."""
from __future__ import annotations

from openpyxl import load_workbook

from tests.browser.conftest import screenshot


def test_filter_the_ledger_and_download_the_xlsx(driver, new_page, tmp_path):
    complaint = driver.register(type="投诉", category="城市管理", reporter_phone="13900001234", text="夜间施工噪音扰民")
    driver.dispatch(complaint, category="城市管理", difficulty="complex")
    inquiry = driver.register(type="咨询", category="物业管理", text="咨询物业费标准")
    driver.dispatch(inquiry, category="物业管理")

    page = new_page("viewer")
    page.click("nav.mainnav >> text=台账")
    page.click("nav.ledger-types >> text=投诉")
    page.select_option("select[name=department]", "chengguan")
    page.click("form.ledger-filter button[type=submit]")
    page.wait_for_load_state()
    assert "department=chengguan" in page.url and "type=" in page.url
    rows = page.locator("table.ledger tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-case") == complaint
    screenshot(page, "ledger_filtered")

    with page.expect_download() as info:
        page.click("a.export-xlsx")
    path = tmp_path / "ledger.xlsx"
    info.value.save_as(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["简单", "一般", "复杂"]
    data = list(wb["复杂"].iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in data] == [complaint]
    assert data[0][-1] == "139****1234"  # a viewer's export is masked
    assert all(ws.max_row == 2 for ws in (wb["简单"], wb["一般"]))
