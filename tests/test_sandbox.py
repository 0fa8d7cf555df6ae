"""Scripts and expressions from diagrams are hostile until proven otherwise."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.errors import Blocked, Invalid
from tests.conftest import deploy_variant
from workflows.clock import now_iso
from workflows import sandbox
from workflows.engine import ScriptIncident

ESCAPES = [
    "x = ().__class__.__base__.__subclasses__()",
    "import os",
    "from subprocess import run",
    "x = __import__('os')",
    "x = open('/etc/passwd').read()",
    "x = getattr(status, '__class__')",
    "x = status.__dict__",
    "x = eval('1')",
    "exec('y = 1')",
    "x = globals()",
    "x = (i for i in []).gi_frame.f_globals",
    "x = '{0.__class__}'.format(status)",
    "x = type(status).__subclasses__",
    "class Escape: pass",
    "while True:\n    pass",
    "x = [i for i in range(10 ** 12)]",
    "x = sum(1 for i in range(1000000000))",
]
# These compile; the sandbox stops them while they run.
RUNTIME_ONLY = {"x = '{0.__class__}'.format(status)", "x = sum(1 for i in range(1000000000))"}


@pytest.mark.parametrize("script", ESCAPES)
def test_every_escape_is_blocked(script):
    env = sandbox.SandboxEnvironment({"now": now_iso})
    context = {"status": "registered"}
    with pytest.raises(Exception) as err:
        env.execute(script, context)
    assert not isinstance(err.value, AssertionError)
    assert context == {"status": "registered"}  # nothing leaked into task data


# escalate_delay's script (the co-handlers' escalation starts with the same line).
ESCALATE_DELAY = 'escalation_reason = "delay"\nescalation_step = "handle"'


def test_plain_scripts_still_work():
    env = sandbox.SandboxEnvironment({"now": lambda: "2026-11-26T00:00:00+00:00"})
    context = {"return_count": 1, "extensions": []}
    env.execute("return_count = return_count + 1\nextensions = extensions + [{'at': now()}]\n"
                "total = sum([i for i in range(4)])", context)
    assert context == {"return_count": 2, "extensions": [{"at": "2026-11-26T00:00:00+00:00"}], "total": 6}
    assert env.evaluate("return_count >= 2 and 'a' in ['a']", context) is True


@pytest.mark.parametrize("script", [s for s in ESCAPES if s not in RUNTIME_ONLY])
def test_deploy_refuses_escapes_naming_the_element(core, script):
    from app.processes.services import SHIPPED_BUNDLE, deploy
    from workflows.bundle import read_directory
    files = read_directory(SHIPPED_BUNDLE)
    files["case_lifecycle.bpmn"] = files["case_lifecycle.bpmn"].decode().replace(
        'status = "refused"', script.replace("<", "&lt;"), 1).encode()
    with pytest.raises(Invalid, match=r"refuse \(不予受理\): script refused by the sandbox"):
        with core.db.unit_of_work() as session:
            deploy(session, files)


def test_runtime_escape_in_a_task_marks_an_incident_and_changes_nothing(driver, core):
    deploy_variant(core, "case_lifecycle.bpmn", 'status = "dispatched"',
                   "status = \"dispatched\"\nleak = '{0.__class__}'.format(status)")
    number = driver.register()
    with pytest.raises(Blocked, match="incident"):
        driver.dispatch(number)
    case = driver.show(number)
    assert case["status"] == "registered" and case["department"] is None
    assert driver.ready(number) == ["dispatch"]
    assert case["has_incident"] is True
    assert len(case["incidents"]) == 1 and case["incidents"][0]["task"] == "assign"
    assert "format" in case["incidents"][0]["message"]
    assert [h["action"] for h in case["history"]] == ["register", "incident"]


def test_a_bad_case_does_not_stop_the_sweep(driver, core):
    cst = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=cst), tick=False) as clock:
        good = driver.register(type="咨询")
        deploy_variant(core, "case_lifecycle.bpmn", ESCALATE_DELAY,
                       ESCALATE_DELAY + "\nleak = '{0.__class__}'.format(escalation_reason)")
        bad = driver.register(type="咨询")
        for number in (bad, good):
            driver.dispatch(number)
            driver.sign(number)
        clock.move_to(datetime(2026, 11, 5, 9, 0, tzinfo=cst))
        assert driver.fire() == 1
        assert [i["tier"] for i in driver.show(good)["supervision"]] == [1]
        bad_case = driver.show(bad)
        assert bad_case["supervision"] == [] and bad_case["has_incident"] is True
        assert bad_case["incidents"][0]["task"] == "escalate_delay"
        assert bad_case["incidents"][0]["source"] == "scheduler"
        # parked: the next sweep does not retry (and re-report) it; the case itself is intact
        assert driver.fire() == 0
        assert bad_case["status"] == "handling" and "handle" in driver.ready(bad)


def test_engine_reports_the_failing_element():
    from workflows.bundle import load_bundle, read_directory
    from workflows.engine import Engine
    from workflows.workdays import WorkingCalendar
    files = read_directory("bpmn")
    files["case_lifecycle.bpmn"] = files["case_lifecycle.bpmn"].decode().replace(
        'return_count = 0', "return_count = 0\nx = '{0.__class__}'.format(1)", 1).encode()
    bundle = load_bundle(files)
    engine = Engine(WorkingCalendar)
    with pytest.raises(ScriptIncident, match="register"):
        engine.start(bundle, "case_lifecycle", {"type": "complaint"})


def test_admin_resolves_an_incident_and_the_sweep_retries(driver, core):
    from app.cases.incidents import list_incidents, resolve_incident
    from app.errors import Forbidden
    cst = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=cst), tick=False) as clock:
        deploy_variant(core, "case_lifecycle.bpmn", 'escalation_reason = "sign_overdue"',
                       "escalation_reason = \"sign_overdue\"\nx = '{0}'.format(1)")
        number = driver.register()
        driver.dispatch(number)
        clock.move_to(datetime(2026, 11, 4, 9, 0, tzinfo=cst))
        assert driver.fire() == 0
        [incident] = list_incidents(core)
        assert incident["case"] == number and incident["source"] == "scheduler"
        with pytest.raises(Forbidden):
            resolve_incident(core, incident["id"], "dispatcher")
        result = resolve_incident(core, incident["id"], "admin", note="known; retry")
        # the timers are armed again: the earliest is the 签收 reminder, a working day before the deadline
        assert result["next_timer_at"] == "2026-11-02T15:59:59+00:00"
        assert list_incidents(core) == [] and driver.show(number)["has_incident"] is False
        # the same broken script fails again on the retry: a new incident, the case still intact
        assert driver.fire() == 0
        assert len(list_incidents(core)) == 1 and driver.show(number)["status"] == "dispatched"
