"""Every check a bundle must pass before it can run, reported all at once and never raised.

``validate_files`` is what the designer sees: each ``Problem`` names the file, the element id and
its name, and says what is wrong. ``bundle.load_bundle`` runs the same analysis and raises
``BundleInvalid`` with the errors, so what validates is exactly what deploys and runs. ``analyze``
is where a ``model.Bundle`` is built: its specs, forms, user tasks and element names.

Checks: every file is at a model path (``reading.MODEL_PATHS``) or is the labels file
(``reading.LABELS_FILE``, a JSON object of texts that becomes ``Bundle.labels``); the XML is
safe and well-formed (no DOCTYPE or entities) with a BPMN/DMN ``definitions`` root; SpiffWorkflow parses every process
and table; every user task sits in a lane whose id is a known role and names an existing, valid
JSON Schema form; scripts and gateway conditions compile in the sandbox; timer expressions evaluate
in the sandbox against sample data and yield a date-time (timeDate), a duration (timeDuration) or a
cycle (timeCycle); called processes exist; DMN input expressions, input cells and output cells
compile the way the DMN engine will run them; the required lifecycle process exists and is
executable.

Input is untrusted: third-party parsers can fail in any way on foreign files, so their calls are
wrapped broadly and turned into problems. Nothing runs outside the sandbox, and timer expressions
are only evaluated when they are simple enough that evaluation is bounded.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from lxml import etree

from . import sandbox
from .model import Bundle, TaskMeta, hash_files
from .reading import (LABELS_FILE, MAX_FILE_BYTES, MODEL_PATHS, Unreadable, model_kind, parse_form, parse_labels,
                      parse_xml)

BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_MODELS = frozenset({
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20211108/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
})
BPMN_NS = {"bpmn": BPMN_MODEL}
FORM_PROPERTY = "formJsonSchemaFilename"

# Timers are checked against this moment: a Monday, 09:00 in Shanghai.
SAMPLE_INSTANT = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
SAMPLE_ISO = SAMPLE_INSTANT.isoformat(timespec="seconds")
_DATETIME_NAMES = re.compile(r"(^|_)(at|due|deadline|time|date|start|end|until)$")
_NUMBER_NAMES = re.compile(r"(^|_)(days|count|hours|n)$")


# Every ``Problem.code`` this module produces, one per kind of message. The app shows a problem in
# the designer's language from its code and params (app/processes/problem_text.py); ``message`` is
# the English text the CLI and the logs use.
CODES: tuple[str, ...] = (
    "not_a_model_path", "file_too_large", "doctype_refused", "malformed_xml", "too_many_elements",
    "form_too_many_fields", "unsupported_element", "missing_reference", "nested_too_deeply", "number_too_long",
    "structure_unreadable", "form_not_utf8", "form_too_deep", "form_not_json",
    "form_not_object", "form_not_schema", "not_bpmn_root", "not_dmn_root", "cannot_parse",
    "lifecycle_missing", "lifecycle_not_executable", "process_not_executable", "cannot_build",
    "task_not_in_lane", "unknown_role", "task_without_form", "form_missing", "form_invalid",
    "gateway_without_default_or_conditions", "called_process_not_executable", "called_process_missing",
    "sandbox_refused", "cannot_compile",
    "timer_without_expression", "timer_iso_literal", "timer_too_complex", "timer_no_sample", "timer_unchecked",
    "timer_fails", "timer_naive", "timer_invalid_value",
    "dmn_no_decision", "dmn_rule_cells", "dmn_missing_attribute", "dmn_cannot_parse",
    "dmn_input_without_expression", "labels_invalid",
)
# What a sandbox_refused / cannot_compile problem is about (its ``subject`` param) ...
SUBJECTS: tuple[str, ...] = ("script", "prescript", "postscript", "condition", "timer", "dmn_input", "dmn_cell",
                             "dmn_output")
# ... and the hint for expressions written for other engines (its ``hint`` param, "" for none).
HINTS: tuple[str, ...] = ("juel", "feel", "iso_unquoted", "feel_range")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle. ``severity`` 'error' blocks a deploy, 'warning' does not.

    ``code`` (one of ``CODES``) and ``params`` say the same as ``message`` for translation: the
    params are the values the message interpolates (names, ids, the underlying error text)."""
    file: str
    element_id: str
    element_name: str
    message: str
    severity: str = "error"
    code: str = ""
    params: dict = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        where = f"{self.element_id}" + (f" ({self.element_name})" if self.element_name else "")
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "element_id": self.element_id, "element_name": self.element_name,
                "message": self.message, "severity": self.severity, "code": self.code,
                "params": dict(self.params)}


