"""The one source of "now" for the engine and the application.

Everything that needs the current instant calls ``utcnow()`` (or ``now_iso()``), never
``datetime.now`` directly, so that there is one place to look when time matters.

Tests freeze time with time-machine, which this function follows. A test that runs the
``bihuan`` CLI as a subprocess cannot patch that process, so the CLI calls
``start_test_clock(os.environ)``: with ``BIHUAN_TESTING=1`` *and* ``BIHUAN_TEST_NOW=<ISO instant>``
the process's clock starts at that instant and ticks on from there. Without ``BIHUAN_TESTING=1``
the variable is ignored, so a stray setting can never move a production clock.
"""
from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator, Mapping

__all__ = ["utcnow", "now_iso", "start_test_clock", "shifted", "shifted_to", "TEST_MODE_VARIABLE",
           "TEST_NOW_VARIABLE"]

TEST_MODE_VARIABLE = "BIHUAN_TESTING"
TEST_NOW_VARIABLE = "BIHUAN_TEST_NOW"

# (instant the process clock was set to, monotonic reading at that moment), or None for real time
_test_origin: tuple[datetime, float] | None = None


# An instant the code inside ``shifted()`` runs at (this thread / context only).
_shifted: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("bihuan_shifted_now", default=None)


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    fixed = _shifted.get()
    if fixed is not None:
        return fixed
    if _test_origin is not None:
        start, at = _test_origin
        return start + timedelta(seconds=time.monotonic() - at)
    return datetime.now(timezone.utc)


def now_iso() -> str:
    """The current instant as the ISO string BPMN scripts see from ``now()`` (UTC, seconds)."""
    return utcnow().isoformat(timespec="seconds")


def start_test_clock(environ: Mapping[str, str]) -> datetime | None:
    """Honour ``BIHUAN_TEST_NOW`` in test mode only; returns the instant set, or None."""
    global _test_origin
    value = environ.get(TEST_NOW_VARIABLE)
    if not value or environ.get(TEST_MODE_VARIABLE) != "1":
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    start = datetime.fromisoformat(text)
    if start.tzinfo is None:
        raise ValueError(f"{TEST_NOW_VARIABLE} must carry a UTC offset: {value!r}")
    _test_origin = (start.astimezone(timezone.utc), time.monotonic())
    return _test_origin[0]


@contextmanager
def shifted(instant: datetime) -> Iterator[datetime]:
    """Run the block as if it were ``instant`` (aware), frozen: the demo drives past cases through
    the real engine this way (the seed's supervision cases, the history generator's open cases), and
    `bihuan timers fire --now` sweeps at a later instant. This thread / context only."""
    if instant.tzinfo is None:
        raise ValueError("shifted() needs an aware instant")
    token = _shifted.set(instant.astimezone(timezone.utc))
    try:
        yield instant
    finally:
        _shifted.reset(token)


shifted_to = shifted  # the history generator's name for it
