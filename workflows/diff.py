"""Element-level differences between two bundles (BPMN, DMN and JSON Schema forms). No database.

Elements are matched by id across the two versions of a file. One entry per element:

    {file, element_id, element_type, name, change, details}

``element_type`` is the XML local name (``userTask``, ``sequenceFlow``, ``rule`` ...) or
``property`` / ``schema`` for forms, or ``file`` for a whole file added or removed. ``change`` is
'added', 'removed' or 'changed'; ``details`` says what changed in words (attributes, name, the
text of scripts, conditions and timers, lane membership, extension properties such as the form,
flow source/target).

Pieces without a meaning of their own are folded into their owner: an event definition into its
event (a timer change shows on the timer event), an input expression into its DMN input, and
the cells of a DMN rule into the rule (``details`` name the column). Diagram layout (BPMN DI) is
not compared element by element: if only positions changed there is one entry per file with
``change`` 'layout', so moving shapes around never hides among real changes.
"""
from __future__ import annotations

import json
from typing import Mapping

from lxml import etree

from .reading import LABELS_FILE, Unreadable, model_kind, parse_form, parse_labels, parse_xml

DI_NAMESPACES = frozenset({
    "http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI", "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/", "https://www.omg.org/spec/DMN/20211108/DMNDI/",
    "https://www.omg.org/spec/DMN/20230324/DMNDI/", "http://www.omg.org/spec/DMN/20180521/DI/",
    "http://www.omg.org/spec/DMN/20180521/DC/",
})
# Children that only repeat what flows and lanes already say.
_SKIP = frozenset({"incoming", "outgoing", "flowNodeRef"})
# Elements that carry an id but belong to their parent for a reader.
_FOLDED = ("EventDefinition",)
_FOLDED_NAMES = frozenset({"inputExpression", "inputEntry", "outputEntry", "documentation", "text"})
MAX_SHOWN = 120


def _entry(file, element_id, element_type, name, change, details=None) -> dict:
    return {"file": file, "element_id": element_id, "element_type": element_type, "name": name or "",
            "change": change, "details": list(details or [])}


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def diff_bundles(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[dict]:
    """Every change from ``old`` to ``new`` (path -> bytes), files in path order."""
    out: list[dict] = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        try:
            if path == LABELS_FILE:  # no file is no translation: say which labels gained or lost one
                out.extend(diff_labels(path, parse_labels(a or b"{}"), parse_labels(b or b"{}")))
                continue
        except Unreadable as exc:
            out.append(_entry(path, "", "file", path, "changed", [f"cannot compare: {exc}"]))
            continue
        if a is None or b is None:
            out.append(_entry(path, "", "file", path, "added" if a is None else "removed"))
            continue
        try:
            if model_kind(path) == "form":
                out.extend(diff_forms(path, parse_form(a), parse_form(b)))
            else:
                out.extend(diff_xml(path, parse_xml(a), parse_xml(b)))
        except Unreadable as exc:
            out.append(_entry(path, "", "file", path, "changed", [f"cannot compare: {exc}"]))
    return out


# -- XML (BPMN and DMN) ---------------------------------------------------------------------------------
def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_di(el) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace in DI_NAMESPACES


def _label(el, qualified: str) -> str:
    """``prefix:local`` for an attribute or tag name, using the document's own prefixes."""
    q = etree.QName(qualified)
    if not q.namespace:
        return q.localname
    prefix = next((p for p, uri in (el.nsmap or {}).items() if uri == q.namespace and p), None)
    return f"{prefix}:{q.localname}" if prefix else q.localname


def _folded(el) -> bool:
    local = _local(el)
    return local in _FOLDED_NAMES or local.endswith(_FOLDED)


def _elements(root) -> dict[str, object]:
    """id -> element for everything a reader thinks of as an element (not DI, not folded parts)."""
    found = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or _is_di(el) or el is root:
            continue
        if any(_is_di(anc) for anc in el.iterancestors()):
            continue
        if el.get("id") and not _folded(el):
            found.setdefault(el.get("id"), el)
    return found


def _lanes(root) -> dict[str, str]:
    lanes = {}
    for lane in root.iter():
        if _local(lane) == "lane":
            for ref in lane:
                if _local(ref) == "flowNodeRef" and ref.text:
                    lanes[ref.text.strip()] = lane.get("id") or ""
    return lanes


def _content(el, table_columns=None) -> dict[str, str]:
    """What an element says by itself: attributes, texts and folded children, as key -> text."""
    items: dict[str, str] = {}
    for attr, value in el.attrib.items():
        if attr != "id":
            items[_label(el, attr)] = value
    if _local(el) == "rule" and table_columns is not None:
        inputs, outputs = table_columns
        cells = {"inputEntry": 0, "outputEntry": 0}
        for child in el:
            local = _local(child)
            if local in cells:
                idx = cells[local]
                cells[local] += 1
                names = inputs if local == "inputEntry" else outputs
                column = names[idx] if idx < len(names) else f"#{idx + 1}"
                kind = "input" if local == "inputEntry" else "output"
                items[f"{kind} '{column}'"] = _text_of(child)
            elif local == "description":
                items["description"] = (child.text or "").strip()
        return items
    _walk(el, "", items, top=True)
    return items


def _text_of(el) -> str:
    for child in el:
        if _local(child) == "text":
            return (child.text or "").strip()
    return (el.text or "").strip()


def _walk(el, prefix: str, items: dict, top: bool = False) -> None:
    seen: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str) or _is_di(child):
            continue
        local = _local(child)
        if local in _SKIP or (child.get("id") and not _folded(child)):
            continue
        tag = _label(child, child.tag)
        if child.get("name") is not None and child.get("value") is not None:
            key = f"{prefix}{tag}[{child.get('name')}]"   # extension properties: name=value pairs
            items[key] = child.get("value")
            continue
        key = f"{prefix}{tag}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        text = (child.text or "").strip()
        if text:
            items[key] = text
        for attr, value in child.attrib.items():
            if attr != "id":
                items[f"{key}/@{_label(child, attr)}"] = value
        _walk(child, key + "/", items)