# -- the analysis -----------------------------------------------------------------------------------
@dataclass
class _Context:
    problems: list[Problem] = field(default_factory=list)
    names: dict[tuple[str, str], str] = field(default_factory=dict)   # (file, id) -> name
    any_names: dict[str, str] = field(default_factory=dict)           # id -> name, any file
    roles: dict[str, str] = field(default_factory=dict)               # flow node id -> lane id
    process_files: dict[str, str] = field(default_factory=dict)       # process id -> file
    non_executable: set[str] = field(default_factory=set)
    top_level: list[str] = field(default_factory=list)

    def add(self, file, element_id, message, code, params=None, name=None, severity="error"):
        if name is None:
            name = self.names.get((file, element_id)) or self.any_names.get(element_id, "")
        self.problems.append(Problem(file or "", element_id or "", name or "", message, severity, code,
                                     dict(params or {})))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    return exc


def explain(exc: BaseException, default_code: str) -> tuple[str, dict, str]:
    """A parser or engine failure as (code, params, element id) a designer can read: the raw
    exception text (``NotImplementedError('Unsupported Catch Event: %r', b'<bpmn:...')``,
    ``RecursionError``, "use sys.set_int_max_str_digits()") says nothing to them. Unknown failures
    keep their first line, under ``default_code``."""
    root, text = _root(exc), _first_line(exc)
    if isinstance(root, NotImplementedError) or "Unsupported" in text:
        element = re.search(r"<(?:[\w-]+:)?(\w+)", text)
        definition = re.search(r"<(?:[\w-]+:)?(\w+EventDefinition)", text)
        element_id = re.search(r'\bid=\\?["\']([^"\'\\]+)', text)
        return ("unsupported_element", {"element": element.group(1) if element else "?",
                                        "definition": definition.group(1) if definition else "?"},
                element_id.group(1) if element_id else "")
    if "When looking for a task spec" in text:
        ref = re.search(r"\(([^()]*)\)\.?$", text)
        return "missing_reference", {"ref": ref.group(1) if ref else "?"}, ""
    if isinstance(root, RecursionError) or "Excessive depth" in text:
        return "nested_too_deeply", {}, ""
    if "int_max_str_digits" in text or "integer string conversion" in text:
        return "number_too_long", {}, ""
    if isinstance(root, (KeyError, IndexError, AttributeError, TypeError)):
        return "structure_unreadable", {}, ""
    return default_code, {"error": text}, ""


def _add_explained(ctx, file, element_id, exc, default_code, prefix, name=None) -> None:
    code, params, found_id = explain(exc, default_code)
    message = f"{prefix}: {_first_line(exc)}" if code == default_code else f"{prefix}: {code} {params}"
    ctx.add(file, found_id or element_id, message, code, params, name=name)


def validate_files(files: Mapping[str, bytes], known_roles: Iterable[str] | None = None,
                   required_process: str | None = None) -> list[Problem]:
    """All problems of a bundle (errors and warnings); never raises for bad input."""
    _bundle, problems = analyze(files, known_roles, required_process)
    return problems


