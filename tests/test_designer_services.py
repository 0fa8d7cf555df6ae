"""The process designer's services: the shared draft, validation, deploy, diff, import/export."""
from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from app.cases.models import AuditEntry
from app.errors import Conflict, Invalid, NotFound
from app.processes import drafts
from app.processes.diffing import diff_draft, diff_versions
from app.processes.models import ProcessVersion
from app.processes.services import SHIPPED_BUNDLE
from workflows.bundle import read_directory
from workflows.workdays import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
LIFECYCLE = "case_lifecycle.bpmn"


def shipped(path: str) -> str:
    return read_directory(SHIPPED_BUNDLE)[path].decode()


def complaint_days(text: str, days: int) -> str:
    """Set the 投诉 (normal) row of the deadline table: rule 9, whose output says 15."""
    pattern = r'(<outputEntry id="deadlines_rule_9_days"><text>)15(</text>)'
    assert re.search(pattern, text)
    return re.sub(pattern, rf"\g<1>{days}\g<2>", text)


def save(core, path, text, actor="designer", base=None):
    with core.db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor)
        revision = draft.revision if base is None else base
        return drafts.save_draft_file(session, path=path, text=text, base_revision=revision, actor=actor).revision


def edit(core, path, old, new, actor="designer"):
    with core.db.read() as session:
        text = drafts.export_file(session, path=path).decode()
    assert old in text, old
    return save(core, path, text.replace(old, new, 1), actor)


def revision(core) -> int:
    with core.db.unit_of_work() as session:
        return drafts.open_draft(session, "designer").revision


def deploy(core, note="", actor="designer", **kw):
    with core.db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor)
        return drafts.deploy_draft(session, actor=actor, note=note, expected_revision=draft.revision, **kw).version


def problems_of(core) -> list:
    with core.db.read() as session:
        return drafts.validate_draft(session)


def find(problems, element_id):
    hits = [p for p in problems if p.element_id == element_id and p.severity == "error"]
    assert hits, f"no error for {element_id}: {[str(p) for p in problems]}"
    return hits[0]


# -- the draft --------------------------------------------------------------------------------------------
def test_open_draft_starts_from_the_latest_version(core):
    with core.db.unit_of_work() as session:
        assert drafts.get_draft(session) is None
        draft = drafts.open_draft(session, "designer")
        assert draft.revision == 1
        version = session.get(ProcessVersion, draft.base_version_id)
        assert version.version == 1 and draft.files == version.files
        assert drafts.open_draft(session, "designer2").id == draft.id  # one shared draft
    with core.db.read() as session:
        models = drafts.list_models(session)
        assert {m["path"] for m in models} == set(read_directory(SHIPPED_BUNDLE))
        lifecycle = next(m for m in models if m["path"] == LIFECYCLE)
        assert lifecycle["kind"] == "bpmn" and lifecycle["title"] == "诉求办理闭环"
        assert lifecycle["deployed_version"] == 1 and lifecycle["draft_changed"] is False
        deadlines = next(m for m in models if m["path"] == "rules/deadlines.dmn")
        assert deadlines["kind"] == "dmn" and deadlines["title"] == "办理时限（工作日）"
        assert next(m for m in models if m["path"] == "forms/verify.schema.json")["title"] == "核实"


def test_save_bumps_the_revision_and_is_audited(core):
    assert save(core, "rules/deadlines.dmn", complaint_days(shipped("rules/deadlines.dmn"), 10)) == 2
    with core.db.read() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "draft_save")).one()
        assert row.case_id is None and row.actor == "designer"
        assert row.changes == {"path": "rules/deadlines.dmn", "revision": 2}
        models = {m["path"]: m for m in drafts.list_models(session)}
        assert models["rules/deadlines.dmn"]["draft_changed"] is True
        assert models["rules/deadlines.dmn"]["changed_by"] == "designer"
        assert models[LIFECYCLE]["draft_changed"] is False


