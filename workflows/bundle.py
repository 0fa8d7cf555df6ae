"""A deployable set of diagrams, decision tables and forms, parsed and checked.

A bundle is what gets deployed as one process version: every ``*.bpmn`` file,
every ``rules/*.dmn`` table and every ``forms/*.schema.json`` form, keyed by
their path relative to the bundle root. Its identity is a SHA-256 over the
sorted contents, so the same files always hash to the same version.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .validation import FORM_PROPERTY, MAX_FILE_BYTES, Problem, analyze, safe_xml_parser  # noqa: F401 - re-exported


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


def load_bundle(files: Mapping[str, bytes], known_roles: Iterable[str] | None = None) -> Bundle:
    """Parse and check every file; raise BundleInvalid listing all errors found.

    The checks are those of ``validation.validate_files`` (warnings do not stop a bundle)."""
    bundle, problems = analyze(files, known_roles)
    errors = [p for p in problems if p.severity == "error"]
    if errors or bundle is None:
        raise BundleInvalid(errors or [Problem("", "", "", "the bundle could not be built")])
    return bundle
