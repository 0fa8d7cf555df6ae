"""One AST construction at a time in this process, to step around a CPython 3.11 bug.

CPython 3.11 converts a parsed tree to Python objects with a recursion counter kept per
interpreter, not per thread (gh-106905). Two threads building ASTs at once can corrupt it, and one
of them fails with "SystemError: AST constructor recursion depth mismatch". It was seen in CI
twice: in a scheduler's sweep threads (RestrictedPython compiling scripts) and in two deploys
validating DMN tables at once (SpiffWorkflow's parser checks each output cell with ``ast.parse``).

Every AST in this process is made through ``ast.parse``: ours, RestrictedPython's and
SpiffWorkflow's (they call it as ``ast.parse``, an attribute looked up at each call). So on 3.11
``ast.parse`` is wrapped once, at import of ``workflows``, to hold ``LOCK``; compiling a tree back
(RestrictedPython's ``compile`` of its transformed AST) takes the same re-entrant lock in
workflows/sandbox.py. Parsing is CPU work under the GIL anyway, so the lock costs no parallelism.
"""
from __future__ import annotations

import ast
import functools
import sys
import threading

LOCK = threading.RLock()
_original_parse = ast.parse


@functools.wraps(_original_parse)
def _parse(*args, **kwargs):
    with LOCK:
        return _original_parse(*args, **kwargs)


def install() -> None:
    if sys.version_info < (3, 12) and ast.parse is _original_parse:
        ast.parse = _parse
