"""Loading and validating diagrams, tables and forms; compact per-case state."""
from __future__ import annotations

import json
import re

import pytest
from lxml import etree
from sqlalchemy import select

from app.auth.models import ROLES
from app.cases.models import WorkflowInstance
from workflows.bundle import BundleInvalid, load_bundle, read_directory
from workflows.reading import model_kind
from workflows.validation import BPMN_MODEL, validate_files


@pytest.fixture
def files():
    return read_directory("bpmn")


def problems(files):
    with pytest.raises(BundleInvalid) as err:
        load_bundle(files, known_roles=ROLES)
    return [str(p) for p in err.value.problems]


def edit(files, name, old, new):
    text = files[name].decode()
    assert old in text, old
    files[name] = text.replace(old, new, 1).encode()
    return files


def test_shipped_bundle_is_valid(files):
    bundle = load_bundle(files, known_roles=ROLES)
    assert set(bundle.specs) == {"case_lifecycle", "supervision_escalation", "volunteer_redemption"}  # 志愿者积分兑换
    assert bundle.tasks["sign_for"].role == "handler"
    assert bundle.tasks["accountability"].role == "supervisor_party"
    assert bundle.tasks["office_approval"].role == "volunteer_admin"
    assert all(meta.form in bundle.forms for meta in bundle.tasks.values())


def test_the_same_files_parse_once_per_process_and_a_broken_copy_is_refused_every_time(files):
    """load_bundle keeps what it built (every Core of a process, and each test's, shares it): the
    same bytes give the very same bundle, other bytes or other roles a bundle of their own."""
    first = load_bundle(files, known_roles=ROLES)
    assert load_bundle({k: v.decode("utf-8") for k, v in files.items()}, known_roles=set(ROLES)) is first
    assert load_bundle(files) is not first  # checked against no roles: another check, another bundle
    broken = edit(dict(files), "rules/deadlines.dmn", "<text>15</text>", "<text>15 +</text>")
    for _attempt in range(2):  # a refusal is never kept
        with pytest.raises(BundleInvalid):
            load_bundle(broken, known_roles=ROLES)
    changed = edit(dict(files), "rules/deadlines.dmn", "<text>15</text>", "<text>10</text>")
    assert load_bundle(changed, known_roles=ROLES) is not first


def test_same_files_same_hash(files):
    assert load_bundle(files).content_hash == load_bundle(dict(files)).content_hash
    edit(files, "rules/deadlines.dmn", "<text>15</text>", "<text>10</text>")
    assert load_bundle(files).content_hash != load_bundle(read_directory("bpmn")).content_hash


def test_user_task_in_unknown_lane(files):
    edit(files, "case_lifecycle.bpmn", '<bpmn:lane id="handler"', '<bpmn:lane id="janitor"')
    found = problems(files)
    assert any("sign_for (签收): lane 'janitor' is not a known role" in p for p in found)


def test_missing_form(files):
    edit(files, "case_lifecycle.bpmn", 'value="verify.schema.json"', 'value="nope.schema.json"')
    assert any("verify (核实): form 'nope.schema.json' does not exist" in p for p in problems(files))


def test_invalid_form_schema(files):
    files["forms/close.schema.json"] = json.dumps({"type": "object", "properties": {"x": {"type": 12}}}).encode()
    assert any("close.schema.json: not a valid JSON Schema" in p for p in problems(files))


def test_bad_timer_expression(files):
    edit(files, "case_lifecycle.bpmn", "working_days_after(dispatched_at, 1)", "__import__('os').system('id')")
    assert any("sign_for_deadline (签收超时): timer expression refused" in p for p in problems(files))


def test_bad_gateway_condition(files):
    edit(files, "case_lifecycle.bpmn", 'decision == "refuse"', 'decision ==')
    assert any("dispatch_decision" in p or "f_decision_refuse" in p for p in problems(files))


