"""The supply-chain gate (deploy/dependency_audit.py) judging pip-audit's and npm audit's own JSON.

The CI machine cannot reach the advisory services, so these tests feed recorded reports in the
tools' formats: one with known advisories, and the two shapes an unreachable service produces.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "audit"
_spec = importlib.util.spec_from_file_location("dependency_audit", ROOT / "deploy" / "dependency_audit.py")
audit = importlib.util.module_from_spec(_spec)
sys.modules["dependency_audit"] = audit
_spec.loader.exec_module(audit)


def report(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_every_python_advisory_fails_unless_allowed():
    verdict = audit.judge_pip_audit(report("pip_audit_vulnerable.json"), {})
    assert [line.split(":")[0] for line in verdict.failures] == ["jinja2 2.10", "urllib3 1.26.4"]
    assert "fixed in 2.10.1" in verdict.failures[0]
    assert audit.exit_code([verdict], unreachable_ok=True) == 1  # the warn setting never hides a finding

    allowed = audit.judge_pip_audit(report("pip_audit_vulnerable.json"),
                                    {"CVE-2019-10906": "sandbox not used", "PYSEC-2021-108": "no URLs parsed"})
    assert allowed.failures == [] and len(allowed.allowed) == 2  # an alias matches as well as the id
    assert audit.exit_code([allowed], unreachable_ok=False) == 0


def test_npm_high_and_critical_fail_moderate_does_not():
    verdict = audit.judge_npm_audit(report("npm_audit_vulnerable.json"), {})
    # mkdirp is vulnerable only through minimist, which is counted once, under its own name
    assert verdict.failures == ["minimist (<0.2.4): GHSA-xvch-5gv4-984h [critical] Prototype Pollution in minimist"]
    assert audit.exit_code([verdict], unreachable_ok=False) == 1
    allowed = audit.judge_npm_audit(report("npm_audit_vulnerable.json"), {"GHSA-xvch-5gv4-984h": "build-time only"})
    assert allowed.failures == [] and allowed.allowed


@pytest.mark.parametrize("judge, name", [(audit.judge_pip_audit, "pip_audit_unreachable.json"),
                                         (audit.judge_npm_audit, "npm_audit_unreachable.json")])
def test_a_report_that_audited_nothing_is_not_a_pass(judge, name):
    """pip-audit says "No known vulnerabilities found" when every lookup failed: that is UNAUDITED."""
    verdict = judge(report(name), {})
    assert verdict.failures == [] and verdict.unaudited and verdict.audited_nothing
    assert audit.exit_code([verdict], unreachable_ok=False) == 2
    assert audit.exit_code([verdict], unreachable_ok=True) == 0  # only where the services are known unreachable


def test_allowlist_entries_need_a_reason_and_expire(tmp_path):
    path = tmp_path / "allow.toml"
    path.write_text('[[allow]]\nid = "GHSA-a"\nreason = "not reachable"\nuntil = 2027-01-31\n'
                    '[[allow]]\nid = "GHSA-b"\nreason = "no fix yet"\n', encoding="utf-8")
    assert audit.load_allowlist(path, date(2027, 1, 31)) == {"GHSA-a": "not reachable", "GHSA-b": "no fix yet"}
    assert audit.load_allowlist(path, date(2027, 2, 1)) == {"GHSA-b": "no fix yet"}  # GHSA-a must be reviewed
    path.write_text('[[allow]]\nid = "GHSA-c"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="needs an id and a reason"):
        audit.load_allowlist(path, date(2027, 1, 1))


def test_the_shipped_allowlist_reads():
    assert isinstance(audit.load_allowlist(ROOT / "deploy" / "audit-allowlist.toml", date(2026, 12, 1)), dict)
