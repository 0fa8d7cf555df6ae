"""Moving running cases to a newer process version: the dry run, the move, and life afterwards."""
from __future__ import annotations

import re
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.cases.models import AuditEntry, Case, ReadyTask, WorkflowInstance
from app.errors import Invalid, NotFound
from app.processes.migration import plan_migration, migrate_cases
from app.processes.services import SHIPPED_BUNDLE, deploy, ensure_shipped_version
from tests.conftest import audit_rows
from workflows.bundle import load_bundle, read_directory
from workflows.engine import Engine
from workflows.migrate import rebase
from workflows.workdays import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")


def deploy_files(core, edit) -> int:
    files = read_directory(SHIPPED_BUNDLE)
    edit(files)
    with core.db.unit_of_work() as session:
        ensure_shipped_version(session)
        row, created = deploy(session, files, actor="test")
        assert created
        return row.version


def rename(files, file, old, new):
    """Rename an element id everywhere it is referenced (attributes and flowNodeRef texts)."""
    text = files[file].decode()
    renamed = re.sub(rf'([">]){re.escape(old)}(["<])', rf"\g<1>{new}\g<2>", text)
    assert renamed != text
    files[file] = renamed.encode()


def replace(files, file, old, new):
    text = files[file].decode()
    assert old in text, old
    files[file] = text.replace(old, new, 1).encode()


def sign_for_renamed(files):
    rename(files, "case_lifecycle.bpmn", "sign_for", "sign_for_v2")


def version_of(core, number) -> int:
    with core.db.read() as session:
        return session.scalar(select(WorkflowInstance.process_version_id).join(Case, Case.id == WorkflowInstance.case_id)
                              .where(Case.number == number))


def close_after_reply(driver, number):
    driver.do(number, "verify", "dispatcher", verify_result="passed")
    return driver.do(number, "follow_up", "dispatcher", satisfaction="satisfied")


@pytest.fixture
def three_cases(driver):
    """One case waiting at 签收 (sign_for), one at 办理 (handle), one at 派单 (dispatch), all on version 1."""
    at_sign = driver.register(text="路灯不亮")
    driver.dispatch(at_sign)
    at_handle = driver.register(text="井盖缺失")
    driver.dispatch(at_handle)
    driver.sign(at_handle)
    at_dispatch = driver.register(text="占道经营")
    return at_sign, at_handle, at_dispatch


def test_dry_run_says_who_can_move_and_why(core, driver, three_cases):
    at_sign, at_handle, at_dispatch = three_cases
    v2 = deploy_files(core, sign_for_renamed)
    plan = {row["case_number"]: row for row in plan_migration(core, 1, v2)}
    assert set(plan) == {at_sign, at_handle, at_dispatch}
    assert plan[at_sign]["can_move"] is False
    assert "sign_for" in plan[at_sign]["reason"] and "does not exist" in plan[at_sign]["reason"]
    assert plan[at_handle]["can_move"] is True
    assert "sign_for" in plan[at_handle]["reason"]  # its history mentions the old element, which is dropped
    assert plan[at_dispatch]["can_move"] is True
    assert all(isinstance(row["case_id"], int) for row in plan.values())
    # a dry run changes nothing
    assert {version_of(core, n) for n in plan} == {1}
    with core.db.read() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "migrate")).first() is None


