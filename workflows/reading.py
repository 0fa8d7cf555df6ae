"""Reading untrusted model files safely: XML without DOCTYPEs or entities, JSON Schema forms with
bounded nesting, where each kind of model lives in a bundle, and the title of a file. Used by
validation, loading, diffing, import and the designer."""
from __future__ import annotations

import json
import math
import re
from pathlib import PurePosixPath

import jsonschema
from lxml import etree

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_JSON_DEPTH = 64
# Bounds on what one file may hold, far above any real process but low enough that validation,
# layout and rendering stay quick: a 5 MB upload can otherwise describe 50 000 tasks or 400 000
# form fields, and the work on them grows with their number.
MAX_XML_ELEMENTS = 20_000
MAX_FORM_PROPERTIES = 500


def safe_xml_parser() -> etree.XMLParser:
    # Diagrams come from designers' uploads: no DTDs, no entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True)


# -- safe reading ---------------------------------------------------------------------------------
class Unreadable(Exception):
    """A file cannot be read at all; the message says why, for a person (``code``/``params`` as in Problem)."""

    def __init__(self, message: str, code: str = "", **params):
        super().__init__(message)
        self.code = code
        self.params = params


def parse_xml(content: bytes):
    """Parse untrusted XML: refuse DOCTYPE (entities, external DTDs) before and after parsing."""
    if has_doctype(content):
        raise Unreadable("DOCTYPE/ENTITY declarations are not allowed (they can read server files or "
                         "expand without bound); remove the <!DOCTYPE ...> block", "doctype_refused")
    try:
        root = etree.fromstring(content, safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            raise Unreadable("the XML is nested too deeply", "nested_too_deeply") from None
        raise Unreadable(f"malformed XML: {exc}", "malformed_xml", error=str(exc)) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise Unreadable(f"malformed XML: {exc}", "malformed_xml", error=str(exc)) from None
    if root is None:
        raise Unreadable("malformed XML: empty document", "malformed_xml", error="empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise Unreadable("DOCTYPE/ENTITY declarations are not allowed", "doctype_refused")
    count = sum(1 for _ in root.iter())
    if count > MAX_XML_ELEMENTS:
        raise Unreadable(f"the file has {count} XML elements; at most {MAX_XML_ELEMENTS} are allowed",
                         "too_many_elements", count=count, limit=MAX_XML_ELEMENTS)
    return root


_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)


def has_doctype(content: bytes) -> bool:
    """True when a DOCTYPE (or a stray ENTITY declaration) appears before the root element."""
    data = content[:1_000_000]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if data.startswith(bom):
            data = data[len(bom):]
    if b"\x00" in data[:200]:  # UTF-16: look at the ASCII bytes only
        data = data.replace(b"\x00", b"")
    pos = 0
    while True:
        match = _PROLOG_SKIP.match(data, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
    head = data[pos:pos + 9].upper()
    return head.startswith(b"<!DOCTYPE") or head.startswith(b"<!ENTITY")


def json_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of JSON text without parsing it (stops counting past ``limit``)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """JSON has no infinity: 1e999999 would otherwise become inf and break serialisation later."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _strict_json(text: str):
    """JSON without NaN, Infinity or overflowing floats (a form or a labels file), or Unreadable."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"not valid JSON: {str(exc).splitlines()[0]}", "form_not_json",
                         error=str(exc).splitlines()[0]) from None


def _count_properties(node) -> int:
    """Fields declared anywhere in a schema (nested objects included); the depth is bounded above."""
    if isinstance(node, dict):
        own = len(node["properties"]) if isinstance(node.get("properties"), dict) else 0
        return own + sum(_count_properties(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count_properties(v) for v in node)
    return 0


def parse_form(content: bytes) -> dict:
    """A form file as a checked JSON Schema object, or Unreadable saying why."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start})", "form_not_utf8", byte=exc.start) from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise Unreadable(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels", "form_too_deep",
                         depth=MAX_JSON_DEPTH)
    schema = _strict_json(text)
    if not isinstance(schema, dict):
        raise Unreadable("not a valid JSON Schema: a form must be a JSON object", "form_not_object")
    count = _count_properties(schema)
    if count > MAX_FORM_PROPERTIES:
        raise Unreadable(f"the form has {count} fields; at most {MAX_FORM_PROPERTIES} are allowed",
                         "form_too_many_fields", count=count, limit=MAX_FORM_PROPERTIES)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Unreadable(f"not a valid JSON Schema: {str(exc).splitlines()[0]}", "form_not_schema",
                         error=str(exc).splitlines()[0]) from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise Unreadable(f"not a valid JSON Schema: {type(exc).__name__}", "form_not_schema",
                         error=type(exc).__name__) from None
    return schema


# -- the bundle's own English labels ---------------------------------------------------------------
# A bundle may carry the English of its own Chinese labels (element names, form texts) next to its
# models: one JSON object {"中文 as written": "English"} at LABELS_FILE. It is not a model (nothing
# runs from it) but it is part of the bundle, so it is hashed, deployed and versioned with it;
# app/processes/labels.py says why it is keyed by the text.
LABELS_FILE = "labels.en.json"
MAX_LABEL_CHARS = 200       # a task name is stored in String(200) columns (ready tasks, the audit log)
MAX_LABELS = 5_000


def parse_labels(content: bytes) -> dict[str, str]:
    """The labels file as {Chinese text: English text}, or Unreadable saying why."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start})", "form_not_utf8", byte=exc.start) from None
    if json_depth(text) > 2:
        raise Unreadable("labels must be one JSON object of texts", "labels_invalid",
                         error="nested values")
    labels = _strict_json(text)
    if not isinstance(labels, dict):
        raise Unreadable("labels must be one JSON object of texts", "labels_invalid", error="not an object")
    if len(labels) > MAX_LABELS:
        raise Unreadable(f"more than {MAX_LABELS} labels", "labels_invalid", error=f"> {MAX_LABELS}")
    for key, value in labels.items():
        if not isinstance(value, str) or not key or not value or max(len(key), len(value)) > MAX_LABEL_CHARS:
            raise Unreadable(f"label {key[:40]!r}: each translation is a text of 1 to {MAX_LABEL_CHARS} "
                             "characters", "labels_invalid", error=key[:40])
    return labels


# -- where models live in a bundle -----------------------------------------------------------------
# Each kind of model at its place, relative to the bundle root (the shipped bpmn/ folder, a version).
MODEL_PATHS: tuple[tuple[str, str], ...] = (
    ("*.bpmn", "bpmn"),
    ("rules/*.dmn", "dmn"),
    ("forms/*.schema.json", "form"),
)
_MODEL_PATTERNS = (
    (re.compile(r"^[^/]+\.bpmn$"), "bpmn"),
    (re.compile(r"^rules/[^/]+\.dmn$"), "dmn"),
    (re.compile(r"^forms/[^/]+\.schema\.json$"), "form"),
)
MAX_MODEL_PATH = 200


def unsafe_path(path) -> str | None:
    """Why ``path`` cannot name a file inside a bundle, or None when it is a plain relative path.

    'invalid' (not text, empty, longer than MAX_MODEL_PATH), 'escapes' (absolute, a backslash, a
    NUL, an empty, '.' or '..' part) or 'hidden' (a name starting with '.', control characters)."""
    if not isinstance(path, str) or not path or len(path) > MAX_MODEL_PATH:
        return "invalid"
    if path.startswith("/") or "\\" in path or "\0" in path or any(
            part in ("", ".", "..") for part in path.split("/")):
        return "escapes"
    if PurePosixPath(path).name.startswith(".") or any(ord(c) < 32 for c in path):
        return "hidden"
    return None


def model_kind(path) -> str | None:
    """'bpmn' | 'dmn' | 'form' for a path where a bundle keeps that kind of model (``MODEL_PATHS``);
    None for every other path, unsafe ones included. The one answer to "what is this file"."""
    if unsafe_path(path) is not None:
        return None
    for pattern, kind in _MODEL_PATTERNS:
        if pattern.match(path):
            return kind
    return None


def model_title(path: str, kind: str, content: bytes) -> str:
    """A human title for a file: the process name, the decision name or the form title."""
    try:
        if kind == "form":
            title = parse_form(content).get("title")
            return title if isinstance(title, str) and title else path
        root = parse_xml(content)
        local = "process" if kind == "bpmn" else "decision"
        fallback = ""
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == local:
                if kind == "bpmn" and el.get("isExecutable", "true") != "true":
                    fallback = fallback or el.get("name") or el.get("id") or ""
                    continue
                return el.get("name") or el.get("id") or path
        return fallback or root.get("name") or path
    except (Unreadable, Exception):  # noqa: BLE001 - a title is cosmetic; never fail on it
        return path
