"""The `bihuan` console script, run as operators run it: a real subprocess per command."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workflows.clock import utcnow

BIHUAN = shutil.which("bihuan", path=str(Path(sys.executable).parent)) or "bihuan"


def cli_env(url: str) -> dict:
    """The subprocess runs on this test's frozen clock (honoured only with BIHUAN_TESTING=1)."""
    return {**os.environ, "BIHUAN_DATABASE_URL": url, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": utcnow().isoformat()}


def run(*args, url, expect_ok=True):
    env = cli_env(url)
    proc = subprocess.run([BIHUAN, *args], capture_output=True, text=True, env=env, timeout=120)
    if expect_ok:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def complete(url, number, bpmn_id, user, data):
    tasks = run("task", "list", "--case", number, url=url)
    task = next(t for t in tasks if t["task"] == bpmn_id)
    return run("task", "complete", task["id"], "--user", user, "--data", json.dumps(data, ensure_ascii=False), url=url)


def test_full_lifecycle_through_the_cli(core, database_url):
    url = database_url
    case = run("case", "create", "--channel", "phone", "--type", "投诉", "--text", "夜间施工噪音扰民",
               "--category", "城市管理", "--address", "和平路8号", "--reporter-name", "李四",
               "--reporter-phone", "13900001111", "--grid", "G01", "--user", "operator", url=url)
    number = case["number"]
    assert case["status"] == "registered" and case["reporter_phone"] == "139****1111"

    mine = run("task", "list", "--user", "dispatcher", url=url)
    assert [t["task"] for t in mine if t["case"] == number] == ["dispatch"]
    assert set(mine[0]) == {"id", "case", "task", "name", "role", "department", "due"}

    complete(url, number, "dispatch", "dispatcher", {"decision": "dispatch", "category": "城市管理", "difficulty": "normal"})
    assert [t["task"] for t in run("task", "list", "--role", "handler", url=url)] == ["sign_for"]
    assert run("task", "list", "--user", "handler2", url=url) == []  # another department sees nothing
    complete(url, number, "sign_for", "handler", {"decision": "sign_for"})
    complete(url, number, "handle", "handler", {"decision": "reply", "reply_text": "已协调停止夜间施工"})
    complete(url, number, "verify", "dispatcher", {"verify_result": "passed"})
    case = complete(url, number, "follow_up", "dispatcher", {"satisfaction": "satisfied"})
    assert case["status"] == "closed"

    shown = run("case", "show", number, url=url)
    assert shown["closed_at"] and shown["satisfaction"] == "satisfied"
    assert [h["action"] for h in shown["history"]].count("complete") == 5  # no separate 销号 step
    assert shown["supervision"] == [] and shown["tasks"] == []
    assert run("timers", "due", url=url) == []
    assert run("timers", "fire", url=url) == {"fired": 0}
    assert run("calendar", "add-override", "2026-12-28", "holiday", "--note", "停电", url=url)["kind"] == "holiday"


@pytest.mark.parametrize("args, message", [
    (["case", "create", "--channel", "fax", "--type", "投诉", "--text", "x"], "unknown channel"),
    (["case", "create", "--channel", "phone", "--type", "闲聊", "--text", "x"], "unknown type"),
    (["case", "create", "--channel", "phone", "--type", "投诉", "--text", "x", "--user", "ghost"], "unknown user"),
    (["case", "show", "HD-19990101-0001"], "unknown case"),
    (["task", "complete", "no-such-task", "--user", "dispatcher"], "not found"),
    (["task", "complete", "x", "--user", "dispatcher", "--data", "{oops"], "not valid JSON"),
    (["task", "list", "--user", "ghost"], "unknown user"),
    (["calendar", "add-override", "2027-02-30", "holiday"], "invalid date"),
    (["calendar", "add-override", "2100-01-01", "holiday"], "2100 年的节假日安排尚未导入"),
    (["calendar", "import", "/no/such/file.csv"], "cannot read /no/such/file.csv"),
    (["calendar", "provisional", "2026", "on"], "2026 年已有官方安排"),
    (["calendar", "recompute", "2100"], "2100 has no official schedule"),
])
def test_user_errors_are_one_line_without_traceback(core, database_url, args, message):
    assert message in run(*args, url=database_url, expect_ok=False)


def test_schema_and_role_errors(core, database_url):
    number = run("case", "create", "--channel", "grid", "--type", "求助", "--text", "独居老人求助", url=database_url)["number"]
    task = run("task", "list", "--case", number, url=database_url)[0]
    line = run("task", "complete", task["id"], "--user", "dispatcher", "--data", '{"decision": "nope"}',
               url=database_url, expect_ok=False)
    assert "decision" in line
    line = run("task", "complete", task["id"], "--user", "handler", "--data", "{}", url=database_url, expect_ok=False)
    assert "lacks the role 'dispatcher'" in line
    assert run("case", "show", number, url=database_url)["status"] == "registered"


def test_unmigrated_database_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    line = run("case", "show", "HD-20261126-0001", url=url, expect_ok=False)
    assert "bihuan db upgrade" in line
    assert run("db", "upgrade", url=url)["revision"]
    assert "unknown case" in run("case", "show", "HD-20261126-0001", url=url, expect_ok=False)


def test_demo_seed_starts_on_any_date(core, database_url, frozen_clock):
    """`make run` seeds demo cases 'now'; a 投诉 dispatched in late December reaches next year."""
    from workflows.workdays import library_covers
    last = max(y for y in range(2004, 2200) if library_covers(y))
    frozen_clock.move_to(datetime(last, 12, 20, 10, 0, tzinfo=timezone(timedelta(hours=8))))
    unknown = core.calendar.current().coverage(last + 1) is None  # (the far-future guard imports it)
    result = run("demo", "seed", url=database_url)
    assert result["provisional_calendar"] == ([last + 1] if unknown else []) and result["demo_cases"] == 6
    core.calendar.invalidate()
    assert core.calendar.current().coverage(last + 1) == ("provisional" if unknown else "imported")
    again = run("demo", "seed", url=database_url)  # idempotent
    assert again["provisional_calendar"] == [] and again["demo_cases"] == 0


def test_demo_seed_with_the_whole_grid_organisation(tmp_path):
    """`make run` seeds the 92 professional grid workers (the suite does not: BIHUAN_DEMO_PROFESSIONALS=0).
    Their grids' demo cases then go to them directly, and the demo completes those steps as them,
    not as the department's handler (who may not take a task assigned to someone else)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**cli_env(url), "BIHUAN_DEMO_PROFESSIONALS": "1"}
    for args in (("db", "upgrade"), ("demo", "seed")):
        proc = subprocess.run([BIHUAN, *args], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
    seeded = json.loads(proc.stdout)
    assert seeded["demo_cases"] == 6 and seeded["created"]["org"]


def test_demo_seed_drives_a_closed_and_an_open_joint_case(core, database_url):
    """联动处置 in the demo: one case closed with its meeting and disposal records (and the party
    tier's 批示督办 signed off), one with two co-handlers still at work in their units' worklists."""
    from sqlalchemy import select

    from app.cases.models import Case, ReadyTask
    from app.joint.models import CoHandler, DisposalRecord, JointMeeting, LeaderInstruction
    result = run("demo", "seed", url=database_url)
    assert result["joint_cases"] == 2
    with core.db.read() as session:
        joint = session.scalars(select(Case).where(Case.id.in_(select(CoHandler.case_id))).order_by(Case.id)).all()
        assert [c.status for c in joint] == ["closed", "handling"]
        closed, running = joint
        parts = {p.unit: p for p in session.scalars(select(CoHandler).where(CoHandler.case_id == closed.id))}
        assert sorted(parts) == ["community_building", "market_supervision"]
        assert all(p.status == "fed_back" and p.people_deployed for p in parts.values())
        meeting = session.scalars(select(JointMeeting).where(JointMeeting.case_id == closed.id)).one()
        assert meeting.units == ["chengguan", "community_building", "market_supervision"] and len(meeting.actions) == 3
        disposal = session.scalars(select(DisposalRecord).where(DisposalRecord.case_id == closed.id)).one()
        assert disposal.people_deployed == 32
        assert disposal.quantities == {"structures_removed": 9, "truckloads_cleared": 12}
        instructions = {i.case_id: i for i in session.scalars(select(LeaderInstruction))}
        assert instructions[closed.id].signed_off_at and instructions[closed.id].instructed_by == "party"
        assert instructions[running.id].signed_off_at is None
        # the open case: both co-handlers signed for their part and are handling it, the lead too
        ready = sorted(session.execute(select(ReadyTask.bpmn_id, ReadyTask.department)
                                       .where(ReadyTask.case_id == running.id)).all())
        assert ready == [("co_handle", "community_building"), ("co_handle", "market_supervision"),
                         ("handle", "chengguan")]
        assert {p.status for p in session.scalars(select(CoHandler).where(CoHandler.case_id == running.id))} \
            == {"handling"}
    assert [t["task"] for t in core.cases.list_tasks(user="handler2") if t["case"] == running.number] == ["co_handle"]
    assert run("demo", "seed", url=database_url)["joint_cases"] == 0  # idempotent