def analyze(files: Mapping[str, bytes], known_roles: Iterable[str] | None = None,
            required_process: str | None = None):
    """Parse and check a bundle; returns (Bundle or None when it cannot be built, problems)."""
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    files = {str(k): (v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in dict(files).items()}
    bundle = Bundle(files=files, content_hash=hash_files(files))
    ctx = _Context()
    parser = SpiffBpmnParser()
    known = set(known_roles) if known_roles is not None else None
    dmn_trees: dict[str, object] = {}

    for name, content in sorted(files.items()):
        kind = model_kind(name)
        if kind is None and name != LABELS_FILE:
            places = ", ".join(pattern for pattern, _kind in MODEL_PATHS)
            ctx.add(name, "", f"not a model file: a bundle keeps models at {places}", "not_a_model_path",
                    {"places": places})
            continue
        if len(content) > MAX_FILE_BYTES:
            ctx.add(name, "", f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB", "file_too_large",
                    {"mb": MAX_FILE_BYTES // 1024 // 1024})
            continue
        if name == LABELS_FILE:
            try:
                bundle.labels = parse_labels(content)
            except Unreadable as exc:
                ctx.add(name, "", str(exc), exc.code, exc.params)
            continue
        if kind == "form":
            try:
                bundle.forms[name.split("/")[-1]] = parse_form(content)
            except Unreadable as exc:
                ctx.add(name, "", str(exc), exc.code, exc.params)
            continue
        try:
            root = parse_xml(content)
        except Unreadable as exc:
            ctx.add(name, "", str(exc), exc.code, exc.params)
            continue
        qname = etree.QName(root)
        expected = {BPMN_MODEL} if kind == "bpmn" else DMN_MODELS
        if qname.localname != "definitions" or qname.namespace not in expected:
            what = "BPMN 2.0" if kind == "bpmn" else "DMN"
            ctx.add(name, "", f"not a {what} file: the root element is <{qname.localname}>"
                              f"{' in ' + qname.namespace if qname.namespace else ' without namespace'}, "
                              f"expected {what} <definitions>", "not_bpmn_root" if kind == "bpmn" else "not_dmn_root",
                    {"root": qname.localname, "namespace": qname.namespace or ""})
            continue
        _index_names(ctx, name, root)
        try:
            if kind == "dmn":
                parser.add_dmn_xml(root, filename=name)
                dmn_trees[name] = root
            else:
                _index_processes(ctx, name, root)
                parser.add_bpmn_xml(root, filename=name)
        except Exception as exc:  # noqa: BLE001 - foreign files can break the parser in any way
            _add_explained(ctx, name, getattr(exc, "id", "") or "", exc, "cannot_parse", "cannot parse",
                           name=getattr(exc, "name", None) or None)

    for name, root in dmn_trees.items():
        _check_dmn(ctx, parser, name, root)

    _build_specs(ctx, parser, bundle)
    for spec_name, spec in list(bundle.subprocess_specs.items()):
        _check_spec(ctx, spec, bundle, known)
        for ts in spec.task_specs.values():
            if getattr(ts, "bpmn_id", None) and getattr(ts, "bpmn_name", None):
                bundle.element_names[ts.bpmn_id] = ts.bpmn_name

    if required_process is not None:
        if required_process in ctx.non_executable:
            ctx.add(ctx.process_files.get(required_process, ""), required_process,
                    f"the lifecycle process '{required_process}' is not executable (isExecutable=\"false\")",
                    "lifecycle_not_executable", {"process": required_process})
        elif required_process not in ctx.process_files:
            ctx.add("", required_process, f"the lifecycle process '{required_process}' is missing",
                    "lifecycle_missing", {"process": required_process})
    built = bundle if not any(p.severity == "error" for p in ctx.problems) else None
    return built, ctx.problems


def _index_names(ctx: _Context, file: str, root) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id"):
            label = el.get("name") or el.get("label") or ""
            ctx.names[(file, el.get("id"))] = label
            ctx.any_names.setdefault(el.get("id"), label)


def _index_processes(ctx: _Context, file: str, root) -> None:
    for process in root.iterfind(".//bpmn:process", BPMN_NS):
        pid = process.get("id") or ""
        ctx.process_files.setdefault(pid, file)
        if process.get("isExecutable", "true") != "true":
            ctx.non_executable.add(pid)
        else:
            ctx.top_level.append(pid)
    for lane in root.iterfind(".//bpmn:lane", BPMN_NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", BPMN_NS):
            if ref.text:
                ctx.roles[ref.text.strip()] = lane.get("id")


def _build_specs(ctx: _Context, parser, bundle) -> None:
    from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask

    for pid in sorted(ctx.non_executable):
        ctx.add(ctx.process_files.get(pid, ""), pid,
                "process is not executable (isExecutable=\"false\"): it is kept but never runs",
                "process_not_executable", {"process": pid}, severity="warning")
    for pid in ctx.top_level:
        try:
            bundle.specs[pid] = parser.get_spec(pid)
        except Exception as exc:  # noqa: BLE001
            _add_explained(ctx, getattr(exc, "file_name", "") or ctx.process_files.get(pid, ""),
                           getattr(exc, "id", "") or pid, exc, "cannot_build", "cannot build process",
                           name=getattr(exc, "name", None) or None)
    # Call activities and embedded subprocesses, found the way SpiffWorkflow resolves them.
    pending = list(bundle.specs.items())
    while pending:
        name, spec = pending.pop()
        bundle.subprocess_specs.setdefault(name, spec)
        for ts in spec.task_specs.values():
            called = getattr(ts, "spec", None) if isinstance(ts, SubWorkflowTask) else None
            if not called or called in bundle.subprocess_specs or called in ctx.non_executable:
                continue
            try:
                sub = parser.get_spec(called, required=False)
            except Exception as exc:  # noqa: BLE001
                _add_explained(ctx, getattr(exc, "file_name", "") or getattr(spec, "file", ""),
                               getattr(exc, "id", "") or called, exc, "cannot_build", "cannot build process")
                continue
            if sub is not None:
                bundle.subprocess_specs[called] = sub
                pending.append((called, sub))


def _check_spec(ctx: _Context, spec, bundle, known_roles) -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
    from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
    from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
    from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

    file = getattr(spec, "file", "") or ""
    for ts in spec.task_specs.values():
        bpmn_id = getattr(ts, "bpmn_id", None)
        if bpmn_id is None:
            continue
        label = getattr(ts, "bpmn_name", None) or ctx.names.get((file, bpmn_id)) or ctx.any_names.get(bpmn_id, "")

        def add(msg, code, params=None, severity="error"):
            ctx.add(file, bpmn_id, msg, code, params, name=label, severity=severity)

        if isinstance(ts, UserTask):
            role = ctx.roles.get(bpmn_id)
            form = ((getattr(ts, "extensions", None) or {}).get("properties") or {}).get(FORM_PROPERTY)
            if role is None:
                add("user task is not in a lane (the lane id names the role)", "task_not_in_lane")
            elif known_roles is not None and role not in known_roles:
                roles = ", ".join(sorted(known_roles))
                add(f"lane '{role}' is not a known role ({roles})", "unknown_role", {"role": role, "roles": roles})
            if form is None:
                add(f"user task has no form ({FORM_PROPERTY})", "task_without_form", {"property": FORM_PROPERTY})
            elif form not in bundle.forms:
                if f"forms/{form}" not in bundle.files:
                    add(f"form '{form}' does not exist", "form_missing", {"form": form})
                else:
                    add(f"form '{form}' is not a valid JSON Schema", "form_invalid", {"form": form})
            bundle.tasks[bpmn_id] = TaskMeta(bpmn_id, label, role, form)
        if isinstance(ts, ScriptTask):
            _compile(add, ts.script or "", "exec", "script", "script")
        for attr, what in (("prescript", "pre-script"), ("postscript", "post-script")):
            code = getattr(ts, attr, None)
            if code:
                _compile(add, code, "exec", what, attr)
        cond_specs = getattr(ts, "cond_task_specs", None)
        if cond_specs is not None and type(ts).__name__.endswith("Gateway"):
            if not getattr(ts, "default_task_spec", None) and not cond_specs:
                add("exclusive gateway has neither a default flow nor conditions",
                    "gateway_without_default_or_conditions")
            for condition, target in cond_specs:
                expression = getattr(condition, "args", [None])[0] if condition is not None else None
                if isinstance(expression, str):
                    _compile(add, expression, "eval", f"condition towards '{target}'", "condition",
                             {"target": str(target)})
        if isinstance(ts, CatchingEvent) and isinstance(getattr(ts, "event_definition", None), TimerEventDefinition):
            _check_timer(add, ts.event_definition)
        if isinstance(ts, CallActivity):
            if ts.spec in ctx.non_executable:
                add(f"called process '{ts.spec}' is not executable", "called_process_not_executable",
                    {"process": ts.spec})
            elif ts.spec not in bundle.subprocess_specs:
                add(f"called process '{ts.spec}' does not exist", "called_process_missing", {"process": ts.spec})


_ISO_LITERAL = re.compile(r"^(R\d*/)?(P(\d|T\d)|\d{4}-\d{2}-\d{2})")


def _foreign_hint(source: str) -> tuple[str, str]:
    """Expressions written for other engines fail here; say so instead of only 'syntax error'.

    Returns (English text, hint code from HINTS), both "" when there is nothing to say."""
    text = source.strip()
    if text.startswith(("${", "#{")):
        return (" (this looks like a Camunda/JUEL expression; Bihuan uses Python expressions, e.g. approved == True)",
                "juel")
    if text.startswith("="):
        return " (this looks like a FEEL expression; Bihuan uses Python expressions)", "feel"
    if _ISO_LITERAL.match(text):
        return f" (an ISO 8601 value must be quoted here: \"{text}\")", "iso_unquoted"
    if re.fullmatch(r"\[[^\]]*\.\.[^\]]*\]|\([^)]*\.\.[^)]*\)", text):
        return " (FEEL ranges such as [1..5] are not supported; write e.g. 1 <= ? <= 5)", "feel_range"
    return "", ""


def _compile(add, source: str, mode: str, what: str, subject: str, subject_params: dict | None = None,
             original: str | None = None) -> bool:
    """Check code in the sandbox; ``what`` names it in English, ``subject`` (one of SUBJECTS) for translation."""
    params = {"subject": subject, **(subject_params or {})}
    try:
        sandbox.check(source.strip() if mode == "eval" else source, mode)
        return True
    except sandbox.SandboxViolation as exc:
        hint, hint_code = _foreign_hint(original or source)
        add(f"{what} refused by the sandbox: {exc}{hint}", "sandbox_refused",
            {**params, "error": str(exc), "hint": hint_code, "literal": (original or source).strip()})
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:  # e.g. NUL bytes, absurd nesting
        add(f"{what} cannot be compiled: {_first_line(exc)}", "cannot_compile", {**params, "error": _first_line(exc)})
    return False


# -- timers --------------------------------------------------------------------------------------
_SIMPLE_NODES = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.Call, ast.keyword, ast.BinOp, ast.Add,
                 ast.Sub, ast.UnaryOp, ast.USub, ast.UAdd, ast.Not, ast.Compare, ast.BoolOp, ast.And, ast.Or,
                 ast.IfExp, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
                 ast.JoinedStr, ast.FormattedValue)


def _sample_functions():
    from .workdays import WorkingCalendar, hours_before
    calendar = WorkingCalendar()
    days_after = lambda start, n: calendar.working_days_after(start, n).isoformat(timespec="seconds")  # noqa: E731
    return {"now": lambda: SAMPLE_ISO, "working_days_after": days_after,
            "working_days_before": lambda at, n: calendar.working_days_before(at, n).isoformat(timespec="seconds"),
            "hours_before": hours_before,
            "step_due": lambda start, days, hours=None: days_after(start, int(days or 0))}


def _check_timer(add, definition) -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                                   DurationTimerEventDefinition,
                                                                   TimerEventDefinition)
    expression = (definition.expression or "").strip()
    if not expression:
        add("timer has no expression", "timer_without_expression")
        return
    if _ISO_LITERAL.match(expression):
        add(f"timer expression {expression!r} is an ISO 8601 literal, but timer expressions are Python "
            f"expressions here: quote it (\"{expression}\") or compute it (working_days_after(...))",
            "timer_iso_literal", {"expression": expression})
        return
    if not _compile(add, expression, "eval", "timer expression", "timer"):
        return
    tree = ast.parse(expression, mode="eval")
    if not all(isinstance(node, _SIMPLE_NODES) for node in ast.walk(tree)) or any(
            isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and abs(n.value) > 100_000
            for n in ast.walk(tree)):
        add("timer expression is too complex to check with sample data; keep it to names, calls and "
            "constants (e.g. working_days_after(dispatched_at, 1))", "timer_too_complex", severity="warning")
        return
    functions = _sample_functions()
    sample: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in functions and node.id not in ("True", "False", "None"):
            if _DATETIME_NAMES.search(node.id):
                sample[node.id] = SAMPLE_ISO
            elif _NUMBER_NAMES.search(node.id):
                sample[node.id] = 1
            else:
                add(f"timer expression uses '{node.id}', which has no sample value: it was not evaluated "
                    "(name date-times *_at/*_due/deadline, numbers *_days/*_count)", "timer_no_sample",
                    {"name": node.id}, severity="warning")
                return
    try:
        value = sandbox.SandboxEnvironment(functions).evaluate(expression, sample)
    except Exception as exc:  # noqa: BLE001 - any failure of a designer's expression is the finding
        from .workdays import CalendarGap
        if isinstance(exc, CalendarGap):
            add(f"timer expression could not be checked: {exc}", "timer_unchecked", {"error": str(exc)},
                severity="warning")
        else:
            values = ", ".join(f"{k}={v!r}" for k, v in sample.items())
            error = f"{type(exc).__name__}: {_first_line(exc)}"
            add(f"timer expression fails with sample data ({values}): {error}", "timer_fails",
                {"sample": values, "error": error})
        return
    kind = "timeDate"
    try:
        if not isinstance(value, str):
            raise TypeError(f"got {type(value).__name__} {value!r}, expected an ISO 8601 string")
        if isinstance(definition, DurationTimerEventDefinition):
            kind = "timeDuration"
            TimerEventDefinition.parse_iso_duration(value)
        elif isinstance(definition, CycleTimerEventDefinition):
            kind = "timeCycle"
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
            if not isinstance(parsed, datetime):
                raise TypeError(f"got the duration {value!r}, expected a date-time")
            if "W" not in value.upper() and datetime.fromisoformat(value).tzinfo is None:
                add(f"timer gives a date-time without a timezone ({value!r}); it would be read in the "
                    "server's local time", "timer_naive", {"value": value}, severity="warning")
    except Exception as exc:  # noqa: BLE001
        add(f"{kind} expression does not give a valid {kind} with sample data: {_first_line(exc)}",
            "timer_invalid_value", {"kind": kind, "error": _first_line(exc)})


# -- decision tables ---------------------------------------------------------------------------------
_QUESTION = re.compile(r'(\?)(?=(?:[^\'"]|[\'"][^\'"]*[\'"])*$)')


def _check_dmn(ctx: _Context, parser, file: str, root) -> None:
    """Parse each table the way SpiffWorkflow will, and compile every expression and cell."""
    ns = root.nsmap.get(None) or etree.QName(root).namespace
    q = {"dmn": ns}
    decisions = root.findall("dmn:decision", q)
    if not decisions:
        ctx.add(file, "", "no decision in this DMN file", "dmn_no_decision")
        return
    for table in root.iterfind(".//dmn:decisionTable", q):
        n_in, n_out = len(table.findall("dmn:input", q)), len(table.findall("dmn:output", q))
        for rule in table.findall("dmn:rule", q):
            cells_in, cells_out = len(rule.findall("dmn:inputEntry", q)), len(rule.findall("dmn:outputEntry", q))
            if cells_in != n_in or cells_out != n_out:
                ctx.add(file, rule.get("id", ""), f"rule has {cells_in} input and {cells_out} output cells but "
                                                  f"the table has {n_in} inputs and {n_out} outputs",
                        "dmn_rule_cells", {"cells_in": cells_in, "cells_out": cells_out, "inputs": n_in,
                                           "outputs": n_out})
                return
    for dmn_parser in list(getattr(parser, "dmn_parsers", {}).values()):
        if getattr(dmn_parser, "filename", None) == file:
            try:
                dmn_parser.parse()
            except KeyError as exc:
                ctx.add(file, "", f"cannot parse decision table: an element has no {exc} attribute",
                        "dmn_missing_attribute", {"attribute": str(exc)})
                return
            except Exception as exc:  # noqa: BLE001
                ctx.add(file, getattr(exc, "id", "") or "", f"cannot parse decision table: {_first_line(exc)}",
                        "dmn_cannot_parse", {"error": _first_line(exc)})
                return
    for table in root.iterfind(".//dmn:decisionTable", q):
        inputs = []
        for inp in table.findall("dmn:input", q):
            text = inp.findtext("dmn:inputExpression/dmn:text", default="", namespaces=q).strip()
            label = inp.get("label") or inp.get("name") or ""
            if not text:
                ctx.add(file, inp.get("id", ""), "input has no expression", "dmn_input_without_expression",
                        name=label)
            else:
                _compile(lambda m, c, p=None, i=inp, lb=label: ctx.add(file, i.get("id", ""), m, c, p, name=lb),
                         text, "eval", "input expression", "dmn_input", {"label": label})
            inputs.append((text, label))
        outputs = [(out.get("label") or out.get("name") or "") for out in table.findall("dmn:output", q)]
        for row_no, rule in enumerate(table.findall("dmn:rule", q), start=1):
            rule_name = (rule.findtext("dmn:description", default="", namespaces=q) or "").strip() or f"row {row_no}"
            rule_id = rule.get("id", "")
            for idx, cell in enumerate(rule.findall("dmn:inputEntry", q)):
                text = (cell.findtext("dmn:text", default="", namespaces=q) or "").strip()
                if not text or text == "-" or idx >= len(inputs) or not inputs[idx][0]:
                    continue
                add = (lambda m, code, p=None, c=cell, r=rule_name:
                       ctx.add(file, c.get("id", "") or rule_id, m, code, p, name=r))
                _compile(add, _cell_expression(inputs[idx][0], text), "eval",
                         f"cell '{text}' for input '{inputs[idx][1]}'", "dmn_cell",
                         {"text": text, "label": inputs[idx][1]}, original=text)
            for idx, cell in enumerate(rule.findall("dmn:outputEntry", q)):
                text = (cell.findtext("dmn:text", default="", namespaces=q) or "").strip()
                if text:
                    label = outputs[idx] if idx < len(outputs) else ""
                    add = (lambda m, code, p=None, c=cell, r=rule_name:
                           ctx.add(file, c.get("id", "") or rule_id, m, code, p, name=r))
                    _compile(add, text, "eval", f"output '{text}' for '{label}'", "dmn_output",
                             {"text": text, "label": label})


def _cell_expression(input_expr: str, cell: str) -> str:
    """The expression SpiffWorkflow's DMN engine evaluates for one input cell."""
    if _QUESTION.search(cell):
        return _QUESTION.sub("dmninputexpr", cell)
    try:
        ast.parse(cell, mode="eval")
        return f"({input_expr}) == ({cell})"
    except (SyntaxError, ValueError):
        return f"{input_expr} {cell}"
