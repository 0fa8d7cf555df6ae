"""Denial-of-service scripts: the sandbox bounds what a designer's script may compute, and going past
a bound is an incident on that one case, never a stalled action, scheduler or machine (issue 14,
finding 9 and the sandbox limits)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.errors import Blocked
from tests.conftest import deploy_variant
from workflows import limits, sandbox

CST = ZoneInfo("Asia/Shanghai")
# Each would run for minutes or hours, or ask for gigabytes, without the limits.
BOMBS = {
    "big shift and square": "big = (1 << 1000000000) - 1\nn = (big * big).bit_length()",
    "string repetition": "s = 'x' * 10000000000",
    "list repetition": "s = [0] * 10000000000",
    "in-place doubling": "s = 'x'\nfor i in [0] * 40:\n    s += s",
    "pow builtin": "p = pow(10, 1000000000)",
    "sum of lists": "s = sum([[1]] * 100000, [])",
    "join of big strings": "a = ['x' * 1000000] * 1000\nb = ''.join(a)",
    "ljust": "s = 'x'.ljust(1000000000)",
    "replace growth": "s = ('a' * 100000).replace('a', 'a' * 100000)",
    "f-string width": "w = 1\ns = f'{w:>999999999}'",
    "percent width": "s = '%0999999999d' % 1",
    "nested loops": "x = [0] * 1000\nt = 0\nfor i in x:\n    for j in x:\n        for k in x:\n            t += 1",
    "repeated sorting": "x = [0] * 1000000\nfor i in [0] * 1000:\n    y = sorted(x)",
    "huge task data": "d = ['x' * 1000] * 1000",
}


@pytest.mark.parametrize("script", list(BOMBS.values()), ids=list(BOMBS))
def test_each_bomb_is_refused(script):
    with pytest.raises(sandbox.SandboxViolation):
        sandbox.SandboxEnvironment({}).execute(script, {})


# escalate_delay's script (the co-handlers' escalation starts with the same line).
ESCALATE_DELAY = 'escalation_reason = "delay"\nescalation_step = "handle"'


def test_the_cpu_budget_is_per_evaluation_and_ordinary_scripts_pass():
    env = sandbox.SandboxEnvironment({})
    data = {}
    for _ in range(200):  # many small evaluations each get their own budget
        env.execute("x = [i * 2 for i in [1, 2, 3]]\nt = sum(x)\nlabel = f'{t:>5}' + '-'.join(['a', 'b'])", data)
    assert data["t"] == 12 and data["label"] == "   12a-b"
    assert env.evaluate("a * 2 + 1", {"a": 5}) == 11


def test_limits_are_numbers_the_docs_state():
    assert limits.BUDGET_SECONDS == 0.1 and limits.MAX_INT_BITS == 100_000 and limits.MAX_ITEMS == 1_000_000


# "&lt;" because the script sits in the BPMN XML.
BOMB = "status = \"dispatched\"\nbig = (1 &lt;&lt; 1000000000) - 1\nn = (big * big).bit_length()"


def test_a_bomb_in_a_user_action_is_an_incident_and_others_keep_working(driver, core):
    healthy = driver.register()
    deploy_variant(core, "case_lifecycle.bpmn", 'status = "dispatched"', BOMB)
    bombed = driver.register()
    with pytest.raises(Blocked, match="incident"):
        driver.dispatch(bombed)
    case = driver.show(bombed)
    assert case["status"] == "registered" and case["has_incident"] is True
    assert "bits" in case["incidents"][0]["message"] and case["incidents"][0]["task"] == "assign"
    # the next try fails the same way at once instead of hanging again
    with pytest.raises(Blocked):
        driver.dispatch(bombed)
    # a case on the healthy version goes on as if nothing happened
    driver.dispatch(healthy)
    driver.sign(healthy)
    assert "handle" in driver.ready(healthy)


def test_a_bomb_in_a_timer_script_parks_that_case_and_the_sweep_goes_on(driver, core):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=False) as clock:
        good = driver.register(type="咨询")
        deploy_variant(core, "case_lifecycle.bpmn", ESCALATE_DELAY,
                       ESCALATE_DELAY + "\nbig = (1 &lt;&lt; 1000000000) - 1\nn = (big * big).bit_length()")
        bad = driver.register(type="咨询")
        for number in (bad, good):
            driver.dispatch(number)
            driver.sign(number)
        clock.move_to(datetime(2026, 11, 5, 9, 0, tzinfo=CST))
        assert driver.fire() == 1
        assert [i["tier"] for i in driver.show(good)["supervision"]] == [1]
        bad_case = driver.show(bad)
        assert bad_case["has_incident"] is True and bad_case["incidents"][0]["task"] == "escalate_delay"
        assert driver.fire() == 0  # parked, not retried on every sweep
