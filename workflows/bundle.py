"""Loading a bundle: read its files from a directory, parse and check them, or refuse with every error.

What a bundle is (``Bundle``, ``TaskMeta``, ``hash_files``) lives in ``workflows.model``; the
checks live in ``workflows.validation``.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Mapping

from .model import Bundle, hash_files
from .reading import LABELS_FILE, MODEL_PATHS, model_kind
from .validation import Problem, analyze


class BundleInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems[:5]) +
                         (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))


def read_directory(root: str | Path) -> dict[str, bytes]:
    """Every model file under ``root`` (see ``reading.MODEL_PATHS``) and the English of its labels
    (``reading.LABELS_FILE``) when there is one, keyed by its bundle path."""
    root = Path(root)
    files = {}
    if (root / LABELS_FILE).is_file():
        files[LABELS_FILE] = (root / LABELS_FILE).read_bytes()
    for pattern, _kind in MODEL_PATHS:
        for path in sorted(root.glob(pattern)):
            name = path.relative_to(root).as_posix()
            if model_kind(name) is not None and path.is_file():  # not .hidden.bpmn, nor a folder
                files[name] = path.read_bytes()
    return files


_LOADED: OrderedDict[tuple, Bundle] = OrderedDict()
_LOADED_MAX = 8
_loaded_lock = threading.Lock()


def load_bundle(files: Mapping[str, bytes], known_roles: Iterable[str] | None = None) -> Bundle:
    """Parse and check every file; raise BundleInvalid listing all errors found.

    The checks are those of ``validation.validate_files`` (warnings do not stop a bundle). The same
    files, checked against the same roles, are parsed once per process and the bundle is shared: it
    is read-only once built (the engine already shares one among all of a version's cases), and
    parsing is a third of a second or more. A deploy, the version cache of every ``Core`` and the
    what-if replay may all ask for the same files; the test suite builds a ``Core`` per test."""
    files = {str(k): (v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in dict(files).items()}
    key = (hash_files(files), None if known_roles is None else frozenset(known_roles))
    with _loaded_lock:
        bundle = _LOADED.get(key)
        if bundle is not None:
            _LOADED.move_to_end(key)
            return bundle
    bundle, problems = analyze(files, known_roles)
    errors = [p for p in problems if p.severity == "error"]
    if errors or bundle is None:
        raise BundleInvalid(errors or [Problem("", "", "", "the bundle could not be built")])
    with _loaded_lock:
        _LOADED[key] = bundle
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    return bundle