def test_a_stale_save_conflicts_and_names_who_saved(core):
    base = revision(core)
    mine = complaint_days(shipped("rules/deadlines.dmn"), 10)
    save(core, "rules/deadlines.dmn", mine, actor="designer", base=base)
    with pytest.raises(Conflict) as err:
        save(core, "rules/deadlines.dmn", "their version", actor="admin", base=base)
    assert "designer" in str(err.value) and "修订 2" in str(err.value)
    with core.db.read() as session:
        assert drafts.export_file(session, path="rules/deadlines.dmn").decode() == mine  # nothing lost
        assert drafts.get_draft(session).revision == 2


def test_any_content_can_be_saved_but_only_bundle_paths(core):
    assert save(core, LIFECYCLE, "<bpmn:definitions") == 2  # broken XML is saved; validation reports it
    assert any(p.file == LIFECYCLE and "malformed XML" in p.message for p in problems_of(core))
    save(core, "forms/extra_info.schema.json", json.dumps({"type": "object", "title": "补充信息"}))
    for bad in ("../evil.bpmn", "/etc/passwd.bpmn", "rules/../../x.dmn", "notes.txt", "forms/x.json",
                "rules/sub/x.dmn", "", "a\\b.bpmn"):
        with pytest.raises(Invalid):
            save(core, bad, "x")


def test_delete_and_discard(core):
    save(core, "forms/extra_info.schema.json", json.dumps({"type": "object"}))
    with core.db.unit_of_work() as session:
        draft = drafts.delete_draft_file(session, path="forms/extra_info.schema.json",
                                         base_revision=drafts.get_draft(session).revision, actor="designer")
        assert "forms/extra_info.schema.json" not in draft.files
        with pytest.raises(NotFound):
            drafts.delete_draft_file(session, path="forms/none.schema.json", base_revision=draft.revision,
                                     actor="designer")
    with core.db.unit_of_work() as session:
        drafts.discard_draft(session, actor="designer")
    with core.db.read() as session:
        assert drafts.get_draft(session) is None


# -- validation ---------------------------------------------------------------------------------------------
def test_shipped_bundle_has_no_errors(core):
    assert [p for p in problems_of(core) if p.severity == "error"] == []


def test_every_problem_is_reported_at_once_with_element_ids_and_names(core):
    edit(core, LIFECYCLE, '<bpmn:lane id="handler"', '<bpmn:lane id="janitor"')
    edit(core, LIFECYCLE, 'value="verify.schema.json"', 'value="nope.schema.json"')
    edit(core, LIFECYCLE, "working_days_after(dispatched_at, 1)", "working_days_after(dispatched_at, 'one')")
    edit(core, LIFECYCLE, 'decision == "refuse"', 'decision == "refuse" and')
    edit(core, LIFECYCLE, 'status = "refused"', 'import os\nstatus = "refused"')
    edit(core, LIFECYCLE, 'id="supervise_delay" name="三级督办（拖延办理）" calledElement="supervision_escalation"',
         'id="supervise_delay" name="三级督办（拖延办理）" calledElement="no_such_process"')
    edit(core, "rules/deadlines.dmn", '<inputEntry id="deadlines_rule_9_type"><text>"complaint"</text>',
         '<inputEntry id="deadlines_rule_9_type"><text>"complaint</text>')
    found = problems_of(core)

    lane = find(found, "sign_for")
    assert lane.element_name == "签收" and "lane 'janitor' is not a known role" in lane.message
    assert lane.file == LIFECYCLE
    form = find(found, "verify")
    assert form.element_name == "核实" and "form 'nope.schema.json' does not exist" in form.message
    timer = find(found, "sign_for_deadline")
    assert timer.element_name == "签收超时" and "timer expression fails with sample data" in timer.message
    gateway = find(found, "dispatch_decision")
    assert gateway.element_name == "是否受理？" and "condition" in gateway.message
    script = find(found, "refuse")
    assert script.element_name == "不予受理" and "imports are not allowed" in script.message
    called = find(found, "supervise_delay")
    assert called.element_name == "三级督办（拖延办理）" and "'no_such_process' does not exist" in called.message
    cell = find(found, "deadlines_rule_9_type")
    assert cell.file == "rules/deadlines.dmn" and cell.element_name == "投诉"


