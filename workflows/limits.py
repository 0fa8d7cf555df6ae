"""Resource limits for diagram scripts: a CPU budget per evaluation and bounds on what one operation
may build, so that a designer's script cannot stall the scheduler or fill the machine's memory.

RestrictedPython stops escapes, not work. A script with no loop at all can still spend an hour in
one C-level operation — ``((1 << 1000000000) - 1) ** 2`` or ``'x' * 10000000000`` — and no signal
or thread can interrupt a single multiplication once it has started. So the sizes are checked
*before* the operation runs:

* every binary operator goes through ``binop`` (the compiler rewrites ``a * b`` into
  ``_binop_('Mult', a, b)``), which refuses integers past ``MAX_INT_BITS`` and sequences past
  ``MAX_ITEMS``; ``pow``, ``sum``, ``str.join``, ``ljust`` and friends are wrapped the same way;
* every loop step, function call and guarded operation calls ``tick``, which raises once the
  evaluation has used ``BUDGET_SECONDS`` of this thread's CPU time (CPU, not wall-clock time, so
  that a busy machine does not fail a healthy script), or ``WALL_SECONDS`` of real time;
* the task data a script leaves behind is capped at ``MAX_DATA_BYTES``.

Every refusal is a ``SandboxViolation``; the engine turns it into an incident on the case.
"""
from __future__ import annotations

import ast
import json
import operator
import threading
import time
from contextlib import contextmanager
from typing import Any

MAX_INT_BITS = 100_000            # about 30 000 decimal digits
MAX_ITEMS = 1_000_000             # characters of a string, items of a list
MAX_DATA_BYTES = 256 * 1024       # task data written by one script, as JSON
BUDGET_SECONDS = 0.1              # CPU per evaluation
WALL_SECONDS = 2.0                # real time per evaluation, against sleeping or starved threads
MAX_FORMAT_WIDTH = 1000           # f"{x:>99999999}" builds a string as wide as it says


class SandboxViolation(Exception):
    """A script or expression tried something the sandbox does not allow (``sandbox`` re-exports it)."""


class LimitExceeded(SandboxViolation):
    """It went past a resource limit."""


_state = threading.local()


@contextmanager
def budget(seconds: float | None = None):
    """One evaluation's budget; nested evaluations (a DMN cell inside a script) share the outer one."""
    if getattr(_state, "deadline", None) is not None:
        yield
        return
    limit = BUDGET_SECONDS if seconds is None else seconds
    _state.deadline = time.thread_time() + limit
    _state.wall_deadline = time.monotonic() + max(WALL_SECONDS, limit * 20)
    _state.limit = limit
    try:
        yield
    finally:
        _state.deadline = None


def tick() -> None:
    deadline = getattr(_state, "deadline", None)
    if deadline is None:
        return
    if time.thread_time() > deadline or time.monotonic() > _state.wall_deadline:
        _state.deadline = None  # the handler that reports this must be able to run code itself
        raise LimitExceeded(f"the script ran past its budget of {int(_state.limit * 1000)} ms of CPU time")


def _size(value: Any) -> int | None:
    if isinstance(value, (str, bytes, bytearray, list, tuple)):
        return len(value)
    return None


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise LimitExceeded(f"a number would exceed {MAX_INT_BITS} bits")


def _check_items(count: int) -> None:
    if count > MAX_ITEMS:
        raise LimitExceeded(f"a string or list would exceed {MAX_ITEMS} items")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_OPS = {"Add": operator.add, "Sub": operator.sub, "Mult": operator.mul, "Div": operator.truediv,
        "FloorDiv": operator.floordiv, "Mod": operator.mod, "LShift": operator.lshift,
        "RShift": operator.rshift, "BitAnd": operator.and_, "BitOr": operator.or_, "BitXor": operator.xor,
        "MatMult": operator.matmul}


