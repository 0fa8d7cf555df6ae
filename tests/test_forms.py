"""JSON-Schema task forms: every shipped form renders each property; form data parses to typed JSON."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from flask import render_template_string

from app.tasks import forms
from workflows.bundle import load_bundle, read_directory
from workflows.rules import DecisionError, deadline_preview, evaluate, input_values
from workflows.engine import Engine
from workflows.workdays import WorkingCalendar

FORMS = Path(__file__).resolve().parents[1] / "bpmn" / "forms"
SHIPPED = sorted(FORMS.glob("*.schema.json"))
RENDER = '{% from "tasks/_form.html" import render_field %}{% for f in fields %}{{ render_field(f) }}{% endfor %}'


def schema(name: str) -> dict:
    return json.loads((FORMS / name).read_text(encoding="utf-8"))


def by_name(fields) -> dict:
    return {f.name: f for f in fields}


@pytest.fixture
def render(app):
    def _render(fields):
        with app.test_request_context():
            return render_template_string(RENDER, fields=fields)
    return _render


def test_every_shipped_form_is_covered():
    assert len(SHIPPED) >= 11, "a form was added or removed: check this module still covers it"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split(".")[0])
def test_every_property_of_every_shipped_form_renders(path, render):
    spec = json.loads(path.read_text(encoding="utf-8"))
    fields = forms.build_fields(spec, forms.initial_values(spec), departments=[("chengguan", "城管执法中队")])
    assert [f.name for f in fields] == list(spec["properties"])
    html = render(fields)
    for name, prop in spec["properties"].items():
        assert f'name="{name}"' in html, name
        assert prop["title"] in html, name
        if name in spec.get("required", []):
            assert by_name(fields)[name].required
    assert html.count('class="required"') == len(spec.get("required", []))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name.split(".")[0])
def test_an_empty_submission_parses_to_json_the_schema_judges(path):
    spec = json.loads(path.read_text(encoding="utf-8"))
    data = forms.parse(spec, {"csrf_token": "x"})
    # Only booleans are ever filled in for the user (an unchecked box is false); nothing unknown leaks in.
    assert set(data) <= {n for n, p in spec["properties"].items() if p.get("type") == "boolean"}
    assert all(v is False for v in data.values())
    # the only complaints left are missing answers, never a wrongly typed value
    errors = list(jsonschema.Draft202012Validator(spec).iter_errors(data))
    assert {e.validator for e in errors} <= {"required"}
    assert {e.message.split("'")[1] for e in errors if not e.path} >= {
        n for n in spec.get("required", []) if spec["properties"][n].get("type") != "boolean"}


def test_dispatch_widgets():
    fields = by_name(forms.build_fields(schema("dispatch.schema.json"), forms.initial_values(schema("dispatch.schema.json")),
                                        departments=[("chengguan", "城管执法中队")]))
    assert fields["decision"].widget == "radios" and fields["decision"].value == "dispatch"
    assert [o.label for o in fields["decision"].options] == ["派单", "不予受理", "并单（重复件）"]
    assert fields["difficulty"].widget == "radios" and fields["difficulty"].value == "normal"
    assert fields["urgent"].widget == "checkbox"
    assert fields["department"].widget == "select"
    assert [(o.value, o.label) for o in fields["department"].options] == [("", "按派单规则"),
                                                                         ("chengguan", "城管执法中队")]
    assert fields["refuse_reason"].widget == "textarea" and fields["note"].widget == "textarea"
    assert fields["duplicate_of"].widget == "text"
    assert fields["category"].attrs["maxlength"] == 50
    # conditional requirements become hints and a visibility rule, not a hard required mark
    assert fields["refuse_reason"].when == [("decision", "refuse")] and fields["refuse_reason"].toggles
    assert "不予受理" in fields["refuse_reason"].help
    assert not fields["refuse_reason"].required and fields["decision"].required
    assert fields["urgent"].when == [] and not fields["urgent"].toggles


def test_other_widget_rules(render):
    handle = by_name(forms.build_fields(schema("handle.schema.json")))
    assert handle["reply_text"].widget == "textarea"
    assert handle["extension_days"].widget == "number"
    assert handle["extension_days"].attrs == {"min": 1, "max": 30, "step": 1}
    assert handle["extension_reason"].widget == "textarea"
    verify = by_name(forms.build_fields(schema("verify.schema.json")))
    # 核实 is an explicit two-way choice (issue 15): no checkbox that means "no" when left empty
    assert verify["verify_result"].widget == "radios" and verify["verify_result"].required
    assert [o.label for o in verify["verify_result"].options] == ["核实通过", "核实不通过（退回重办）"]
    assert verify["verify_result"].value is None  # nothing preselected: the decision must be made
    assert verify["verify_note"].when == [("verify_result", "failed")] and verify["verify_note"].toggles
    approve = by_name(forms.build_fields(schema("approve_extension.schema.json")))
    assert approve["extension_decision"].widget == "radios" and approve["extension_decision"].required
    assert [o.value for o in approve["extension_decision"].options] == ["approve", "reject"]
    # a condition on a boolean makes a field mandatory but never hides it
    boolean = {"properties": {"ok": {"type": "boolean"}, "why": {"type": "string"}},
               "if": {"properties": {"ok": {"const": False}}}, "then": {"required": ["why"]}}
    assert not by_name(forms.build_fields(boolean))["why"].toggles
    follow = by_name(forms.build_fields(schema("follow_up.schema.json")))
    assert follow["satisfaction"].widget == "radios" and len(follow["satisfaction"].options) == 4
    reassign = by_name(forms.build_fields(schema("reassign.schema.json"), departments=[("police", "派出所")]))
    assert reassign["department"].options[0].label == "请选择承办部门"
    five = {"properties": {"pick": {"type": "string", "enum": list("abcde"), "enumNames": list("一二三四五")},
                           "count": {"type": "number"}, "long": {"type": "string", "maxLength": 201},
                           "short": {"type": "string", "maxLength": 200, "description": "说明文字"}}}
    fields = by_name(forms.build_fields(five))
    assert fields["pick"].widget == "select" and fields["count"].widget == "number"
    assert fields["long"].widget == "textarea" and fields["short"].widget == "text"
    html = render(list(fields.values()))
    assert "<select" in html and "说明文字" in html and 'step="any"' in html


def test_values_and_errors_are_shown_escaped(render):
    spec = schema("handle.schema.json")
    fields = forms.build_fields(spec, {"decision": "reply", "reply_text": "<b>已修复</b>"},
                                {"reply_text": "至少 2 个字"})
    html = render(fields)
    assert "&lt;b&gt;已修复&lt;/b&gt;" in html and "<b>已修复" not in html
    assert 'value="reply" checked' in html
    assert "至少 2 个字" in html and "has-error" in html


@pytest.mark.parametrize("raw,expected", [("true", True), ("on", True), ("1", True), ("", False), ("false", False),
                                          (None, False)])
def test_parse_booleans(raw, expected):
    spec = schema("dispatch.schema.json")
    form = {} if raw is None else {"urgent": raw}
    assert forms.parse(spec, form)["urgent"] is expected


def test_parse_types_and_omissions():
    spec = schema("handle.schema.json")
    data = forms.parse(spec, {"decision": "extension_request", "extension_days": " 5 ", "extension_reason": "  需协调 ",
                              "reply_text": "", "csrf_token": "t", "status": "closed"})
    assert data == {"decision": "extension_request", "extension_days": 5, "extension_reason": "需协调"}
    # what does not convert is passed on for the schema to reject at its field
    assert forms.parse(spec, {"extension_days": "五"})["extension_days"] == "五"
    assert forms.parse(spec, {"extension_days": "-3"})["extension_days"] == -3
    assert forms.parse({"properties": {"x": {"type": "number"}}}, {"x": "2.5"}) == {"x": 2.5}
    dispatch = forms.parse(schema("dispatch.schema.json"), {"decision": "dispatch", "category": "城市管理",
                                                           "difficulty": "normal", "department": "", "urgent": "true"})
    # (an unticked 联动处置 checkbox is false, like 紧急)
    assert dispatch == {"decision": "dispatch", "category": "城市管理", "difficulty": "normal", "urgent": True,
                        "joint": False}
    jsonschema.validate(dispatch, schema("dispatch.schema.json"))


def test_conditions_of_the_shipped_forms():
    assert forms.conditions(schema("dispatch.schema.json")) == {
        "refuse_reason": [("decision", "refuse")], "duplicate_of": [("decision", "merge_duplicate")],
        "category": [("decision", "dispatch")], "difficulty": [("decision", "dispatch")],
        "co_handlers": [("joint", True)]}
    assert forms.conditions(schema("verify.schema.json")) == {"verify_note": [("verify_result", "failed")]}
    assert forms.conditions(schema("approve_extension.schema.json")) == {
        "extension_note": [("extension_decision", "reject")]}


def test_initial_values_prefer_what_the_case_knows():
    spec = schema("dispatch.schema.json")
    values = forms.initial_values(spec, {"category": "物业管理", "urgent": True, "difficulty": None, "status": "x"})
    assert values == {"decision": "dispatch", "difficulty": "normal", "urgent": True, "category": "物业管理",
                      "joint": False}


def test_humanize_puts_chinese_messages_at_fields(app):
    spec = schema("handle.schema.json")
    with app.test_request_context():
        errors = forms.humanize(spec, [("reply_text", "'reply_text' is a required property"),
                                       ("extension_days", "'五' is not of type 'integer'"),
                                       ("extension_reason", "'x' is too short"),
                                       ("", "Additional properties are not allowed ('x' was unexpected)")])
        assert errors["reply_text"] == "必填"
        assert errors["extension_days"] == "请填写数字"
        assert errors["extension_reason"] == "至少 2 个字"
        assert "Additional properties" in errors[""]
        dispatch = schema("dispatch.schema.json")
        assert forms.humanize(dispatch, [("duplicate_of", "'HD-1' does not match '^HD-'")]) == {"duplicate_of": "格式不正确"}
        assert forms.humanize(dispatch, [("department", "unknown department")]) == {"department": "承办部门不存在"}


# -- workflows/rules.py: the DMN tables evaluated outside a case ----------------------------------------------------
@pytest.fixture(scope="module")
def bundle():
    return load_bundle(read_directory(FORMS.parent))


def test_deadline_table_evaluates_like_the_process(bundle):
    calendar = WorkingCalendar()
    engine = Engine(lambda: calendar)
    start = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
    days, due = deadline_preview(bundle, engine.script_engine, calendar.working_days_after,
                                 type="inquiry", difficulty="normal", urgent=False, start=start)
    assert (days, due) == (2, datetime(2026, 11, 4, 15, 59, 59, tzinfo=timezone.utc))
    assert deadline_preview(bundle, engine.script_engine, calendar.working_days_after, type="complaint",
                            difficulty="complex", urgent=False, start=start)[0] == 20
    assert deadline_preview(bundle, engine.script_engine, calendar.working_days_after, type="report",
                            difficulty="simple", urgent=True, start=start)[0] == 0


def test_rules_helpers(bundle):
    engine = Engine(WorkingCalendar)
    assert evaluate(bundle, "routing", {"category": "城市管理"}, engine.script_engine) == {
        "routed_department": "chengguan"}
    assert "物业管理" in input_values(bundle, "routing", "category")
    assert input_values(bundle, "no_such_table", "category") == []
    with pytest.raises(DecisionError, match="no_such_table"):
        evaluate(bundle, "no_such_table", {}, engine.script_engine)
    with pytest.raises(DecisionError):  # the table refers to 'type', which is missing
        evaluate(bundle, "deadlines", {"difficulty": "normal"}, engine.script_engine)


def test_a_boolean_sub_schema_still_renders_as_a_field():
    # {"x": true} is valid JSON Schema; a designer may deploy it, so the task page must not break on it.
    from app.tasks.forms import build_fields
    fields = build_fields({"type": "object", "properties": {"x": True, "y": {"type": "boolean"}}})
    assert [(f.name, f.widget) for f in fields] == [("x", "text"), ("y", "checkbox")]