@pytest.mark.parametrize("old,new,element,message", [
    ("working_days_after(dispatched_at, 1)", "__import__('os').system('id')", "sign_for_deadline",
     "refused by the sandbox"),
    ("working_days_after(dispatched_at, 1)", "42", "sign_for_deadline", "does not give a valid timeDate"),
    ("working_days_after(dispatched_at, 1)", '"P3D"', "sign_for_deadline", "expected a date-time"),
    ("<bpmn:timeDate>deadline</bpmn:timeDate>", "<bpmn:timeDate>deadline +</bpmn:timeDate>", "handle_deadline",
     "syntax error"),
])
def test_timer_expressions_are_evaluated_with_sample_data(core, old, new, element, message):
    edit(core, LIFECYCLE, old, new)
    assert message in find(problems_of(core), element).message


def test_duration_timers_must_give_a_duration(core):
    edit(core, LIFECYCLE, "<bpmn:timeDate>working_days_after(dispatched_at, 1)</bpmn:timeDate>",
         '<bpmn:timeDuration>"P1D"</bpmn:timeDuration>')
    assert not [p for p in problems_of(core) if p.element_id == "sign_for_deadline"]
    edit(core, LIFECYCLE, '<bpmn:timeDuration>"P1D"</bpmn:timeDuration>',
         '<bpmn:timeDuration>"tomorrow"</bpmn:timeDuration>')
    assert "timeDuration" in find(problems_of(core), "sign_for_deadline").message


def test_gateway_flow_without_default_or_condition(core):
    edit(core, LIFECYCLE, '<bpmn:exclusiveGateway id="verify_decision" name="核实通过？" default="f_verify_failed">',
         '<bpmn:exclusiveGateway id="verify_decision" name="核实通过？">')
    edit(core, LIFECYCLE, '<bpmn:conditionExpression>verify_result == "passed"</bpmn:conditionExpression>', '')
    problem = find(problems_of(core), "f_verify_passed")  # the flow out of 核实通过？ that has no condition
    assert problem.element_name == "通过" and "without condition" in problem.message


def test_lifecycle_must_exist_and_be_executable(core):
    edit(core, LIFECYCLE, '<bpmn:process id="case_lifecycle" name="诉求办理闭环" isExecutable="true">',
         '<bpmn:process id="case_lifecycle" name="诉求办理闭环" isExecutable="false">')
    problem = find(problems_of(core), "case_lifecycle")
    assert "not executable" in problem.message and problem.file == LIFECYCLE
    with core.db.unit_of_work() as session:
        drafts.delete_draft_file(session, path=LIFECYCLE, base_revision=drafts.get_draft(session).revision,
                                 actor="designer")
    assert "is missing" in find(problems_of(core), "case_lifecycle").message


def test_form_problems(core):
    save(core, "forms/verify.schema.json", json.dumps({"type": "object", "properties": {"x": {"type": 12}}}))
    found = problems_of(core)
    assert any(p.file == "forms/verify.schema.json" and "not a valid JSON Schema" in p.message for p in found)
    assert "verify.schema.json" in find(found, "verify").message


def test_validation_never_raises_on_garbage():
    garbage = {
        "a.bpmn": b"\xff\xfe\x00garbage", "b.bpmn": b"", "c.bpmn": b"<html><body/></html>",
        "rules/d.dmn": b"<definitions xmlns='https://www.omg.org/spec/DMN/20191111/MODEL/'><decision/></definitions>",
        "rules/e.dmn": b"<definitions xmlns='https://www.omg.org/spec/DMN/20191111/MODEL/'><decision id='x'>"
                       b"<decisionTable id='t'><input id='i'/><rule id='r'><inputEntry id='c1'><text>1</text>"
                       b"</inputEntry><inputEntry id='c2'><text>2</text></inputEntry></rule></decisionTable>"
                       b"</decision></definitions>",
        "forms/f.schema.json": b"[" * 100_000, "forms/g.schema.json": b"\"just a string\"",
        "h.bpmn": b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'><process id='p'/>"
                  b"<process id='p'/></definitions>",
    }
    found = drafts.bundle_problems(garbage)
    assert {p.file for p in found} >= set(garbage) - {"rules/e.dmn"}
    assert all(p.message for p in found)
    assert any("is missing" in p.message for p in found)  # no lifecycle process among them