def test_missing_called_process(files):
    del files["supervision_escalation.bpmn"]
    assert any("supervision_escalation" in p for p in problems(files))


def test_malformed_and_hostile_xml(files):
    files["case_lifecycle.bpmn"] = b"<bpmn:definitions"
    assert any("malformed XML" in p for p in problems(files))
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" '
           b'isExecutable="true"><startEvent id="s" name="&x;"/></process></definitions>')
    files = read_directory("bpmn")
    files["evil.bpmn"] = xxe
    try:
        bundle = load_bundle(files)
    except BundleInvalid as err:
        assert "root:" not in str(err)
    else:
        assert "root:" not in json.dumps([getattr(s, "bpmn_name", "") for s in bundle.specs["p"].task_specs.values()])


def test_stored_state_is_small_and_has_no_spec(driver, core):
    numbers = [driver.register() for _ in range(5)]
    for number in numbers:
        driver.dispatch(number)
        driver.sign(number)
    with core.db.read() as session:
        states = [inst.state for inst in session.scalars(select(WorkflowInstance))]
    assert max(len(s) for s in states) <= 4096
    import zlib
    text = zlib.decompress(states[0]).decode()
    assert '"task_specs"' not in text and '"spec"' not in text


def test_the_bundle_names_every_flow_node_of_every_process(files):
    """``Bundle.element_names`` is what pages use to name a timer or a step: every named task,
    event, gateway, call activity and subprocess of every process, read here from the XML."""
    bundle = load_bundle(files, known_roles=ROLES)
    flow_node = re.compile(r"(Task|Event|Gateway)$|^(task|subProcess|callActivity)$")
    expected = {}
    for path, content in files.items():
        if model_kind(path) != "bpmn":
            continue
        for process in etree.fromstring(content).iter(f"{{{BPMN_MODEL}}}process"):
            for el in process.iter():
                if isinstance(el.tag, str) and el.get("name") and flow_node.search(etree.QName(el).localname):
                    expected[el.get("id")] = el.get("name")
    assert bundle.element_names == expected
    assert bundle.element_names["sign_for_deadline"] == "签收超时"        # a timer on the main process
    assert bundle.element_names["verify_close"] == "核实销号"              # a task of the called process


@pytest.mark.parametrize("path, kind", [
    ("case_lifecycle.bpmn", "bpmn"), ("rules/deadlines.dmn", "dmn"), ("forms/dispatch.schema.json", "form"),
    ("rules/a.bpmn", None), ("a.dmn", None), ("forms/a.json", None), ("a.schema.json", None), ("a.json", None),
    ("forms/sub/a.schema.json", None), ("a.bpmn.txt", None), ("a.xml", None),
    ("../a.bpmn", None), ("/a.bpmn", None), ("rules/../a.dmn", None), ("a\\b.bpmn", None), (".a.bpmn", None),
    ("a\x01.bpmn", None), ("", None), (None, None), ("a" * 200 + ".bpmn", None),
])
def test_where_each_kind_of_model_lives(path, kind):
    assert model_kind(path) == kind


def test_a_directory_is_read_at_the_model_paths_only(tmp_path):
    for name in ("p.bpmn", "rules/r.dmn", "forms/f.schema.json", "forms/f.json", "notes.txt", "rules/p.bpmn",
                 "old/p.bpmn", ".hidden.bpmn"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert sorted(read_directory(tmp_path)) == ["forms/f.schema.json", "p.bpmn", "rules/r.dmn"]


def test_a_file_outside_the_model_paths_is_reported_not_guessed(files):
    files["notes.txt"] = b"<definitions/>"
    files["forms/extra.json"] = b'{"type": "object"}'
    found = {p.file: p for p in validate_files(files, known_roles=ROLES)}
    assert found["notes.txt"].code == found["forms/extra.json"].code == "not_a_model_path"
    assert "forms/*.schema.json" in found["notes.txt"].message
    assert set(found) == {"notes.txt", "forms/extra.json"}  # the shipped files are still fine
