"""What imports what: SpiffWorkflow stays inside workflows/, workflows/ has no import cycle (not even
one hidden in a function body), each of its modules imports on its own in a fresh interpreter,
and the package docstring lists every module."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import workflows

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workflows"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Every module an imports statement anywhere in the file names (function bodies included),
    relative imports resolved against ``package``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package or ""
                target = f"{base}.{node.module}" if node.module else base
                found.add(target)
                if not node.module:  # from . import x, y
                    found.update(f"{base}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_under_app_imports_spiffworkflow():
    offenders = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "app").rglob("*.py")
                       if any(name.split(".")[0] == "SpiffWorkflow" for name in _imported_modules(path, "app")))
    assert not offenders, f"only workflows/ may use SpiffWorkflow: {offenders}"


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        imported = _imported_modules(PACKAGE / f"{name}.py", "workflows")
        graph[name] = {m.split(".")[1] for m in imported
                       if m.startswith("workflows.") and m.split(".")[1] in MODULES and m.split(".")[1] != name}
    return graph


def test_the_workflows_package_has_no_import_cycle():
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, path + [node])
        done.add(node)

    for module in MODULES:
        visit(module, [])


def test_the_bundle_model_is_a_leaf():
    assert _graph()["model"] == set()


@pytest.mark.parametrize("order", [[f"workflows.{m}"] for m in MODULES] + [
    ["workflows.bundle", "workflows.validation"], ["workflows.validation", "workflows.bundle"],
    ["workflows.engine", "workflows.model"], ["workflows.model", "workflows.engine"],
], ids=lambda order: "+".join(m.split(".")[1] for m in order))
def test_each_module_imports_in_a_fresh_interpreter(order):
    code = "; ".join(f"import {m}" for m in order)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_package_docstring_lists_every_module():
    missing = [m for m in MODULES if f"``{m}``" not in workflows.__doc__]
    assert not missing, f"describe these modules in workflows/__init__.py: {missing}"
