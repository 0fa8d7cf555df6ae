"""督办 in the browser: a handling deadline passes, the center finds the item on its board,
records 催办 through the task form, and the record shows on the case page with the diagram."""
from __future__ import annotations

from pathlib import Path

import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import at

SHIPPED_HAS_LAYOUT = "BPMNDiagram" in (Path(__file__).parents[2] / "bpmn" / "case_lifecycle.bpmn").read_text()


def test_center_urges_an_overdue_case_from_the_board(new_page, live_server, driver):
    # A fixed week inside the statutory calendar; the clock ticks so the browser side runs normally.
    with time_machine.travel(at(2026, 11, 2, 10, 0), tick=True) as clock:
        number = driver.register(type="咨询", text="咨询小区垃圾分类投放时间", address="和平街8号")
        driver.dispatch(number)
        driver.sign(number)  # handling due at the end of Wednesday 11-04
        clock.move_to(at(2026, 11, 5, 9, 0))
        assert driver.fire(at(2026, 11, 5, 9, 0)) == 1

        page = new_page("center")
        page.goto(f"{live_server}/supervision")
        row = page.locator(f"tr[data-case='{number}']")
        expect(row).to_contain_text("拖延办理")
        expect(row).to_contain_text("城管执法中队")
        expect(page.locator(".tabs a.active .count")).to_have_text("1")
        screenshot(page, "supervision_board")

        row.locator("a.act").click()
        page.wait_for_load_state()
        assert "/tasks/" in page.url
        page.fill("[name=urge_note]", "请于三日内办结并反馈")
        page.fill("[name=department_response]", "城管中队正在协调清运")
        page.locator("#task-form button[type=submit]").click()
        page.wait_for_load_state()

        page.goto(f"{live_server}/cases/{number}")
        records = page.locator(".card.supervision")
        expect(records).to_contain_text("社会治理中心督办")
        expect(records).to_contain_text("请于三日内办结并反馈")
        expect(records).to_contain_text("社会治理中心督办员")
        expect(page.locator(".case-timeline")).to_contain_text("催办")
        page.wait_for_selector("#case-diagram.bh-rendered, #case-diagram.bh-failed")
        page.wait_for_selector("#supervision-diagram.bh-rendered, #supervision-diagram.bh-failed")
        if SHIPPED_HAS_LAYOUT:
            assert page.locator("#case-diagram.bh-rendered").count() == 1
            assert page.locator("#case-diagram [data-element-id=register].bh-done").count() == 1
            assert page.locator("#case-diagram [data-element-id=handle].bh-current").count() == 1
            assert page.locator("#case-diagram .bh-done-flow").count() > 0
            assert page.locator("#supervision-diagram [data-element-id=tier1_wait].bh-waiting").count() == 1
        else:  # the shipped BPMN has no layout yet: a clear message instead of a broken page
            expect(page.locator("#case-diagram")).to_contain_text("流程图无法显示")
        screenshot(page, "case_page")

        # the board no longer offers 催办 for it: the urge is done, the item waits for the reply
        page.goto(f"{live_server}/supervision")
        expect(page.locator(f"tr[data-case='{number}'] a.act")).to_have_count(0)
        # ... and the row says so: what was done, by whom, and what the board now waits for
        row = page.locator(f"tr[data-case='{number}']")
        expect(row.locator(".last-action")).to_contain_text("催办")
        expect(row.locator(".last-action")).to_contain_text("社会治理中心督办员")
        expect(row.locator(".waiting")).to_contain_text("待部门答复")
        expect(row.locator("td.days")).to_have_text("1")  # the first working day past the deadline