_FRIENDLY = {"name": "name", "sourceRef": "source", "targetRef": "target", "conditionExpression": "condition",
             "script": "script", "calledElement": "called process", "attachedToRef": "attached to",
             "default": "default flow"}


def _friendly(key: str) -> str:
    if key.endswith("[formJsonSchemaFilename]"):
        return "form"
    tail = key.split("/")[-1].split(":")[-1]
    if "EventDefinition" in key and tail in ("timeDate", "timeDuration", "timeCycle"):
        return f"timer ({tail})"
    return _FRIENDLY.get(key.split(":")[-1], key)


def _describe(a: dict, b: dict) -> list[str]:
    details = []
    for key in sorted(set(a) | set(b), key=lambda k: (k not in ("name",), k)):
        old, new = a.get(key), b.get(key)
        if old == new:
            continue
        label = _friendly(key)
        if old is None:
            details.append(f"{label} added: '{_short(new)}'")
        elif new is None:
            details.append(f"{label} removed (was '{_short(old)}')")
        else:
            details.append(f"{label}: '{_short(old)}' → '{_short(new)}'")
    return details


def _columns(el):
    """(input labels, output labels) of the decision table a rule belongs to."""
    table = el.getparent()
    inputs = [c.get("label") or c.get("name") or c.get("id") or "" for c in table if _local(c) == "input"]
    outputs = [c.get("label") or c.get("name") or c.get("id") or "" for c in table if _local(c) == "output"]
    return inputs, outputs


