"""Notices a diagram raises while it runs: ``notify(kind, task)`` in a script.

A reminder path (a non-interrupting boundary timer, then a script calling ``notify``) says that
something is worth telling people, but not whom or how: that is the application's business. The
engine notes each call in the log of the action that is running, the way ``deadlines`` notes
provisional deadlines; the caller reads them off the workflow object (``Engine.notices``) and
stores them in the same transaction as the action's state, so a notice exists if and only if the
step that raised it committed.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Notice", "note", "recording"]

# What a diagram may ask for; anything else is refused when the script runs (an incident), so a
# typo in a designer's script is seen at once instead of silently telling nobody.
KINDS = ("task_due_soon", "task_overdue")


@dataclass(frozen=True)
class Notice:
    kind: str
    task: str | None  # the BPMN id of the user task the notice is about, if any


_log: contextvars.ContextVar[list[Notice] | None] = contextvars.ContextVar("bihuan_notices", default=None)


@contextmanager
def recording() -> Iterator[list[Notice]]:
    log: list[Notice] = []
    token = _log.set(log)
    try:
        yield log
    finally:
        _log.reset(token)


def note(kind, task=None) -> None:
    if kind not in KINDS:
        raise ValueError(f"notify: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if task is not None and not isinstance(task, str):
        raise ValueError(f"notify: task must be a BPMN id (text), got {task!r}")
    log = _log.get()
    if log is not None:
        log.append(Notice(kind, task))
