"""A deployable set of diagrams, decision tables and forms, parsed and checked.

A bundle is what gets deployed as one process version: every ``*.bpmn`` file,
every ``rules/*.dmn`` table and every ``forms/*.schema.json`` form, keyed by
their path relative to the bundle root. Its identity is a SHA-256 over the
sorted contents, so the same files always hash to the same version.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from . import sandbox

BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
FORM_PROPERTY = "formJsonSchemaFilename"
MAX_FILE_BYTES = 5 * 1024 * 1024


def safe_xml_parser() -> etree.XMLParser:
    # Diagrams come from designers' uploads: no DTDs, no entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True)


@dataclass(frozen=True)
class Problem:
    file: str
    element_id: str
    element_name: str
    message: str

    def __str__(self) -> str:
        where = f"{self.element_id}" + (f" ({self.element_name})" if self.element_name else "")
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class BundleInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems[:5]) +
                         (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))


@dataclass(frozen=True)
class TaskMeta:
    """What the application needs to know about one user task."""
    bpmn_id: str
    name: str
    role: str | None
    form: str | None


@dataclass
class Bundle:
    files: dict[str, bytes]
    content_hash: str
    specs: dict[str, object] = field(default_factory=dict)            # top-level process id -> spec
    subprocess_specs: dict[str, object] = field(default_factory=dict)  # every process and call-activity spec
    forms: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, TaskMeta] = field(default_factory=dict)           # user task bpmn id -> meta

    def form_for(self, bpmn_id: str) -> dict | None:
        meta = self.tasks.get(bpmn_id)
        return self.forms.get(meta.form) if meta and meta.form else None


def hash_files(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def read_directory(root: str | Path) -> dict[str, bytes]:
    root = Path(root)
    files = {}
    for pattern in ("*.bpmn", "rules/*.dmn", "forms/*.schema.json"):
        for path in sorted(root.glob(pattern)):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _lane_roles(tree) -> dict[str, str]:
    """flow node id -> role; the lane id is the role identifier (its name is the Chinese label)."""
    roles = {}
    for lane in tree.iterfind(".//bpmn:lane", BPMN_NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", BPMN_NS):
            if ref.text:
                roles[ref.text.strip()] = lane.get("id")
    return roles


def load_bundle(files: Mapping[str, bytes], known_roles: Iterable[str] | None = None) -> Bundle:
    """Parse and check every file; raise BundleInvalid listing all problems found."""
    files = dict(files)
    bundle = Bundle(files=files, content_hash=hash_files(files))
    problems: list[Problem] = []
    parser = SpiffBpmnParser()
    roles: dict[str, str] = {}
    names: dict[str, str] = {}
    known_roles = set(known_roles) if known_roles is not None else None

    for name, content in sorted(files.items()):
        if len(content) > MAX_FILE_BYTES:
            problems.append(Problem(name, "", "", f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB"))
            continue
        if name.endswith(".schema.json"):
            try:
                schema = json.loads(content)
                jsonschema.Draft202012Validator.check_schema(schema)
                bundle.forms[name.split("/")[-1]] = schema
            except (ValueError, jsonschema.SchemaError) as exc:
                problems.append(Problem(name, "", "", f"not a valid JSON Schema: {str(exc).splitlines()[0]}"))
            continue
        try:
            tree = etree.fromstring(content, safe_xml_parser())
        except etree.XMLSyntaxError as exc:
            problems.append(Problem(name, "", "", f"malformed XML: {exc}"))
            continue
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree, filename=name)
            else:
                roles.update(_lane_roles(tree))
                for el in tree.iter():
                    if isinstance(el.tag, str) and el.get("id"):
                        names[el.get("id")] = el.get("name") or ""
                parser.add_bpmn_xml(tree, filename=name)
        except (ValidationException, etree.XMLSyntaxError, ValueError, KeyError, AttributeError) as exc:
            problems.append(Problem(name, getattr(exc, "id", "") or "", getattr(exc, "name", "") or "",
                                    f"cannot parse: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"))
    if problems:
        raise BundleInvalid(problems)

    try:
        process_ids = parser.get_process_ids()
        for pid in process_ids:
            bundle.specs[pid] = parser.get_spec(pid)
        for pid in process_ids:
            bundle.subprocess_specs.update(parser.get_subprocess_specs(pid))
        for pid, spec in bundle.specs.items():
            bundle.subprocess_specs.setdefault(pid, spec)
    except (ValidationException, ValueError, KeyError) as exc:
        raise BundleInvalid([Problem("", getattr(exc, "id", "") or "", "", f"cannot build process: {exc}")])

    for spec in list(bundle.subprocess_specs.values()):
        problems.extend(_check_spec(spec, bundle, roles, names, known_roles))
    if problems:
        raise BundleInvalid(problems)
    return bundle


def _check_spec(spec, bundle: Bundle, roles, names, known_roles) -> list[Problem]:
    problems = []
    file = getattr(spec, "file", "") or ""
    for ts in spec.task_specs.values():
        bpmn_id = getattr(ts, "bpmn_id", None)
        if bpmn_id is None:
            continue
        label = getattr(ts, "bpmn_name", None) or names.get(bpmn_id, "")

        def add(msg):
            problems.append(Problem(file, bpmn_id, label, msg))

        if isinstance(ts, UserTask):
            role = roles.get(bpmn_id)
            form = (getattr(ts, "extensions", {}) or {}).get("properties", {}).get(FORM_PROPERTY)
            if role is None:
                add("user task is not in a lane")
            elif known_roles is not None and role not in known_roles:
                add(f"lane '{role}' is not a known role")
            if form is None:
                add(f"user task has no form ({FORM_PROPERTY})")
            elif form not in bundle.forms:
                add(f"form '{form}' does not exist")
            bundle.tasks[bpmn_id] = TaskMeta(bpmn_id, label, role, form)
        if isinstance(ts, ScriptTask):
            try:
                sandbox.check(ts.script or "", "exec")
            except sandbox.SandboxViolation as exc:
                add(f"script refused by the sandbox: {exc}")
        if isinstance(ts, ExclusiveGateway):
            if not ts.default_task_spec and not ts.cond_task_specs:
                add("exclusive gateway has neither a default flow nor conditions")
            for condition, _target in ts.cond_task_specs:
                expression = getattr(condition, "args", [None])[0] if condition is not None else None
                if not isinstance(expression, str):
                    continue
                try:
                    sandbox.check(expression, "eval")
                except sandbox.SandboxViolation as exc:
                    add(f"condition refused by the sandbox: {exc}")
        if isinstance(ts, CatchingEvent) and isinstance(ts.event_definition, TimerEventDefinition):
            try:
                sandbox.check(ts.event_definition.expression, "eval")
            except sandbox.SandboxViolation as exc:
                add(f"timer expression refused by the sandbox: {exc}")
        if isinstance(ts, CallActivity) and ts.spec not in bundle.subprocess_specs:
            add(f"called process '{ts.spec}' does not exist")
    return problems
