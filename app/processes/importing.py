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

from workflows.reading import MAX_FILE_BYTES, Unreadable, parse_form, parse_xml
from workflows.validation import BPMN_MODEL, DMN_MODELS, Problem

from ..errors import Invalid
from .problem_text import tr as _
from .problem_text import unreadable

MAX_IMPORT_BYTES = 50 * 1024 * 1024
_XML_DECLARATION = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["'][^>]*\?>""")
_SAFE_NAME = re.compile(r"^[^\W\d][\w.-]{0,79}$")

# The codes of the notes (warnings) an import adds; app/processes/problem_text.py says them.
NOTE_CODES: tuple[str, ...] = ("import_converted", "import_bpmn_by_content", "import_dmn_by_content",
                               "import_replaced_process", "import_replaced_decision", "import_replaced_form",
                               "import_layout_generated", "import_layout_failed")


@dataclass
class Prepared:
    path: str                          # where the file lands in the draft
    text: str                          # what is stored (UTF-8 text)
    replaced: str | None = None        # the draft file it replaces, if any
    notes: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Note:
    """What an import did on its own (converted, replaced, laid out), in English with code and params."""
    message: str
    code: str
    params: dict = field(default_factory=dict, hash=False)


def _note(path: str, note: Note) -> Problem:
    return Problem(path, "", "", note.message, "warning", note.code, dict(note.params))


def _invalid(filename: str, message: str) -> Invalid:
    """``message`` is already in the current language (tr/unreadable)."""
    return Invalid(_("无法导入 %(name)s：%(error)s", name=filename, error=message), fields=[("file", message)])


def prepare_import(filename: str, data: bytes, draft: dict[str, str]) -> Prepared:
    """Check an upload and decide its path; raises Invalid with a specific message otherwise."""
    name = PurePosixPath(str(filename or "").replace("\\", "/")).name[:200] or "upload"
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _invalid(name, _("没有文件内容"))
    if len(data) > MAX_IMPORT_BYTES:
        raise _invalid(name, _("文件超过 %(mb)s MB（%(size)s 字节）", mb=MAX_IMPORT_BYTES // 1024 // 1024,
                               size=len(data)))
    data = bytes(data)
    if not data.strip():
        raise _invalid(name, _("文件为空"))
    if len(data) > MAX_FILE_BYTES:
        raise _invalid(name, _("模型文件最大 %(mb)s MB（此文件 %(size)s 字节）", mb=MAX_FILE_BYTES // 1024 // 1024,
                               size=len(data)))
    lower = name.lower()
    if lower.endswith(".json"):
        return _prepare_form(name, data, draft)
    if not lower.endswith((".bpmn", ".dmn", ".xml", ".bpmn2")):
        raise _invalid(name, _("只能导入 .bpmn、.dmn 或 .json 文件"))
    text, notes = _decode_xml(name, data)
    try:
        root = parse_xml(text.encode("utf-8"))
    except Unreadable as exc:
        raise _invalid(name, unreadable(exc)) from None
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_MODEL:
        prepared = _prepare_bpmn(name, text, root, draft)
    elif qname.localname == "definitions" and qname.namespace in DMN_MODELS:
        prepared = _prepare_dmn(name, text, root, draft)
    else:
        where = (_("命名空间 %(namespace)s", namespace=qname.namespace) if qname.namespace else _("无命名空间"))
        raise _invalid(name, _("不是 BPMN 或 DMN 文件：根元素是 <%(root)s>（%(where)s），应为 BPMN 或 DMN 命名空间中的 "
                               "<definitions>", root=qname.localname, where=where))
    prepared.notes[:0] = [_note(prepared.path, n) for n in notes]
    if lower.endswith(".dmn") and prepared.path.endswith(".bpmn") or (
            lower.endswith(".bpmn") and prepared.path.endswith(".dmn")):
        bpmn = prepared.path.endswith(".bpmn")
        prepared.notes.append(_note(prepared.path, Note(
            f"'{name}' holds a {'BPMN diagram' if bpmn else 'DMN table'}; imported by its content, not its extension",
            "import_bpmn_by_content" if bpmn else "import_dmn_by_content", {"name": name})))
    return prepared


def _converted(encoding: str) -> Note:
    return Note(f"converted from {encoding} to UTF-8", "import_converted", {"encoding": encoding})


