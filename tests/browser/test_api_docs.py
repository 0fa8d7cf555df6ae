"""The API's interactive docs (vendored Swagger UI) render the generated document under the CSP."""
from __future__ import annotations

from tests.browser.conftest import screenshot


def test_the_api_docs_render_without_csp_violations(new_page, live_server):
    page = new_page(None)
    page.goto(f"{live_server}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30000)
    text = page.inner_text("#swagger-ui")
    assert "/api/v1/cases" in text and "/api/v1/tasks/{task_id}/complete" in text
    screenshot(page, "api_docs")
