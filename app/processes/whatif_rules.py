"""What the draft changes against the deployed version, and which of those changes a replay can evaluate.

The what-if replay (``whatif.py``) re-evaluates rules on each case's *recorded* timestamps. That is
honest only for changes whose effect is a function of those timestamps: a DMN table's outputs
(办理时限, 承办部门, 分值) and a timer's due instant when its expression is the shape the replay
knows (``working_days_after(<recorded timestamp>, N)``). Everything else — a new task, a new path,
a changed script or gateway condition — changes what people would have *done*, which history
cannot tell, so it is listed as **not replayed**, with the reason, and never guessed at.

``classify(old_files, new_files)`` sorts every entry of ``workflows.diff.diff_bundles`` into:

* ``replayed``      — the replay evaluates the draft's version of it;
* ``not_replayed``  — it may change outcomes, but history cannot say how (structural);
* ``no_effect``     — it cannot change the figures compared (layout, forms, labels, reminders).

``Params`` holds, per bundle, what the replay needs parsed once: the three tables and the day counts
of the timers and supervision tiers (``None`` when the expression is not the known shape — then
that part is not replayed, and ``classify`` says so).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from workflows.diff import diff_bundles
from workflows.reading import model_kind, safe_xml_parser
from workflows.rules import DecisionError, evaluate

from .problem_text import N_

# Decisions whose outputs the replay evaluates from the case's recorded fields.
REPLAYED_DECISIONS = {"deadlines": N_("办理时限"), "routing": N_("承办部门"), "scoring": N_("考核计分")}
# Timers and scripts whose day counts the replay reads (element id -> (process file, pattern)).
SIGN_TIMER = "sign_for_deadline"
HANDLE_TIMER = "handle_deadline"
TIER_SCRIPTS = ("open_tier1", "open_tier2", "open_tier3")
_SIGN = re.compile(r"^\s*working_days_after\(\s*dispatched_at\s*,\s*(\d+)\s*\)\s*$")
_TIER = re.compile(r"tier_due\s*=\s*working_days_after\(\s*tier_opened_at\s*,\s*(\d+)\s*\)")
# Timers that only remind people (到期预警, 超期提醒): they change no deadline, item or score.
REMINDER_IDS = re.compile(r"(_due_warning|_overdue_notice)$|^(warn_|notify_)")
NO_EFFECT_KINDS = ("form",)


@dataclass
class Params:
    """One bundle's rules as the replay uses them, with per-input caches (tables are evaluated once
    per distinct input, never per case)."""
    bundle: object
    script_engine: object
    sign_days: int | None = None
    tier_days: tuple[int, int, int] | None = None
    handle_timer_ok: bool = True
    problems: list[str] = field(default_factory=list)
    _days: dict = field(default_factory=dict)
    _route: dict = field(default_factory=dict)
    _points: dict = field(default_factory=dict)

    def handle_days(self, type_: str, difficulty: str | None, urgent: bool) -> int | None:
        """Working days from deadlines.dmn, fed exactly as ``workflows.rules.deadline_preview`` feeds
        it (difficulty defaults to normal); None when no rule gives a whole number."""
        key = (type_, difficulty or "normal", bool(urgent))
        if key not in self._days:
            try:
                out = evaluate(self.bundle, "deadlines", {"type": key[0], "difficulty": key[1], "urgent": key[2]},
                               self.script_engine)
                days = out.get("handle_days")
                self._days[key] = days if isinstance(days, int) and not isinstance(days, bool) else None
            except DecisionError:
                self._days[key] = None
        return self._days[key]

    def route(self, category: str | None) -> str | None:
        if category not in self._route:
            try:
                dept = evaluate(self.bundle, "routing", {"category": category}, self.script_engine) \
                    .get("routed_department")
                self._route[category] = dept if isinstance(dept, str) and dept else None
            except DecisionError:
                self._route[category] = None
        return self._route[category]

    def points(self, event: str) -> float:
        if event not in self._points:
            try:
                value = evaluate(self.bundle, "scoring", {"event": event, "satisfaction_rate": 0.0},
                                 self.script_engine).get("points") or 0
            except DecisionError:
                value = 0
            self._points[event] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
        return self._points[event]


def _find(bundle_files: dict, element_id: str):
    for name, content in sorted(bundle_files.items()):
        if model_kind(name) != "bpmn":
            continue
        try:
            root = etree.fromstring(content, safe_xml_parser())
        except etree.XMLSyntaxError:
            continue
        for el in root.iter():
            if isinstance(el.tag, str) and el.get("id") == element_id:
                return el
    return None


def _timer_text(el) -> str | None:
    if el is None:
        return None
    for child in el.iter():
        if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] in ("timeDate", "timeDuration", "timeCycle"):
            return (child.text or "").strip()
    return None


def _script_text(el) -> str | None:
    if el is None:
        return None
    for child in el.iter():
        if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
            return child.text or ""
    return None


def params(bundle, script_engine) -> Params:
    """Parse what the replay reads from one bundle; a part it cannot read is ``None`` with a problem."""
    p = Params(bundle=bundle, script_engine=script_engine)
    files = bundle.files
    sign = _timer_text(_find(files, SIGN_TIMER))
    match = _SIGN.match(sign or "")
    if match:
        p.sign_days = int(match.group(1))
    else:
        p.problems.append(f"{SIGN_TIMER}: {sign!r}")
    handle = _timer_text(_find(files, HANDLE_TIMER))
    p.handle_timer_ok = (handle or "").strip() == "deadline"
    tiers = []
    for element_id in TIER_SCRIPTS:
        found = _TIER.search(_script_text(_find(files, element_id)) or "")
        tiers.append(int(found.group(1)) if found else None)
    if None not in tiers:
        p.tier_days = tuple(tiers)
    else:
        p.problems.append("tier scripts")
    return p


def _decision_of(path: str, files: dict) -> str | None:
    content = files.get(path)
    if content is None:
        return None
    found = re.search(rb"<(?:\w+:)?decision\b[^>]*?\bid=\"([^\"]+)\"", content)
    return found.group(1).decode() if found else None


def classify(old: dict[str, bytes], new: dict[str, bytes], draft_params: Params | None = None) -> dict:
    """Sort the draft's changes into replayed / not_replayed / no_effect, each entry the diff's
    ``{file, element_id, element_type, name, change, details}`` plus ``why`` (a msgid key)."""
    out = {"replayed": [], "not_replayed": [], "no_effect": []}
    for entry in diff_bundles(old, new):
        bucket, why = _bucket(entry, old, new, draft_params)
        out[bucket].append(dict(entry, why=why))
    return out


def _bucket(entry: dict, old: dict, new: dict, draft_params: Params | None) -> tuple[str, str]:
    path, element, change = entry["file"], entry.get("element_id") or "", entry["change"]
    kind = model_kind(path) if path else None
    if change == "layout":
        return "no_effect", "layout"
    if kind in NO_EFFECT_KINDS or kind is None:
        return "no_effect", "form_or_labels"
    if kind == "dmn":
        decision = _decision_of(path, new) or _decision_of(path, old)
        if decision in REPLAYED_DECISIONS and change != "removed":
            if decision == "scoring" and "satisfaction" in " ".join(entry.get("details") or []):
                return "not_replayed", "monthly_satisfaction"
            return "replayed", f"decision:{decision}"
        return "not_replayed", f"decision_not_replayed:{decision or path}"
    # BPMN
    if change == "changed" and element == SIGN_TIMER:
        if draft_params is None or draft_params.sign_days is not None:
            return "replayed", "sign_timer"
        return "not_replayed", "timer_unknown_shape"
    if change == "changed" and element in TIER_SCRIPTS:
        if draft_params is None or draft_params.tier_days is not None:
            return "replayed", "tier_script"
        return "not_replayed", "tier_unknown_shape"
    if change == "changed" and element == HANDLE_TIMER:
        if draft_params is None or draft_params.handle_timer_ok:
            return "no_effect", "same_expression"
        return "not_replayed", "timer_unknown_shape"
    if change == "changed" and REMINDER_IDS.search(element) and entry["element_type"] in (
            "boundaryEvent", "scriptTask", "endEvent"):
        return "no_effect", "reminder"
    if change == "changed" and entry["element_type"] in ("process", "lane", "laneSet", "participant",
                                                         "collaboration", "definitions") \
            and all(d.startswith(("name", "名称")) for d in entry.get("details") or ["name"]):
        return "no_effect", "renamed"
    if change in ("added", "removed"):
        return "not_replayed", "structural"
    return "not_replayed", "behaviour"
