"""Eight dispatchers post the same task at the same moment, over real HTTP to a real threaded server.

Exactly one submission wins; every other one is answered with the clear conflict (409) and gets
its own typed text back, on SQLite (writers queue on BEGIN IMMEDIATE) and on PostgreSQL (writers
race and the optimistic version check decides), never 系统错误.
"""
from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import audit_rows, race, serve_app

SESSIONS = 8
CASES = 4


@pytest.fixture
def live_server(core):
    from app import create_app
    with serve_app(create_app({"SECRET_KEY": "concurrency-test-key", "WTF_CSRF_ENABLED": False}, core=core)) as url:
        yield url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at (303 = done), not something to follow


class Browser:
    """One logged-in person: their own cookie jar, plain HTTP."""

    def __init__(self, base: str, username: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())
        status, _ = self.post("/login", {"username": username, "password": "bihuan123"})
        assert status == 302, f"login as {username} failed: {status}"

    def post(self, path: str, form: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def post_all_at_once(browsers: list[Browser], path: str, forms: list[dict]) -> list[tuple[int, str]]:
    results = race(lambda i: browsers[i].post(path, forms[i]), n=len(browsers))
    return [value if kind == "ok" else (None, repr(value)) for kind, value in results]


def test_eight_dispatchers_submit_the_same_verify_task(driver, core, live_server):
    numbers = []
    for _ in range(CASES):
        number = driver.register()
        driver.dispatch(number)
        driver.sign(number)
        driver.reply(number)
        numbers.append(number)
    browsers = [Browser(live_server, "dispatcher") for _ in range(SESSIONS)]

    for number in numbers:
        task_id = driver.task(number, "verify")["id"]
        notes = [f"核实意见{i}号：{number}现场复查" for i in range(SESSIONS)]
        forms = [{"verify_result": "passed", "verify_note": note} for note in notes]
        results = post_all_at_once(browsers, f"/tasks/{task_id}", forms)

        statuses = [status for status, _ in results]
        assert sorted(statuses) == [303] + [409] * (SESSIONS - 1), (number, statuses)
        for (status, page), note in zip(results, notes):
            if status == 409:
                assert note in page, f"{number}: the loser's typed text is lost"
                assert "已由 dispatcher" in page and "办理完毕" in page
        winner = statuses.index(303)
        # the winner's note is the one the case keeps; the losers changed nothing
        [done] = audit_rows(core, number, "complete")[-1:]
        assert done.task_bpmn_id == "verify" and done.changes["data"]["verify_note"] == notes[winner]
        assert [r.task_bpmn_id for r in audit_rows(core, number, "complete")].count("verify") == 1
        assert driver.ready(number) == ["follow_up"]
        assert driver.show(number)["status"] == "verified"