def test_migration_moves_the_movable_cases_which_then_finish_on_the_new_version(core, driver, three_cases):
    at_sign, at_handle, at_dispatch = three_cases
    v2 = deploy_files(core, sign_for_renamed)
    results = {r["case_number"]: r for r in migrate_cases(core, 1, v2, actor="designer")}
    assert results[at_sign]["moved"] is False and "sign_for" in results[at_sign]["reason"]
    assert results[at_handle]["moved"] is True and results[at_dispatch]["moved"] is True
    assert version_of(core, at_sign) == 1
    assert version_of(core, at_handle) == version_of(core, at_dispatch) != 1

    for number in (at_handle, at_dispatch):
        rows = audit_rows(core, number, "migrate")
        assert len(rows) == 1
        assert rows[0].actor == "designer" and rows[0].changes["from"] == 1 and rows[0].changes["to"] == v2
    assert audit_rows(core, at_sign, "migrate") == []

    # the moved cases run on the new diagram: 派单 now leads to the renamed 签收 task
    driver.dispatch(at_dispatch)
    assert driver.ready(at_dispatch) == ["sign_for_v2"]
    driver.do(at_dispatch, "sign_for_v2", "handler", decision="sign_for")
    for number in (at_handle, at_dispatch):
        driver.reply(number)
        case = close_after_reply(driver, number)
        assert case["status"] == "closed" and case["tasks"] == []

    # the case that stayed still works on version 1
    assert driver.ready(at_sign) == ["sign_for"]
    driver.sign(at_sign)
    driver.reply(at_sign)
    assert close_after_reply(driver, at_sign)["status"] == "closed"

    # migrating again finds nothing left to move from version 1 (all closed)
    assert migrate_cases(core, 1, v2, actor="designer") == []


def test_migration_keeps_the_history_data_of_dropped_elements(core, driver, three_cases):
    _at_sign, at_handle, _ = three_cases
    before = driver.show(at_handle)
    v2 = deploy_files(core, sign_for_renamed)
    [result] = migrate_cases(core, 1, v2, actor="designer", case_numbers=[at_handle])
    assert result["moved"]
    after = driver.show(at_handle)
    for key in ("status", "department", "deadline", "signed_at", "dispatched_at"):
        assert after[key] == before[key], key
    # the data the dropped 签收 task wrote (signed_at via its successor, decision) is still in the workflow
    driver.reply(at_handle)
    assert driver.show(at_handle)["signed_at"] == before["signed_at"]


def test_ready_tasks_follow_the_new_names_and_roles(core, driver, three_cases):
    _at_sign, at_handle, _ = three_cases
    claimed = driver.task(at_handle, "handle")["id"]
    with core.db.unit_of_work() as session:
        session.get(ReadyTask, claimed).assignee = "handler"
    v2 = deploy_files(core, lambda f: replace(f, "case_lifecycle.bpmn", 'name="办理"', 'name="办理（限时）"'))
    [result] = migrate_cases(core, 1, v2, actor="designer", case_numbers=[at_handle])
    assert result["moved"], result
    task = driver.task(at_handle, "handle")
    assert task["id"] == claimed and task["name"] == "办理（限时）"
    with core.db.read() as session:
        assert session.get(ReadyTask, claimed).assignee == "handler"  # a claim survives the move


def test_migration_rechecks_each_case_when_it_runs(core, driver, three_cases):
    at_sign, _at_handle, _ = three_cases
    v2 = deploy_files(core, sign_for_renamed)
    plan = {row["case_number"]: row["can_move"] for row in plan_migration(core, 1, v2)}
    assert plan[at_sign] is False
    driver.sign(at_sign)  # the case moves on between the dry run and the migration
    [result] = migrate_cases(core, 1, v2, actor="designer", case_numbers=[at_sign])
    assert result["moved"] is True
    driver.reply(at_sign)
    assert close_after_reply(driver, at_sign)["status"] == "closed"


def test_selected_cases_only_and_unknown_ones_reported(core, driver, three_cases):
    at_sign, at_handle, at_dispatch = three_cases
    v2 = deploy_files(core, sign_for_renamed)
    results = migrate_cases(core, 1, v2, actor="designer", case_numbers=[at_dispatch, "HD-19990101-0001"])
    assert [(r["case_number"], r["moved"]) for r in results] == [(at_dispatch, True), ("HD-19990101-0001", False)]
    assert "not an open case" in results[1]["reason"]
    assert version_of(core, at_handle) == 1


