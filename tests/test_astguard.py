"""CPython 3.11 corrupts its AST recursion counter when two threads build ASTs at once
(workflows/astguard.py): seen in CI as two deploys validating DMN tables, and sweep threads
compiling scripts. Every ast.parse in the process, SpiffWorkflow's included, takes one lock."""
from __future__ import annotations

import ast
import sys
import threading

import pytest
from SpiffWorkflow.dmn.parser import DMNParser

import workflows  # noqa: F401 - installs the guard
from workflows import astguard, sandbox


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the bug and the guard are 3.11's")
def test_every_ast_parse_waits_for_the_one_in_progress():
    assert ast.parse is astguard._parse and DMNParser.ast.parse is astguard._parse  # SpiffWorkflow's too
    assert sandbox._COMPILE_LOCK is astguard.LOCK  # RestrictedPython compiling its tree back

    done = threading.Event()
    with astguard.LOCK:  # as if another thread were building an AST
        worker = threading.Thread(target=lambda: (ast.parse("1 + 1"), done.set()))
        worker.start()
        assert not done.wait(0.3), "ast.parse ran while another AST was being built"
    worker.join(5)
    assert done.is_set()


def test_parsing_from_several_threads_gives_the_same_trees():
    source = "x = [i * 2 for i in range(3) if i]\n" * 50
    expected = ast.dump(ast.parse(source))
    results, errors = [], []

    def parse_many():
        try:
            for _ in range(30):
                results.append(ast.dump(ast.parse(source)))
        except Exception as exc:  # noqa: BLE001 - the SystemError this guards against
            errors.append(exc)

    threads = [threading.Thread(target=parse_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and results == [expected] * 120