def _decode_xml(name: str, data: bytes) -> tuple[str, list[Note]]:
    """UTF-8 text of an XML upload; another declared encoding (GB18030, UTF-16 ...) is converted."""
    notes = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _redeclare(data.decode("utf-16")), [_converted("UTF-16")]
        except UnicodeDecodeError as exc:
            raise _invalid(name, _("不是有效的 UTF-16 文本（第 %(byte)s 字节）", byte=exc.start)) from None
    head = data[:200].decode("ascii", errors="replace")
    declared = _XML_DECLARATION.match(head)
    encoding = declared.group(1).lower() if declared else "utf-8"
    if encoding.replace("_", "-") in ("utf-8", "utf8", "us-ascii", "ascii"):
        try:
            return data.decode("utf-8"), notes
        except UnicodeDecodeError as exc:
            raise _invalid(name, _("文件不是 UTF-8 编码（位置 %(offset)s 的字节 0x%(byte)s 无效），请另存为 UTF-8",
                                   offset=exc.start, byte=f"{data[exc.start]:02x}")) from None
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise _invalid(name, _("XML 声明中的编码 %(encoding)s 无法识别", encoding=encoding)) from None
    # codecs also knows bytes-to-bytes transforms (base64, hex, zlib_codec, rot13 ...): not text encodings.
    if not getattr(codec, "_is_text_encoding", True):
        raise _invalid(name, _("XML 声明中的编码 %(encoding)s 无法识别", encoding=encoding))
    try:
        text = data.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise _invalid(name, _("文本不是有效的 %(encoding)s 编码（第 %(byte)s 字节）", encoding=encoding,
                               byte=exc.start)) from None
    except (UnicodeError, LookupError, ValueError, TypeError):  # e.g. punycode on arbitrary bytes
        raise _invalid(name, _("XML 声明中的编码 %(encoding)s 无法识别", encoding=encoding)) from None
    return _redeclare(text), [_converted(encoding)]


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
        raise _invalid(name, _("文件中的元素分别定义在草稿的多个文件中（%(files)s），请拆开逐个导入",
                               files=", ".join(sorted(homes))))
    if homes:
        home = homes.pop()
        return home, home
    stem = next((s for s in map(_safe_name, ids) if s), None) or _stem(name) or "imported"
    return _free_path(f"{folder}{stem}{ext}", draft), None


def _prepare_bpmn(name: str, text: str, root, draft: dict[str, str]) -> Prepared:
    processes = [el for el in root.iter(f"{{{BPMN_MODEL}}}process")]
    if not processes:
        raise _invalid(name, _("文件中没有流程（<process>）"))
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    ordered = executable + [p for p in processes if p not in executable]
    ids = [p.get("id") for p in ordered if p.get("id")]
    if not ids:
        raise _invalid(name, _("流程没有 id"))
    path, replaced = _target(name, ids, _ids_in(draft, ".bpmn", "process"), "", ".bpmn", draft)
    notes = []
    if replaced:
        notes.append(_note(path, Note(f"replaced the draft file '{path}' that defines process '{ids[0]}'",
                                      "import_replaced_process", {"path": path, "id": ids[0]})))
    text, layout_note = _with_layout(text)
    if layout_note:
        notes.append(_note(path, layout_note))
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)


def _with_layout(text: str) -> tuple[str, Note | None]:
    """Add diagram layout (DI) when the file has none, so the modeler can show it."""
    try:
        from workflows import layout  # written alongside; optional until it lands
    except ImportError:
        return text, None
    data = text.encode("utf-8")
    try:
        if layout.has_layout(data):
            return text, None
        return layout.add_layout(data).decode("utf-8"), Note("the file had no diagram layout; one was generated",
                                                             "import_layout_generated")
    except Exception as exc:  # noqa: BLE001 - a missing layout must not stop an import
        return text, Note(f"the file has no diagram layout and none could be generated ({type(exc).__name__})",
                          "import_layout_failed", {"error": type(exc).__name__})


def _prepare_dmn(name: str, text: str, root, draft: dict[str, str]) -> Prepared:
    decisions = [el.get("id") for el in root if isinstance(el.tag, str)
                 and etree.QName(el).localname == "decision" and el.get("id")]
    if not decisions:
        raise _invalid(name, _("文件中没有决策表（<decision>）"))
    path, replaced = _target(name, decisions, _ids_in(draft, ".dmn", "decision"), "rules/", ".dmn", draft)
    notes = [_note(path, Note(f"replaced the draft file '{path}' that defines decision '{decisions[0]}'",
                              "import_replaced_decision", {"path": path, "id": decisions[0]}))] if replaced else []
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)


def _prepare_form(name: str, data: bytes, draft: dict[str, str]) -> Prepared:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        parse_form(data)
        text = data.decode("utf-8")
    except Unreadable as exc:
        raise _invalid(name, unreadable(exc)) from None
    stem = _stem(name)
    if not stem:
        raise _invalid(name, _("文件名不能用作表单名（请用字母、数字、_ 和 -，例如 my_form.schema.json）"))
    path = f"forms/{stem}.schema.json"
    replaced = path if path in draft else None
    notes = [_note(path, Note(f"replaced the draft form '{path}'", "import_replaced_form", {"path": path}))
             ] if replaced else []
    return Prepared(path=path, text=text, replaced=replaced, notes=notes)