def test_bad_version_arguments(core, driver, three_cases):
    with pytest.raises(Invalid):
        plan_migration(core, 1, 1)
    with pytest.raises(NotFound):
        plan_migration(core, 1, 99)
    with pytest.raises(NotFound):
        migrate_cases(core, 42, 1, actor="designer")


def test_cases_in_supervision_move_only_when_the_escalation_still_fits(core, driver, clock):
    number = driver.register()
    driver.dispatch(number)
    clock.move_to(datetime(2026, 11, 4, 9, 0, tzinfo=CST))
    assert driver.fire() == 1
    assert driver.ready(number) == ["sign_for", "urge"]

    urge_renamed = deploy_files(core, lambda f: rename(f, "supervision_escalation.bpmn", "urge", "urge_v2"))
    [row] = plan_migration(core, 1, urge_renamed)
    assert row["can_move"] is False and "urge" in row["reason"]

    deadline_changed = deploy_files(core, lambda f: replace(f, "rules/deadlines.dmn", "<text>20</text>",
                                                            "<text>25</text>"))
    [row] = plan_migration(core, 1, deadline_changed)
    assert row["can_move"] is True, row["reason"]
    [result] = migrate_cases(core, 1, deadline_changed, actor="designer")
    assert result["moved"]
    # the escalation goes on under the new version: 催办, then the department signs and replies
    driver.do(number, "urge", "center", urge_note="请尽快签收", department_response="马上处理")
    driver.sign(number)
    driver.reply(number)
    assert "verify_close" in driver.ready(number)
    case = driver.show(number)
    assert [i["status"] for i in case["supervision"]] == ["replied"]


def test_rebasing_is_the_engines_business_behind_a_small_api(clock):
    """``workflows.migrate.rebase`` without the application: ok/blockers/dropped, and a workflow the
    engine runs on under the new version; unreadable state is a blocker, never an exception."""
    engine = Engine(WorkingCalendar)
    old = load_bundle(read_directory(SHIPPED_BUNDLE))
    files = read_directory(SHIPPED_BUNDLE)
    sign_for_renamed(files)
    new = load_bundle(files)
    wf = engine.start(old, "case_lifecycle", {"type": "complaint", "category": None, "difficulty": "normal",
                                              "urgent": False, "department": None, "channel": "phone",
                                              "case_number": "T-1"})
    [dispatch] = engine.ready_tasks(old, wf)
    engine.complete(old, wf, dispatch.id, {"decision": "dispatch", "category": "城市管理", "difficulty": "normal"})
    at_sign = engine.dump(wf)

    blocked = rebase(engine, old, new, "case_lifecycle", at_sign)
    assert not blocked.ok and blocked.workflow is None
    assert blocked.blockers == ["sign_for (current step) does not exist in the target version"]

    unchanged = rebase(engine, old, old, "case_lifecycle", at_sign)
    assert unchanged.ok and unchanged.dropped == []
    assert [t.bpmn_id for t in engine.ready_tasks(old, unchanged.workflow)] == ["sign_for"]

    [sign] = engine.ready_tasks(old, wf)
    engine.complete(old, wf, sign.id, {"decision": "sign_for"})
    moved = rebase(engine, old, new, "case_lifecycle", engine.dump(wf))
    assert moved.ok and moved.blockers == [] and moved.dropped == ["sign_for"]
    [handle] = engine.ready_tasks(new, moved.workflow)
    assert handle.bpmn_id == "handle" and handle.data["signed_at"]  # what the dropped step wrote is kept
    engine.complete(new, moved.workflow, handle.id, {"decision": "reply", "reply_text": "已修复"})
    assert [t.bpmn_id for t in engine.ready_tasks(new, moved.workflow)] == ["verify"]

    for unreadable in (b"", b"not zlib at all", zlib.compress(b'{"format": "another-format"}')):
        refused = rebase(engine, old, new, "case_lifecycle", unreadable)
        assert not refused.ok and refused.blockers, unreadable
    assert rebase(engine, old, new, "no_such_process", at_sign).blockers == [
        "the target version has no process 'no_such_process'"]