def binop(op: str, a: Any, b: Any) -> Any:
    tick()
    if op == "Mult":
        if _is_int(a) and _is_int(b):
            _check_int_bits(a.bit_length() + b.bit_length())
        elif _size(a) is not None and _is_int(b):
            _check_items(_size(a) * max(b, 0))
        elif _size(b) is not None and _is_int(a):
            _check_items(_size(b) * max(a, 0))
    elif op == "LShift" and _is_int(a) and _is_int(b):
        _check_int_bits(a.bit_length() + max(b, 0))
    elif op == "Add" and _size(a) is not None and _size(b) is not None:
        _check_items(_size(a) + _size(b))
    elif op == "Mod" and isinstance(a, str):
        _check_format(a)
    elif op == "Pow":
        return safe_pow(a, b)
    try:
        function = _OPS[op]
    except KeyError:
        raise LimitExceeded(f"operator {op} is not allowed") from None
    return function(a, b)


def safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    tick()
    if mod is None and _is_int(base) and _is_int(exp) and exp > 0 and abs(base) > 1:
        _check_int_bits(base.bit_length() * exp)
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _check_format(template: str) -> None:
    # '%0999999999d' % 1 and '{:>999999999}'.format(1) build strings as wide as they say.
    digits = 0
    for char in template:
        digits = digits + 1 if char.isdigit() else 0
        if digits > len(str(MAX_FORMAT_WIDTH)):
            raise LimitExceeded(f"a format width above {MAX_FORMAT_WIDTH} is not allowed")


def safe_sum(values, start=0):
    if not isinstance(start, (int, float)) or isinstance(start, bool):
        raise LimitExceeded("sum() adds numbers only")
    total = start
    for count, value in enumerate(values):
        if count % 1000 == 0:
            tick()
        total = binop("Add", total, value)
    return total


# str methods whose result can be far larger than their inputs
def _guard_str_method(obj: Any, name: str, method):
    if name in ("ljust", "rjust", "center", "zfill"):
        def padded(width, *args):
            if _is_int(width):
                _check_items(width)
            return method(width, *args)
        return padded
    if name == "expandtabs":
        def expanded(tabsize=8):
            _check_items(len(obj) * max(tabsize, 1))
            return method(tabsize)
        return expanded
    if name == "replace":
        def replaced(old, new, *args):
            count = obj.count(old) if old else len(obj) + 1
            _check_items(len(obj) + count * len(new))
            return method(old, new, *args)
        return replaced
    if name == "join":
        def joined(items):
            items = list(items)
            _check_items(sum(len(x) for x in items if _size(x) is not None) + len(obj) * len(items))
            return method(items)
        return joined
    if name in ("format", "format_map"):
        def formatted(*args, **kwargs):
            _check_format(obj)
            return method(*args, **kwargs)
        return formatted
    return method


def guard_attribute(obj: Any, name: str, value: Any) -> Any:
    tick()
    if isinstance(obj, (str, bytes)) and callable(value):
        return _guard_str_method(obj, name, value)
    return value


def check_data_size(data: dict) -> None:
    try:
        size = len(json.dumps(data, default=str, ensure_ascii=False).encode())
    except (TypeError, ValueError, RecursionError):
        return  # not ours to judge here; serialising the state reports it
    if size > MAX_DATA_BYTES:
        raise LimitExceeded(f"the script left {size // 1024} KB of task data (at most {MAX_DATA_BYTES // 1024} KB)")


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def rewrite_binop(node: ast.BinOp) -> ast.Call:
    """``a * b`` → ``_binop_('Mult', a, b)``; the operands are already transformed."""
    return ast.copy_location(_call("_binop_", ast.Constant(type(node.op).__name__), node.left, node.right), node)


def tick_statement() -> ast.Expr:
    return ast.Expr(value=_call("_tick_"))


def check_format_spec(node: ast.FormattedValue) -> None:
    spec = node.format_spec
    if spec is None:
        return
    for part in spec.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            _check_format(part.value)
        else:
            raise LimitExceeded("a computed format specification is not allowed")