# -- deploy ------------------------------------------------------------------------------------------------
def test_deploy_creates_the_next_version_old_cases_keep_their_deadline(core, driver):
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=CST), tick=False):
        before = driver.register()
        save(core, "rules/deadlines.dmn", complaint_days(shipped("rules/deadlines.dmn"), 10))
        assert deploy(core, note="投诉时限改为10个工作日") == 2
        after = driver.register()
        driver.dispatch(before)
        driver.dispatch(after)
    calendar = WorkingCalendar()
    now = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    assert driver.show(before)["deadline"] == calendar.working_days_after(now, 15).isoformat()
    assert driver.show(after)["deadline"] == calendar.working_days_after(now, 10).isoformat()
    with core.db.read() as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "deploy")).one()
        assert row.changes["version"] == 2 and row.changes["note"] == "投诉时限改为10个工作日"
        draft = drafts.get_draft(session)
        assert session.get(ProcessVersion, draft.base_version_id).version == 2
        summaries = drafts.version_summaries(session)
        assert [(s["version"], s["open_cases"]) for s in summaries] == [(2, 1), (1, 1)]
        assert summaries[0]["deployed_by"] == "designer"
        assert not any(m["draft_changed"] for m in drafts.list_models(session))


def test_deploy_refuses_unchanged_invalid_and_stale_drafts(core):
    with pytest.raises(Invalid) as err:
        deploy(core)
    assert "没有改动" in str(err.value) and "版本 1 完全相同" in str(err.value)

    edit(core, LIFECYCLE, 'value="verify.schema.json"', 'value="nope.schema.json"')
    edit(core, LIFECYCLE, '<bpmn:lane id="handler"', '<bpmn:lane id="janitor"')
    with pytest.raises(Invalid) as err:
        deploy(core)
    fields = dict(err.value.fields)
    assert {"verify", "sign_for", "handle"} <= set(fields)
    assert "核实" in fields["verify"]
    with core.db.read() as session:
        assert session.scalar(select(ProcessVersion.version).order_by(ProcessVersion.version.desc())) == 1

    edit(core, LIFECYCLE, 'value="nope.schema.json"', 'value="verify.schema.json"')
    edit(core, LIFECYCLE, '<bpmn:lane id="janitor"', '<bpmn:lane id="handler"')
    edit(core, LIFECYCLE, 'name="核实"', 'name="核实办理结果"')
    stale = revision(core) - 1
    with core.db.unit_of_work() as session, pytest.raises(Conflict):
        drafts.deploy_draft(session, actor="designer", note="", expected_revision=stale)
    assert deploy(core) == 2


def test_deploy_over_a_version_deployed_elsewhere_needs_force(core):
    from tests.conftest import deploy_variant
    edit(core, LIFECYCLE, 'name="核实"', 'name="核实办理结果"')
    deploy_variant(core, "rules/deadlines.dmn", "<text>20</text>", "<text>22</text>")  # e.g. from the CLI
    with pytest.raises(Conflict) as err:
        deploy(core)
    assert "版本 2" in str(err.value)
    assert deploy(core, force=True) == 3


