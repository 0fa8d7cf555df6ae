"""What a loaded bundle is: its files, identity, parsed processes, forms and user tasks.

A bundle is what gets deployed as one process version: every ``*.bpmn`` file, every
``rules/*.dmn`` table, every ``forms/*.schema.json`` form and the English of its labels
(``labels.en.json``, when there is one), keyed by their path relative to the
bundle root. Its identity is a SHA-256 over the sorted contents, so the same files always hash to
the same version.

This module is a leaf: it imports nothing from ``workflows`` (``validation`` builds bundles,
``bundle`` loads them, the engine runs them; all of them import it, never the other way round).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping


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
    # bpmn id -> name of every named flow node (task, event, gateway, call activity) of every
    # process, so pages can name what a case passed without walking the engine's specs.
    element_names: dict[str, str] = field(default_factory=dict)
    # The English of the bundle's own Chinese labels (reading.LABELS_FILE), {} when it has none.
    labels: dict[str, str] = field(default_factory=dict)

    def form_for(self, bpmn_id: str) -> dict | None:
        meta = self.tasks.get(bpmn_id)
        return self.forms.get(meta.form) if meta and meta.form else None


def hash_files(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()
