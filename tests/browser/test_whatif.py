"""分析影响 in a real browser: a designer shortens 投诉 to 10 working days in the draft, starts the
what-if on the default range (the last 90 days), watches the progress bar, and reads the result —
the side-by-side table, the charts drawn from the vendored ECharts — and no request leaves the app."""
from __future__ import annotations

import time

from app.processes import whatif
from tests.browser.conftest import screenshot
from tests.test_whatif import COMPLAINT_RULE, edit_draft


def test_a_designer_runs_a_what_if_and_reads_it(new_page, live_server, core, clock, monkeypatch):
    from app.reports.history_writer import generate
    generate(core, cases=300, months=4, open_limit=30)
    edit_draft(core, "rules/deadlines.dmn", COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))
    # Slow the stream down (small batches, a pause between them) so the progress bar is seen.
    original = whatif.stream

    def slow(*args, **kwargs):
        for rows in original(*args, **kwargs):
            time.sleep(0.4)
            yield rows
    monkeypatch.setattr(whatif, "stream", slow)
    monkeypatch.setattr(whatif, "BATCH", 40)

    page = new_page("designer")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server}/designer")
    page.click("#whatif-link")
    page.wait_for_selector("#whatif-form")
    page.click("#whatif-start")
    page.wait_for_selector("#whatif-progress progress")
    page.wait_for_selector("#whatif-totals", timeout=60000)
    page.wait_for_selector("#whatif-chart-rate svg")
    assert page.locator('#whatif-status[data-status="done"]').count() == 1
    assert page.locator("#whatif-changed tbody tr").count() >= 1
    assert page.locator("ul.whatif-replayed li[data-element-id='deadlines_rule_9']").count() == 1
    screenshot(page, "whatif")
    assert requests and all(url.startswith(live_server) for url in requests), \
        [url for url in requests if not url.startswith(live_server)][:3]
