"""Supply-chain gate: fail when a pinned dependency has a known vulnerability that nobody accepted.

Runs ``pip-audit`` over constraints.txt (the exact Python versions CI installs) and
``npm audit --omit=dev`` over package-lock.json, then judges their JSON reports:

- Python: any advisory fails, because the PyPI advisory service gives no severity to rank by;
- npm: an advisory of high or critical severity fails;
- except advisories listed in ``deploy/audit-allowlist.toml``, each with a reason and a review date.

A report that audited nothing is not a pass. pip-audit marks every package it could not look up
("skip_reason") and still says "No known vulnerabilities found"; npm prints an error object when its
advisory endpoint refuses. Both are reported as UNAUDITED, and UNAUDITED fails unless
``BIHUAN_AUDIT_UNREACHABLE=warn`` says that this machine cannot reach the advisory services (the CI
machine reaches only the package indexes). Usage:

    python deploy/dependency_audit.py [--pip-audit PATH] [--allowlist FILE]

Exit codes: 0 clean (or unaudited with the warn setting), 1 a vulnerability, 2 unaudited.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAILING_NPM = ("high", "critical")


@dataclass
class Verdict:
    ecosystem: str
    failures: list[str] = field(default_factory=list)   # advisories that fail the run
    allowed: list[str] = field(default_factory=list)    # advisories accepted by the allow-list
    unaudited: list[str] = field(default_factory=list)  # what could not be looked up, and why

    @property
    def audited_nothing(self) -> bool:
        return bool(self.unaudited) and not self.failures and not self.allowed


def load_allowlist(path: Path, today: date) -> dict[str, str]:
    """{advisory id: reason}. An entry needs a reason; one past its ``until`` date no longer counts."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("allow", [])
    allowed = {}
    for entry in entries:
        ident, reason = str(entry.get("id", "")).strip(), str(entry.get("reason", "")).strip()
        if not ident or not reason:
            raise ValueError(f"{path}: every [[allow]] entry needs an id and a reason: {entry}")
        until = entry.get("until")
        if until is not None and date.fromisoformat(str(until)) < today:
            continue  # expired: the acceptance has to be reviewed again
        allowed[ident] = reason
    return allowed


def judge_pip_audit(report: dict, allow: dict[str, str]) -> Verdict:
    verdict = Verdict("python")
    dependencies = report.get("dependencies")
    if not isinstance(dependencies, list):
        verdict.unaudited.append(f"pip-audit wrote no dependency list: {str(report)[:200]}")
        return verdict
    for dep in dependencies:
        name, version = dep.get("name", "?"), dep.get("version", "?")
        if dep.get("skip_reason"):
            verdict.unaudited.append(f"{name}: {dep['skip_reason']}")
            continue
        for vuln in dep.get("vulns", []):
            ids = [vuln.get("id", "?"), *vuln.get("aliases", [])]
            line = f"{name} {version}: {', '.join(ids)} (fixed in {', '.join(vuln.get('fix_versions', [])) or '—'})"
            accepted = next((i for i in ids if i in allow), None)
            (verdict.allowed if accepted else verdict.failures).append(
                f"{line} — allowed: {allow[accepted]}" if accepted else line)
    return verdict


def judge_npm_audit(report: dict, allow: dict[str, str]) -> Verdict:
    verdict = Verdict("npm")
    if "vulnerabilities" not in report:  # npm's error object: the advisory endpoint refused or was unreachable
        verdict.unaudited.append(f"npm audit: {report.get('message') or report.get('error') or 'no report'}")
        return verdict
    for name, vuln in report["vulnerabilities"].items():
        advisories = [via for via in vuln.get("via", []) if isinstance(via, dict)]
        if not advisories:
            continue  # vulnerable only through another package, which is listed itself
        for via in advisories:
            severity = via.get("severity", vuln.get("severity", "unknown"))
            if severity not in FAILING_NPM:
                continue
            ident = str(via.get("url", "")).rsplit("/", 1)[-1] or str(via.get("source", "?"))
            line = f"{name} ({via.get('range', '?')}): {ident} [{severity}] {via.get('title', '')}".rstrip()
            accepted = ident if ident in allow else (str(via.get("source")) if str(via.get("source")) in allow else None)
            (verdict.allowed if accepted else verdict.failures).append(
                f"{line} — allowed: {allow[accepted]}" if accepted else line)
    return verdict


def exit_code(verdicts: list[Verdict], unreachable_ok: bool) -> int:
    if any(v.failures for v in verdicts):
        return 1
    if any(v.audited_nothing or v.unaudited for v in verdicts) and not unreachable_ok:
        return 2
    return 0


def _run_json(command: list[str], cwd: Path) -> dict:
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    try:
        return json.loads(out.stdout or "{}")
    except json.JSONDecodeError:
        return {"message": (out.stderr or out.stdout).strip()[-300:] or f"exit {out.returncode}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pip-audit", default="pip-audit", help="the pip-audit executable")
    parser.add_argument("--allowlist", type=Path, default=ROOT / "deploy" / "audit-allowlist.toml")
    args = parser.parse_args(argv)
    allow = load_allowlist(args.allowlist, date.today())
    python = judge_pip_audit(_run_json([args.pip_audit, "-r", "constraints.txt", "--no-deps", "--disable-pip",
                                        "--progress-spinner", "off", "-f", "json"], ROOT), allow)
    npm = judge_npm_audit(_run_json(["npm", "audit", "--omit=dev", "--json"], ROOT), allow)
    unreachable_ok = os.environ.get("BIHUAN_AUDIT_UNREACHABLE", "") == "warn"
    for verdict in (python, npm):
        for line in verdict.failures:
            print(f"VULNERABLE {verdict.ecosystem}: {line}")
        for line in verdict.allowed:
            print(f"accepted   {verdict.ecosystem}: {line}")
        if verdict.unaudited:
            print(f"UNAUDITED  {verdict.ecosystem}: {len(verdict.unaudited)} item(s), e.g. {verdict.unaudited[0]}")
    code = exit_code([python, npm], unreachable_ok)
    if code == 0 and (python.unaudited or npm.unaudited):
        print("dependency audit: the advisory services could not be reached; NOT audited "
              "(BIHUAN_AUDIT_UNREACHABLE=warn)")
    else:
        print({0: "dependency audit: clean", 1: "dependency audit: FAILED (known vulnerabilities)",
               2: "dependency audit: FAILED (nothing could be audited)"}[code])
    return code


if __name__ == "__main__":
    sys.exit(main())
