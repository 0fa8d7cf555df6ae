"""Restricted evaluation of every script and expression in a diagram.

Scripts, gateway conditions, timer expressions and DMN cells are authored in the
browser by process designers, so they are treated as untrusted input. They are
compiled with RestrictedPython, which rejects dunder names and attributes at
compile time, and run with RestrictedPython's guards and a small whitelist of
builtins: no ``__import__``, ``open``, ``getattr``, ``type`` or ``eval``.
"""
from __future__ import annotations

import ast
import functools
from typing import Any, Callable, Mapping

from RestrictedPython import RestrictingNodeTransformer, compile_restricted, safe_builtins, limited_builtins, \
    utility_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import astguard, limits
from .limits import LimitExceeded, SandboxViolation  # noqa: F401 - the sandbox's errors, imported from here


_ALLOWED_BUILTINS = {**safe_builtins, **limited_builtins,
                     "set": utility_builtins["set"], "frozenset": utility_builtins["frozenset"],
                     "dict": dict, "list": list, "enumerate": enumerate, "min": min, "max": max,
                     "sum": limits.safe_sum, "any": any, "all": all, "sorted": sorted, "reversed": reversed,
                     "pow": limits.safe_pow}
# Make sure the classic escape hatches are absent even if a future RestrictedPython adds them.
for _name in ("__import__", "open", "getattr", "setattr", "delattr", "type", "eval", "exec",
              "compile", "globals", "locals", "vars", "dir", "input", "breakpoint", "memoryview"):
    _ALLOWED_BUILTINS.pop(_name, None)


_INPLACE = {"+=": "Add", "-=": "Sub", "*=": "Mult", "/=": "Div", "//=": "FloorDiv", "%=": "Mod"}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE:
        raise SandboxViolation(f"operator {op} is not allowed")
    return limits.binop(_INPLACE[op], x, y)


MAX_ITERATIONS = 100_000


def _bounded_iter(obj):
    """Every for-loop and comprehension goes through here: cap the work a script can do."""
    for count, item in enumerate(default_guarded_getiter(obj)):
        if count >= MAX_ITERATIONS:
            raise SandboxViolation(f"a loop ran past {MAX_ITERATIONS} iterations")
        limits.tick()
        yield item


def _getattr(obj, name, default=None):
    return limits.guard_attribute(obj, name, safer_getattr(obj, name, default))


def _getitem(obj, key):
    limits.tick()
    return default_guarded_getitem(obj, key)


def _base_globals() -> dict[str, Any]:
    return {
        "__builtins__": _ALLOWED_BUILTINS,
        "__name__": "bpmn_script",
        "_getattr_": _getattr,
        "_getitem_": _getitem,
        "_getiter_": _bounded_iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_binop_": limits.binop,
        "_tick_": limits.tick,
    }


class _BoundedPolicy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus the hooks of workflows/limits.py: operators go through a size
    check, and every function call ticks the budget (recursion has no loop to count)."""

    def visit_Module(self, node):
        return ast.fix_missing_locations(super().visit_Module(node))  # our inserted nodes have none

    def visit_Expression(self, node):
        return ast.fix_missing_locations(super().visit_Expression(node))

    def visit_BinOp(self, node):
        return limits.rewrite_binop(self.node_contents_visit(node))

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, ast.copy_location(limits.tick_statement(), node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        node.body = ast.BoolOp(op=ast.Or(), values=[limits.tick_statement().value, node.body])
        return node

    def visit_FormattedValue(self, node):
        limits.check_format_spec(node)
        return super().visit_FormattedValue(node)


_FORBIDDEN_NAMES = frozenset({"open", "getattr", "setattr", "delattr", "eval", "exec", "compile", "globals",
                               "locals", "vars", "breakpoint", "memoryview"})


def _precheck(source: str, mode: str) -> None:
    """Refuse at compile time what would otherwise only fail at run time, so validation catches it."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error: {exc.msg} (line {exc.lineno})") from exc
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise SandboxViolation(f"Line {node.lineno}: imports are not allowed")
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise SandboxViolation(f"Line {node.lineno}: '{node.id}' is not allowed")
        if isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef, ast.Global, ast.Nonlocal, ast.While)):
            # while-loops cannot be bounded the way for-loops are (see _bounded_iter)
            raise SandboxViolation(f"Line {node.lineno}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            raise SandboxViolation(f"Line {node.lineno}: '**' is not allowed (use multiplication)")


# One AST construction at a time on CPython 3.11 (workflows/astguard.py): compile_restricted parses
# (ast.parse, guarded there) and compiles its transformed tree back, which this lock covers.
# Compiles are cached, so it is rarely waited on.
_COMPILE_LOCK = astguard.LOCK


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str):
    _precheck(source, mode)
    try:
        with _COMPILE_LOCK:
            result = compile_restricted(source, filename="<bpmn>", mode=mode, policy=_BoundedPolicy)
    except LimitExceeded:
        raise
    except SyntaxError as exc:
        # RestrictedPython reports all its refusals at once as a tuple of lines.
        detail = exc.msg if isinstance(exc.msg, str) else "; ".join(map(str, exc.args[0]))
        raise SandboxViolation(detail) from exc
    return result


def check(source: str, mode: str = "exec") -> None:
    """Compile ``source`` in the sandbox; raise SandboxViolation if it is refused."""
    _compile(source, mode)



class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs everything through RestrictedPython.

    ``functions`` are the helpers a designer may call (``working_days_after``,
    ``now`` ...). They are injected per call and never written back to task data.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__({})
        self.functions = dict(functions or {})

    def _globals(self, external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        g = _base_globals()
        g.update(self.functions)
        if external_context:
            g.update(external_context)
        return g

    def evaluate(self, expression, context, external_context=None):
        code = _compile(expression.strip(), "eval")
        g = self._globals(external_context)
        with limits.budget():
            return eval(code, g, dict(context))  # noqa: S307 - compiled by RestrictedPython above

    def execute(self, script, context, external_context=None):
        code = _compile(script, "exec")
        clash = set(self.functions).intersection(context)
        if clash:
            raise SandboxViolation(f"task data overwrites engine functions: {sorted(clash)}")
        g = self._globals(external_context)
        local_vars = dict(context)
        with limits.budget():
            exec(code, g, local_vars)  # noqa: S102 - compiled by RestrictedPython above
        limits.check_data_size({k: v for k, v in local_vars.items()
                                if not k.startswith("_") and not callable(v) and context.get(k) is not v})
        for key in list(context):
            if key not in local_vars:
                del context[key]
        for key, value in local_vars.items():
            if key.startswith("_") or callable(value):
                continue
            context[key] = value
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not available")


class SandboxScriptEngine(PythonScriptEngine):
    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__(environment=SandboxEnvironment(functions))

    def validate(self, expression):
        # Spiff's DMN engine calls validate() to decide if a cell needs "== ?"; plain ast
        # parsing is enough there, and the real check happens at evaluation time.
        ast.parse(expression)
