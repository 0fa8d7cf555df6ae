"""Validation problems and import notes in the designer's language: every code has a text, the
params fill it, unknown codes fall back to the English message, and outside a request the Chinese
msgid is interpolated as it is (the CLI, tests)."""
from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from app.processes import importing, problem_text
from app.processes.problem_text import HINTS, MESSAGES, SUBJECTS, describe, localize, tr
from workflows import validation
from workflows.validation import Problem

from tests.test_translations import PO

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
CODES = (*validation.CODES, *importing.NOTE_CODES)


def _params(msgid: str) -> dict:
    return {name: f"<{name}>" for name in PLACEHOLDER.findall(msgid)}


def test_codes_are_unique():
    assert len(set(CODES)) == len(CODES)
    assert len(set(validation.SUBJECTS)) == len(validation.SUBJECTS)


@pytest.mark.parametrize("code", CODES)
def test_every_code_has_a_chinese_text(code):
    assert code in MESSAGES, f"add {code!r} to app/processes/problem_text.py MESSAGES"
    params = {**_params(MESSAGES[code]), "subject": "script", "hint": "", "namespace": ""}
    text = localize(Problem("f.bpmn", "e", "", "the English text", "error", code, params))
    assert text != "the English text" and re.search(r"[\u4e00-\u9fff]", text), text
    assert "%(" not in text


def test_every_subject_and_hint_has_a_text():
    assert set(validation.SUBJECTS) == set(SUBJECTS)
    assert set(validation.HINTS) == set(HINTS)
    assert set(MESSAGES) == set(CODES), "a text without a code that produces it"


def test_every_text_is_in_the_english_catalog():
    with PO.open("rb") as f:
        catalog = read_po(f, locale="en")
    for msgid in [*MESSAGES.values(), *SUBJECTS.values(), *HINTS.values()]:
        message = catalog.get(msgid)
        assert message is not None and message.string and not message.fuzzy, msgid
        assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_the_real_problems_are_localized_with_their_params():
    files = {"p.bpmn": b"<definitions/>", "forms/bad.schema.json": b"[1]", "rules/r.dmn": b"<<"}
    problems = {p.file: p for p in validation.validate_files(files, known_roles=("handler",),
                                                            required_process="case_lifecycle")}
    assert problems["p.bpmn"].code == "not_bpmn_root" and problems["p.bpmn"].params["root"] == "definitions"
    assert localize(problems["p.bpmn"]) == "不是 BPMN 2.0 文件：根元素是 <definitions>（无命名空间），应为 BPMN 2.0 的 <definitions>"
    assert localize(problems["forms/bad.schema.json"]) == "不是合法的 JSON Schema：表单必须是 JSON 对象"
    assert problems["rules/r.dmn"].code == "malformed_xml"
    assert localize(problems["rules/r.dmn"]).startswith("XML 格式错误：")
    assert problems[""].code == "lifecycle_missing"
    assert localize(problems[""].as_dict()) == "缺少生命周期流程 case_lifecycle"


def test_sandbox_problems_name_their_subject_and_hint():
    refused = Problem("r.dmn", "c", "", "cell '[1..5]' ...", "error", "sandbox_refused",
                      {"subject": "dmn_cell", "text": "[1..5]", "label": "天数", "error": "invalid syntax",
                       "hint": "feel_range", "literal": "[1..5]"})
    assert localize(refused) == ("输入 天数 的单元格 [1..5]被沙箱拒绝：invalid syntax"
                                 "（不支持 [1..5] 这样的 FEEL 区间；请写成例如 1 <= ? <= 5）")
    assert describe(refused) == "r.dmn: c: " + localize(refused)


def test_unknown_codes_and_broken_params_fall_back_to_the_english_message():
    assert localize(Problem("f", "", "", "something new", "error", "no_such_code")) == "something new"
    assert localize({"message": "old problem without a code"}) == "old problem without a code"
    assert localize(Problem("f", "", "", "form 'x' does not exist", "error", "form_missing", {})) == \
        "form 'x' does not exist"


def test_problems_stay_hashable_and_as_dict_carries_code_and_params():
    problem = Problem("f", "e", "n", "m", "warning", "timer_naive", {"value": "2026-01-01T09:00"})
    assert hash(problem) == hash(Problem("f", "e", "n", "m", "warning", "timer_naive", {"value": "other"}))
    assert problem.as_dict() == {"file": "f", "element_id": "e", "element_name": "n", "message": "m",
                                 "severity": "warning", "code": "timer_naive", "params": {"value": "2026-01-01T09:00"}}
    assert str(problem) == "f: e (n): m"


def test_tr_works_without_a_request_and_inside_one(app):
    assert tr("表单 %(form)s 不存在", form="a.schema.json") == "表单 a.schema.json 不存在"
    assert tr("定时器没有表达式") == "定时器没有表达式"
    with app.app_context():  # the CLI: an app but no request (the locale selector reads the session)
        assert tr("表单 %(form)s 不存在", form="a.schema.json") == "表单 a.schema.json 不存在"
    with app.test_request_context():
        assert tr("表单 %(form)s 不存在", form="a.schema.json") == "表单 a.schema.json 不存在"
    assert problem_text.text("form_missing", {"form": "a"}, "x") == "表单 a 不存在"
