"""Uploaded model files: read hostile bytes safely and decide where they land in the draft.

Uploads come from other tools (Camunda Modeler, bpmn.io, Signavio ...) and from anyone who can
reach the upload form, so every step assumes the worst: the size is checked before anything
else, text must be UTF-8 (or declare an encoding we can convert), XML is parsed without DTDs,
entities or network access and a DOCTYPE is refused outright, JSON nesting is measured before
it is parsed. The bytes of a diagram are kept as they are — vendor extensions included — except
that a diagram without layout gets one. Nothing is executed here.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lxml import etree

from workflows.validation import (BPMN_MODEL, DMN_MODELS, MAX_FILE_BYTES, Problem, Unreadable, parse_form,
                                  parse_xml)

from ..errors import Invalid

MAX_IMPORT_BYTES = 50 * 1024 * 1024
_XML_DECLARATION = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["'][^>]*\?>""")
_SAFE_NAME = re.compile(r"^[^\W\d][\w.-]{0,79}$")


@dataclass
class Prepared:
    path: str                          # where the file lands in the draft
    text: str                          # what is stored (UTF-8 text)
    replaced: str | None = None        # the draft file it replaces, if any
    notes: list[Problem] = field(default_factory=list)


def _invalid(filename: str, message: str) -> Invalid:
    return Invalid(f"无法导入 '{filename}': {message}", fields=[("file", message)])


def prepare_import(filename: str, data: bytes, draft: dict[str, str]) -> Prepared:
    """Check an upload and decide its path; raises Invalid with a specific message otherwise."""
    name = PurePosixPath(str(filename or "").replace("\\", "/")).name[:200] or "upload"
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _invalid(name, "no file content")
    if len(data) > MAX_IMPORT_BYTES:
        raise _invalid(name, f"文件超过 50 MB (the file is larger than 50 MB: {len(data)} bytes)")
    data = bytes(data)
    if not data.strip():
        raise _invalid(name, "文件为空 (the file is empty)")
    if len(data) > MAX_FILE_BYTES:
        raise _invalid(name, f"模型文件最大 {MAX_FILE_BYTES // 1024 // 1024} MB "
                             f"(a model file may be at most {MAX_FILE_BYTES // 1024 // 1024} MB)")
    lower = name.lower()
    if lower.endswith(".json"):
        return _prepare_form(name, data, draft)
    if not lower.endswith((".bpmn", ".dmn", ".xml", ".bpmn2")):
        raise _invalid(name, "只能导入 .bpmn、.dmn 或 .json 文件 (only .bpmn, .dmn and .json files can be imported)")
    text, notes = _decode_xml(name, data)
    try:
        root = parse_xml(text.encode("utf-8"))
    except Unreadable as exc:
        raise _invalid(name, str(exc)) from None
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_MODEL:
        prepared = _prepare_bpmn(name, text, root, draft)
    elif qname.localname == "definitions" and qname.namespace in DMN_MODELS:
        prepared = _prepare_dmn(name, text, root, draft)
    else:
        where = f"namespace {qname.namespace}" if qname.namespace else "no namespace"
        raise _invalid(name, f"不是 BPMN 或 DMN 文件：根元素是 <{qname.localname}>（{where}） (not a BPMN 2.0 "
                             f"or DMN file: the root element is <{qname.localname}> in {where}, expected "
                             f"<definitions> in the BPMN or DMN namespace)")
    prepared.notes[:0] = [Problem(prepared.path, "", "", n, "warning") for n in notes]
    if lower.endswith(".dmn") and prepared.path.endswith(".bpmn") or (
            lower.endswith(".bpmn") and prepared.path.endswith(".dmn")):
        prepared.notes.append(Problem(prepared.path, "", "", f"'{name}' holds a "
                                      f"{'BPMN diagram' if prepared.path.endswith('.bpmn') else 'DMN table'}; "
                                      "imported by its content, not its extension", "warning"))
    return prepared


def _decode_xml(name: str, data: bytes) -> tuple[str, list[str]]:
    """UTF-8 text of an XML upload; another declared encoding (GB18030, UTF-16 ...) is converted."""
    notes = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _redeclare(data.decode("utf-16")), ["converted from UTF-16 to UTF-8"]
        except UnicodeDecodeError as exc:
            raise _invalid(name, f"invalid UTF-16 text at byte {exc.start}") from None
    head = data[:200].decode("ascii", errors="replace")
    declared = _XML_DECLARATION.match(head)
    encoding = declared.group(1).lower() if declared else "utf-8"
    if encoding.replace("_", "-") in ("utf-8", "utf8", "us-ascii", "ascii"):
        try:
            return data.decode("utf-8"), notes
        except UnicodeDecodeError as exc:
            raise _invalid(name, f"文件不是 UTF-8 编码 (not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at "
                                 f"offset {exc.start}); save it as UTF-8") from None
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise _invalid(name, f"unknown encoding '{encoding}' in the XML declaration") from None
    try:
        text = data.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise _invalid(name, f"the text is not valid {encoding} (byte {exc.start})") from None
    return _redeclare(text), [f"converted from {encoding} to UTF-8"]


