"""Deadlines computed on a provisional calendar: noticing them, and recomputing them later.

Every ``working_days_after(start, n)`` a diagram evaluates goes through the engine. When counting
reached a provisional year (``WorkingCalendar.provisional_years_between``), the engine notes the
call — its start, its n and the instant it gave — in the log of the action that is running, so
the caller can store it with the action's transaction and show the deadline as 暂定.

When the official schedule is imported, the same calls are made again on the official calendar
(``recomputed``) and every place in the workflow that holds an old instant — variables such as
``deadline`` or ``tier_due``, entries inside lists such as ``extensions``, and the due time of
waiting timers — is given the new one (``replace_instants``). A deadline computed from another
(``working_days_after(deadline, days)`` after an extension) is recomputed from the new start.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .workdays import WorkingCalendar, parse_instant

__all__ = ["ProvisionalDeadline", "note", "recording", "recomputed", "replace_instants"]


@dataclass(frozen=True)
class ProvisionalDeadline:
    start: str          # the start the diagram passed, as an ISO instant
    days: int
    value: str          # the instant it got back (ISO, UTC, seconds)
    years: tuple[int, ...]  # the provisional years counting went through


_log: contextvars.ContextVar[list[ProvisionalDeadline] | None] = contextvars.ContextVar(
    "bihuan_provisional_deadlines", default=None)


@contextmanager
def recording() -> Iterator[list[ProvisionalDeadline]]:
    """Collect the provisional deadlines computed inside the block (per thread / context)."""
    log: list[ProvisionalDeadline] = []
    token = _log.set(log)
    try:
        yield log
    finally:
        _log.reset(token)


def note(entry: ProvisionalDeadline) -> None:
    log = _log.get()
    if log is not None and entry not in log:
        log.append(entry)


def _iso(value) -> str:
    return parse_instant(value).isoformat(timespec="seconds")


def recomputed(calendar: WorkingCalendar, entries: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """{old instant: new instant} for ``(start, days, old value)`` computations, redone on ``calendar``.

    Entries are redone oldest start first, so a deadline counted from an earlier provisional one
    starts from that one's new value. Raises CalendarGap if ``calendar`` still lacks a year."""
    mapping: dict[str, str] = {}
    for start, days, old in sorted(entries, key=lambda e: (parse_instant(e[0]), e[1])):
        start = mapping.get(_iso(start), start)
        new = _iso(calendar.working_days_after(start, int(days)))
        if new != _iso(old):
            mapping[_iso(old)] = new
    return mapping


def replace_instants(wf, mapping: dict[str, str]) -> int:
    """Give every value equal to an old instant in ``mapping`` the new one, across the workflow, its
    subprocesses, their task data and their waiting timers; returns how many values changed."""
    if not mapping:
        return 0
    old = {parse_instant(k): v for k, v in mapping.items()}
    changed = 0

    def swap(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-":
            try:
                new = old.get(parse_instant(value))
            except (ValueError, TypeError):
                new = None
            if new is not None:
                changed += 1
                return new
        elif isinstance(value, list):
            return [swap(item) for item in value]
        elif isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        return value

    for workflow in [wf, *wf.subprocesses.values()]:
        workflow.data = swap(workflow.data)
        for task in workflow.tasks.values():
            task.data = swap(task.data)
            # A waiting timer keeps the instant it was set for in its internal data.
            if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
                value = task._get_internal_data("event_value")
                new = swap(value)
                if new is not value:
                    task._set_internal_data(event_value=new)
    return changed