# -- diff, export, import ------------------------------------------------------------------------------------
def test_diff_lists_the_changed_cell_and_added_and_removed_elements(core):
    save(core, "rules/deadlines.dmn", complaint_days(shipped("rules/deadlines.dmn"), 10))
    deploy(core)
    with core.db.read() as session:
        changes = diff_versions(session, 1, 2)
    assert [(c["file"], c["element_id"], c["element_type"], c["change"]) for c in changes] == [
        ("rules/deadlines.dmn", "deadlines_rule_9", "rule", "changed")]
    assert changes[0]["name"] == "投诉"
    assert changes[0]["details"] == ["output '办理时限（工作日）': '15' → '10'"]

    with core.db.read() as session:
        text = drafts.export_file(session, path=LIFECYCLE).decode()
    renamed = re.sub(r'([">])closed_end(["<])', r"\g<1>case_closed_end\g<2>", text)
    save(core, LIFECYCLE, renamed.replace('name="派单/转办"', 'name="派单"', 1))
    with core.db.read() as session:
        changes = {(c["element_id"], c["change"]): c for c in diff_draft(session)}
        with pytest.raises(NotFound):
            diff_versions(session, 1, 7)
    assert changes[("closed_end", "removed")]["element_type"] == "endEvent"
    assert changes[("case_closed_end", "added")]["name"] == "已销号"
    assert changes[("f_closed_end", "changed")]["details"] == ["target: 'closed_end' → 'case_closed_end'"]
    assert changes[("dispatch", "changed")]["details"] == ["name: '派单/转办' → '派单'"]


def test_export_and_import_round_trip(core):
    save(core, "rules/deadlines.dmn", complaint_days(shipped("rules/deadlines.dmn"), 10))
    deploy(core)
    with core.db.read() as session:
        assert drafts.export_file(session, path="rules/deadlines.dmn", version=1).decode() == \
            shipped("rules/deadlines.dmn")
        exported = {path: drafts.export_file(session, path=path) for path in read_directory(SHIPPED_BUNDLE)}
        with pytest.raises(NotFound):
            drafts.export_file(session, path="rules/none.dmn")
        with pytest.raises(NotFound):
            drafts.export_file(session, path=LIFECYCLE, version=9)
    for path, data in exported.items():
        with core.db.unit_of_work() as session:
            draft, problems = drafts.import_file(session, filename=path.split("/")[-1], data=data,
                                                 base_revision=drafts.get_draft(session).revision, actor="designer")
            assert draft.files[path] == data.decode()  # lands where it came from, unchanged
            assert not [p for p in problems if p.severity == "error"]
    with pytest.raises(Invalid) as err:
        deploy(core)
    assert "没有改动" in str(err.value) and "版本 2 完全相同" in str(err.value)


def test_import_of_a_new_form_and_a_replaced_decision(core):
    form = json.dumps({"type": "object", "title": "补充材料", "properties": {"note": {"type": "string"}}}).encode()
    with core.db.unit_of_work() as session:
        draft, problems = drafts.import_file(session, filename="supplement.schema.json", data=form,
                                             base_revision=1, actor="designer")
        assert "forms/supplement.schema.json" in draft.files
    dmn = complaint_days(shipped("rules/deadlines.dmn"), 12).encode()
    with core.db.unit_of_work() as session:
        draft, problems = drafts.import_file(session, filename="my-table.dmn", data=dmn,
                                             base_revision=draft.revision, actor="designer")
        assert draft.files["rules/deadlines.dmn"] == dmn.decode()
        assert "rules/my-table.dmn" not in draft.files
        assert any("replaced" in p.message for p in problems)
        with pytest.raises(Conflict):
            drafts.import_file(session, filename="x.dmn", data=dmn, base_revision=1, actor="designer")
    with core.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "draft_import")).all()
        assert [r.changes["path"] for r in rows] == ["forms/supplement.schema.json", "rules/deadlines.dmn"]


def test_library_and_export_work_before_anything_is_deployed(core):
    with core.db.read() as session:
        models = drafts.list_models(session)
        assert {m["path"] for m in models} == set(read_directory(SHIPPED_BUNDLE))
        assert all(m["deployed_version"] == 0 and not m["draft_changed"] for m in models)
        assert drafts.export_file(session, path=LIFECYCLE).decode() == shipped(LIFECYCLE)
        assert drafts.version_summaries(session) == []
