"""Evaluate a bundle's DMN decision outside a running case, e.g. to preview 办理时限 on the dispatch form.

The table is parsed with SpiffWorkflow's DMN parser and run by its DMN engine with the caller's
(sandboxed) script engine, exactly as a businessRuleTask would run it, so a preview can never
disagree with what the process will do once the form is submitted.

    days = evaluate(bundle, "deadlines", {"type": "complaint", "difficulty": "normal", "urgent": False},
                    engine.script_engine)["handle_days"]
"""
from __future__ import annotations

import ast
import threading
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Callable

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

from .model import Bundle
from .reading import model_kind, safe_xml_parser

DEADLINE_DECISION = "deadlines"
ROUTING_DECISION = "routing"
DMN_NS = "{*}"


class DecisionError(Exception):
    """The decision is missing from the bundle, or a cell failed to evaluate."""


_lock = threading.Lock()
_tables: dict[tuple[str, str], Any] = {}  # (bundle hash, decision id) -> parsed DMNEngine


def _table(bundle: Bundle, decision_id: str):
    key = (bundle.content_hash, decision_id)
    table = _tables.get(key)
    if table is not None:
        return table
    for name, content in sorted(bundle.files.items()):
        if model_kind(name) != "dmn":
            continue
        tree = etree.fromstring(content, safe_xml_parser())
        if not any(el.get("id") == decision_id for el in tree.iter(f"{DMN_NS}decision")):
            continue
        parser = BpmnDmnParser()
        parser.add_dmn_xml(tree, filename=name)
        table = parser.get_engine(decision_id, None)
        with _lock:
            _tables[key] = table
        return table
    raise DecisionError(f"decision '{decision_id}' is not in this process version")


def evaluate(bundle: Bundle, decision_id: str, data: dict, script_engine) -> dict:
    """The first matching rule's outputs ({} when no rule matches)."""
    table = _table(bundle, decision_id)
    # The DMN engine only needs a task's data and its workflow's script engine.
    task = SimpleNamespace(data=dict(data), task_spec=None, workflow=SimpleNamespace(script_engine=script_engine))
    try:
        return dict(table.result(task))
    except Exception as exc:  # any cell error: the preview says so instead of failing the page
        raise DecisionError(f"decision '{decision_id}' failed: {exc}") from None


def input_values(bundle: Bundle, decision_id: str, input_expression: str) -> list[str]:
    """The literal string values a table tests one input against, e.g. the categories routing knows."""
    try:
        table = _table(bundle, decision_id).decision_table
    except DecisionError:
        return []
    values: list[str] = []
    for rule in table.rules:
        for entry in rule.inputEntries:
            if entry.input.expression != input_expression:
                continue
            for text in entry.lhs:
                try:
                    value = ast.literal_eval(text) if text else None
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, str) and value not in values:
                    values.append(value)
    return values


def deadline_preview(bundle: Bundle, script_engine, working_days_after: Callable[[Any, int], datetime], *,
                     type: str, difficulty: str | None, urgent: bool, start: datetime) -> tuple[int, datetime]:
    """(working days, due instant) that set_deadline and assign would give a dispatch made at ``start``."""
    result = evaluate(bundle, DEADLINE_DECISION, {"type": type, "difficulty": difficulty or "normal",
                                                  "urgent": bool(urgent)}, script_engine)
    days = result.get("handle_days")
    if isinstance(days, bool) or not isinstance(days, int):
        raise DecisionError(f"decision '{DEADLINE_DECISION}' gave no whole number of days for {type}/{difficulty}")
    return days, working_days_after(start, days)


def routing_preview(bundle: Bundle, script_engine, data: dict) -> str | None:
    """The department code the routing table gives for ``data`` (category ...), None when no rule matches.

    ``data`` holds what the process knows when ``route`` runs; a table that asks for more fails with a
    DecisionError naming the decision, which the page shows instead of a department."""
    department = evaluate(bundle, ROUTING_DECISION, data, script_engine).get("routed_department")
    return department if isinstance(department, str) and department else None
