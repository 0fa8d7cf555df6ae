"""Browser tests: the real app served on a free port, driven by Playwright in Debian's Chromium.

Never downloads a browser: Chromium comes from ``apt-get install chromium`` (CI's .ci/run does it;
``make test`` installs it as root or stops with that command). Without it the tests fail, unless
``BIHUAN_BROWSER_TESTS=0`` (``make test BROWSER=0``) asks to skip them.
Screenshots go to tests/browser/screenshots/ (ignored by git) for people to look at.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import serve_app

CHROMIUM = os.environ.get("BIHUAN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"


def browser_decision(path: str, environ) -> tuple[str, str]:
    """("run", "") when Chromium is there; otherwise ("skip", why) only if the user asked for it
    (``make test BROWSER=0`` sets BIHUAN_BROWSER_TESTS=0), else ("fail", the command to run): a
    suite that passes with its browser tests silently skipped proves nothing about the pages."""
    if environ.get("BIHUAN_BROWSER_TESTS") == "0":
        return "skip", "browser tests switched off (BROWSER=0 / BIHUAN_BROWSER_TESTS=0)"
    if shutil.which(path) or os.path.exists(path):
        return "run", ""
    return "fail", (f"Chromium not found at {path}: run 'sudo apt-get install -y chromium', "
                    "or 'make test BROWSER=0' to skip the browser tests")


@pytest.fixture(scope="session")
def browser():
    decision, why = browser_decision(CHROMIUM, os.environ)
    if decision == "skip":
        pytest.skip(why)
    if decision == "fail":
        pytest.fail(why, pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(core):
    """The app with CSRF on, as in production, served from a thread on 127.0.0.1 (on the test's frozen clock)."""
    from app import create_app
    with serve_app(create_app({"SECRET_KEY": "browser-test-session-key", "TESTING": False,
                                "SESSION_IDLE_MINUTES": 10 ** 7, "SESSION_MAX_HOURS": 10 ** 6}, core=core)) as url:
        yield url


@pytest.fixture
def new_page(browser, live_server):
    """``page = new_page('dispatcher')``: a fresh browser context, logged in through the login form.
    Any Content-Security-Policy violation on any page fails the test: a blocked script is a broken page."""
    contexts = []
    violations: list[str] = []

    def open_page(username: str | None = None, viewport=(1366, 900)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        if username:
            page.goto(f"{live_server}/login")
            page.fill("#username", username)
            page.fill("#password", "bihuan123")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert "/login" not in page.url, f"login as {username} failed"
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not violations, f"Content-Security-Policy violations: {violations[:3]}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