def _redeclare(text: str) -> str:
    text = text.lstrip("\ufeff")
    return _XML_DECLARATION.sub('<?xml version="1.0" encoding="UTF-8"?>', text, count=1)


def _safe_name(candidate: str | None) -> str | None:
    return candidate if candidate and _SAFE_NAME.match(candidate) and not candidate.endswith(".") else None


def _stem(filename: str) -> str | None:
    stem = filename
    for suffix in (".schema.json", ".json", ".bpmn2", ".bpmn", ".dmn", ".xml"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")
    return _safe_name(stem)


def _ids_in(draft: dict[str, str], suffix: str, xpath: str) -> dict[str, str]:
    """id -> draft path of every process (or decision) the draft's files define."""
    found = {}
    for path, text in draft.items():
        if not path.endswith(suffix):
            continue
        try:
            root = parse_xml(text.encode("utf-8"))
        except Unreadable:
            continue
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == xpath and el.get("id"):
                found.setdefault(el.get("id"), path)
    return found


def _free_path(path: str, draft: dict[str, str]) -> str:
    if path not in draft:
        return path
    base, dot, ext = path.partition(".")
    n = 2
    while f"{base}_{n}{dot}{ext}" in draft:
        n += 1
    return f"{base}_{n}{dot}{ext}"


def _target(name, ids: list[str], existing: dict[str, str], folder: str, ext: str, draft) -> tuple[str, str | None]:
    homes = {existing[i] for i in ids if i in existing}
    if len(homes) > 1:
        raise _invalid(name, f"its elements are defined in several draft files ({', '.join(sorted(homes))}); "
                             "import them one by one")
    if homes:
        home = homes.pop()
        return home, home
    stem = next((s for s in map(_safe_name, ids) if s), None) or _stem(name) or "imported"
    return _free_path(f"{folder}{stem}{ext}", draft), None


def _prepare_bpmn(name: str, text: str, root, draft: dict[str, str]) -> Prepared:
    processes = [el for el in root.iter(f"{{{BPMN_MODEL}}}process")]
    if not processes:
        raise _invalid(name, "文件中没有流程 (the file defines no <process>)")
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    ordered = executable + [p for p in processes if p not in executable]
    ids = [p.get("id") for p in ordered if p.get("id")]
    if not ids:
        raise _invalid(name, "the process has no id")
    path, replaced = _target(name, ids, _ids_in(draft, ".bpmn", "process"), "", ".bpmn", draft)
    notes = []
    if replaced:
        notes.append(Problem(path, "", "", f"replaced the draft file '{path}' that defines process '{ids[0]}'",
                             "warning"))
    text, layout_note = _with_layout(text)
    if layout_note:
        notes.append(Problem(path, "", "", layout_note, "warning"))
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)


def _with_layout(text: str) -> tuple[str, str | None]:
    """Add diagram layout (DI) when the file has none, so the modeler can show it."""
    try:
        from workflows import layout  # written alongside; optional until it lands
    except ImportError:
        return text, None
    data = text.encode("utf-8")
    try:
        if layout.has_layout(data):
            return text, None
        return layout.add_layout(data).decode("utf-8"), "the file had no diagram layout; one was generated"
    except Exception as exc:  # noqa: BLE001 - a missing layout must not stop an import
        return text, f"the file has no diagram layout and none could be generated ({type(exc).__name__})"


def _prepare_dmn(name: str, text: str, root, draft: dict[str, str]) -> Prepared:
    decisions = [el.get("id") for el in root if isinstance(el.tag, str)
                 and etree.QName(el).localname == "decision" and el.get("id")]
    if not decisions:
        raise _invalid(name, "文件中没有决策表 (the file defines no <decision>)")
    path, replaced = _target(name, decisions, _ids_in(draft, ".dmn", "decision"), "rules/", ".dmn", draft)
    notes = [Problem(path, "", "", f"replaced the draft file '{path}' that defines decision '{decisions[0]}'",
                     "warning")] if replaced else []
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)


def _prepare_form(name: str, data: bytes, draft: dict[str, str]) -> Prepared:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        parse_form(data)
        text = data.decode("utf-8")
    except Unreadable as exc:
        raise _invalid(name, str(exc)) from None
    stem = _stem(name)
    if not stem:
        raise _invalid(name, "the file name cannot name a form (use letters, digits, '_', '-', e.g. "
                             "my_form.schema.json)")
    path = f"forms/{stem}.schema.json"
    replaced = path if path in draft else None
    notes = [Problem(path, "", "", f"replaced the draft form '{path}'", "warning")] if replaced else []
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)
