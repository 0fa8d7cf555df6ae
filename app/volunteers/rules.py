"""The office's points rules: the ``volunteer_points`` DMN table of the deployed process bundle.

Like the scoring table (app/reports/scoring.py), the rules come from the latest deployed version
that has the table, else from the shipped ``bpmn/rules/volunteer_points.dmn`` (rule version None).
Every ledger entry records the version its points came from.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflows.bundle import read_directory
from workflows.model import Bundle, hash_files
from workflows.rules import DecisionError, evaluate

from ..errors import Invalid
from ..processes.problem_text import tr as _
from ..processes.services import SHIPPED_BUNDLE, latest_version

DECISION = "volunteer_points"
# Points are kept in quarters of a point: every amount is then exact in binary floating point, so a
# balance (a SUM of entries) never drifts, and hand-computed tests compare exactly.
QUANTUM = 0.25


@dataclass
class Rules:
    bundle: Bundle
    version: int | None


def current_rules(core, session: Session) -> Rules:
    row = latest_version(session)
    if row is not None:
        bundle = core.bundles.get(session, row.id)
        if any(name.endswith(".dmn") and f'id="{DECISION}"' in content.decode("utf-8", "replace")
               for name, content in bundle.files.items()):
            return Rules(bundle, row.version)
    files = {n: c for n, c in read_directory(SHIPPED_BUNDLE).items() if n.endswith(".dmn")}
    return Rules(Bundle(files=files, content_hash=hash_files(files)), None)


def decide(core, rules: Rules, event: str, activity_type: str | None = None) -> dict:
    try:
        result = evaluate(rules.bundle, DECISION, {"event": event, "activity_type": activity_type or ""},
                          core.engine.script_engine)
    except DecisionError as exc:
        raise Invalid(_("积分规则表出错：%(error)s", error=exc)) from None
    if not result:
        raise Invalid(_("积分规则表没有适用于“%(event)s/%(type)s”的规则", event=event, type=activity_type or "-"))
    return result


def quantize(points: float) -> float:
    """Down to a whole quarter point (a volunteer is never credited more than the rule gives)."""
    return int(points / QUANTUM + 1e-9) * QUANTUM


def service_points(core, rules: Rules, activity_type: str, hours: float) -> tuple[float, float]:
    """(hours counted, points) for ``hours`` of confirmed, overlap-free service at one activity."""
    rule = decide(core, rules, "service", activity_type)
    counted = max(0.0, min(float(hours), float(rule.get("max_hours") or 0)))
    return counted, quantize(counted * float(rule.get("rate") or 0)) + quantize(float(rule.get("points") or 0))


def recruit_points(core, rules: Rules) -> float:
    return quantize(float(decide(core, rules, "recruit").get("points") or 0))


def expire_after_years(core, rules: Rules) -> int:
    """Points earned in year Y expire at the end of year Y + this (0: never)."""
    return int(decide(core, rules, "expiry").get("expire_after_years") or 0)