def diff_xml(file: str, old_root, new_root) -> list[dict]:
    old_els, new_els = _elements(old_root), _elements(new_root)
    old_lanes, new_lanes = _lanes(old_root), _lanes(new_root)
    out = []
    for element_id in list(old_els) + [i for i in new_els if i not in old_els]:
        a, b = old_els.get(element_id), new_els.get(element_id)
        el = b if b is not None else a
        name = el.get("name") or el.get("label") or (_rule_name(el) if _local(el) == "rule" else "")
        if a is None or b is None:
            out.append(_entry(file, element_id, _local(el), name, "added" if a is None else "removed"))
            continue
        cols_a = _columns(a) if _local(a) == "rule" else None
        cols_b = _columns(b) if _local(b) == "rule" else None
        details = []
        if _local(a) != _local(b):
            details.append(f"type: {_local(a)} → {_local(b)}")
        details += _describe(_content(a, cols_a), _content(b, cols_b))
        if old_lanes.get(element_id) != new_lanes.get(element_id):
            details.append(f"lane: {old_lanes.get(element_id) or '—'} → {new_lanes.get(element_id) or '—'}")
        if details:
            out.append(_entry(file, element_id, _local(b), name, "changed", details))
    layout = _layout_changes(old_root, new_root)
    if layout:
        out.append(_entry(file, "", "diagram", "", "layout", layout))
    return out


def _rule_name(rule) -> str:
    for child in rule:
        if _local(child) == "description" and (child.text or "").strip():
            return child.text.strip()
    return ""


def _layout_changes(old_root, new_root) -> list[str]:
    def shapes(root):
        found = {}
        for el in root.iter():
            if _is_di(el) and el.get("bpmnElement") or (_is_di(el) and el.get("dmnElementRef")):
                key = el.get("bpmnElement") or el.get("dmnElementRef")
                found[key] = etree.tostring(el, method="c14n")
        return found

    a, b = shapes(old_root), shapes(new_root)
    moved = sum(1 for k in set(a) & set(b) if a[k] != b[k])
    added, removed = len(set(b) - set(a)), len(set(a) - set(b))
    details = []
    if moved:
        details.append(f"{moved} shape(s) or edge(s) moved or resized")
    if added:
        details.append(f"{added} shape(s) or edge(s) drawn")
    if removed:
        details.append(f"{removed} shape(s) or edge(s) no longer drawn")
    return details


# -- forms ------------------------------------------------------------------------------------------------
def _properties(schema: dict, prefix: str = "") -> dict[str, dict]:
    found = {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return found
    for name, sub in props.items():
        path = f"{prefix}{name}"
        found[path] = sub if isinstance(sub, dict) else {"schema": sub}
        if isinstance(sub, dict):
            found.update(_properties(sub, path + "."))
    return found


def _own(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "properties"} if isinstance(schema, dict) else {}


def _keyword_details(a: dict, b: dict) -> list[str]:
    details = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key), b.get(key)
        if old == new:
            continue
        if key == "required" and isinstance(old, list) and isinstance(new, list):
            more, less = [x for x in new if x not in old], [x for x in old if x not in new]
            details.append("required: " + "; ".join(
                ([f"added {', '.join(map(str, more))}"] if more else []) +
                ([f"removed {', '.join(map(str, less))}"] if less else [])))
        elif old is None:
            details.append(f"{key} added: {_short(new)}")
        elif new is None:
            details.append(f"{key} removed (was {_short(old)})")
        else:
            details.append(f"{key}: {_short(old)} → {_short(new)}")
    return details


def diff_labels(file: str, old: dict, new: dict) -> list[dict]:
    """One entry per Chinese label whose English was added, removed or changed (``element_type`` 'label')."""
    out = []
    for text in list(old) + [t for t in new if t not in old]:
        a, b = old.get(text), new.get(text)
        if a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        out.append(_entry(file, "", "label", text, change, [f"{_short(a or '')} → {_short(b or '')}"]))
    return out


def diff_forms(file: str, old: dict, new: dict) -> list[dict]:
    out = []
    top = _keyword_details(_own(old), _own(new))
    if top:
        out.append(_entry(file, "", "schema", new.get("title") or old.get("title") or "", "changed", top))
    a, b = _properties(old), _properties(new)
    for path in list(a) + [p for p in b if p not in a]:
        pa, pb = a.get(path), b.get(path)
        title = (pb or pa).get("title", "") if isinstance(pb or pa, dict) else ""
        if pa is None or pb is None:
            out.append(_entry(file, path, "property", title, "added" if pa is None else "removed"))
            continue
        details = _keyword_details(_own(pa), _own(pb))
        if details:
            out.append(_entry(file, path, "property", title, "changed", details))
    return out
