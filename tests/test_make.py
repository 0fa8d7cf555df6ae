"""`make run` and `make test` as the README describes them, checked cheaply: `make -n` prints the
commands without running them, and the Chromium check runs against paths that do not exist."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import browser_decision

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tests" / "browser" / "require_chromium.sh"


def dry_run(*args: str) -> str:
    # STAMP/VENDOR_STAMP targets may be out of date in a checkout; -n only prints them. When the
    # suite itself runs under `make test BROWSER=0 ARGS=...`, make hands those variables down to any
    # make started below it (MAKEFLAGS): this one must see only its own arguments.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "BROWSER", "ARGS")}
    result = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_serves_on_the_port_and_host_asked_for():
    assert "bihuan serve --host 127.0.0.1 --port 5000" in dry_run("run")
    assert "bihuan serve --host 0.0.0.0 --port 8123" in dry_run("run", "PORT=8123", "HOST=0.0.0.0")


def test_make_test_checks_for_chromium_unless_browser_tests_are_switched_off():
    default = dry_run("test")
    assert "sh tests/browser/require_chromium.sh /usr/bin/chromium" in default
    assert "BIHUAN_CHROMIUM=/usr/bin/chromium .venv/bin/python -m pytest" in default
    off = dry_run("test", "BROWSER=0", "ARGS=tests/test_schema.py")
    assert "require_chromium" not in off
    assert "BIHUAN_BROWSER_TESTS=0 .venv/bin/python -m pytest tests/test_schema.py" in off


def test_the_chromium_check_fails_with_the_exact_command_when_it_is_missing(tmp_path):
    missing = tmp_path / "no-chromium"  # never /usr/bin/chromium, so nothing is installed
    result = subprocess.run(["sh", str(CHECK), str(missing)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Chromium not found at {missing}: run 'sudo apt-get install -y chromium', "
                                     "or 'make test BROWSER=0' to skip the browser tests")


def test_the_chromium_check_passes_when_it_is_there(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = subprocess.run(["sh", str(CHECK), str(fake)], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("env, exists, expected", [
    ({}, True, "run"),
    ({}, False, "fail"),  # never a silent skip
    ({"BIHUAN_BROWSER_TESTS": "1"}, False, "fail"),
    ({"BIHUAN_BROWSER_TESTS": "0"}, False, "skip"),  # make test BROWSER=0
    ({"BIHUAN_BROWSER_TESTS": "0"}, True, "skip"),
])
def test_browser_tests_skip_only_when_asked(tmp_path, env, exists, expected):
    path = tmp_path / "chromium"
    if exists:
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    decision, why = browser_decision(str(path), env)
    assert decision == expected
    if decision == "fail":
        assert "sudo apt-get install -y chromium" in why and "BROWSER=0" in why


def test_a_change_to_the_designers_sources_rebuilds_the_modeler_bundle():
    """assets/designer/ is bundled by `npm run build` (esbuild) into app/static/vendor at setup:
    an edited provider module makes the vendor step run again, bundle included."""
    for source in ("assets/designer/index.js", "assets/designer/groups/form.js"):
        commands = dry_run("-W", source, "app/static/vendor/.installed")
        assert "npm run --silent build" in commands and "cp -r node_modules/bpmn-js/dist" in commands
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["scripts"]["build"] == "node assets/designer/build.mjs"
    assert {"bpmn-js-properties-panel", "@bpmn-io/properties-panel"} <= set(package["dependencies"])
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/esbuild"]["version"] == package["devDependencies"]["esbuild"]
