"""The English of a process bundle's own labels (标签翻译), kept in the bundle and looked up in one place.

A designer who adds or renames a task in the browser writes Chinese that no message catalog knows.
Its English is part of the designer's work on that bundle, so it is stored *in* the bundle, as one
more file beside the models: ``labels.en.json`` (``workflows.reading.LABELS_FILE``), a JSON object
``{"中文 as written": "English"}``. Being a bundle file it is saved with the draft (same revision
and conflict rule as any file), hashed into the version's identity, deployed, exported and
compared with it; a deployed version is never changed, so a case on an old version keeps the
labels it had. A table keyed by version would have had to copy all of that by hand.

Why keyed by the Chinese text and not by element id:

* every place that shows a label holds the text, not always the element: ready tasks and the
  history store the task *name*, the diagram's XML has ``name="…"``, a form has titles and options
  without ids; one lookup ``text → English`` serves them all, like the catalog's ``msgid → msgstr``;
* a rename makes the old translation stop applying by itself. Keyed by id, renaming 派单 to 派单复核
  would go on showing "Dispatch" for the new name.

The same text in two places (a task and the title of its form) has one English, as in the catalog.

Order of lookup, in English (``english``): the version's own translation, else the catalog's, else
the text as written. The file holds only what the catalog does not already say: a translation equal
to the catalog's is not stored, so a shipped name follows the catalog. A DMN table's own words are
listed too — its decision's name, its input and output columns' labels (``label="…"``) and its rows'
descriptions; its
output *values* are codes and deadlines, shown through the app's own labels, and are not.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from sqlalchemy.orm import Session

from workflows.reading import (LABELS_FILE, MAX_LABEL_CHARS, Unreadable, model_kind, parse_form, parse_labels,
                              parse_xml)

from ..errors import Invalid
from .drafts import _audit, _require_revision, _write, open_draft
from .models import ProcessDraft
from .problem_text import tr as _

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a label is on the page (标签翻译): the BPMN element's local name, or the part of a form.
FORM_PARTS = ("form_title", "form_description", "field_title", "field_option", "field_description")


@dataclass
class Label:
    """One Chinese text of the bundle and every place it is written (file, element id, kind)."""
    text: str
    places: list[tuple[str, str, str]] = field(default_factory=list)
    english: str = ""          # the draft's own translation, "" when it has none
    catalog: str = ""          # what the catalog says, "" when it does not know the text


def english(text, translations: Mapping[str, str] | None, catalog: Callable[[str], str]):
    """The English of one of a bundle's own labels: the version's translation, else ``catalog(text)``
    (gettext hands the text back when it does not know it: the label as written)."""
    if not isinstance(text, str) or not text:
        return "" if text is None else text
    return (translations or {}).get(text) or catalog(text)


def read_translations(files: Mapping[str, str]) -> dict[str, str]:
    """The labels file of a draft or a version as {Chinese: English}; {} when there is none or it
    cannot be read (validation reports that one)."""
    text = files.get(LABELS_FILE)
    if not text:
        return {}
    try:
        return parse_labels(text.encode("utf-8"))
    except Unreadable:
        return {}


# -- what the bundle says -------------------------------------------------------------------------
def form_labels(schema: Mapping) -> Iterator[tuple[str, str, str]]:
    """(property or "", part, text) of every text of a form that is shown translated, in schema order:
    the form's title and description, then each property's title, option names and description."""
    properties = schema.get("properties")
    parts = [("", schema)] + [(name, prop) for name, prop in
                              (properties.items() if isinstance(properties, Mapping) else ())
                              if isinstance(prop, Mapping)]
    for name, part in parts:
        kinds = ("form_title", "field_option", "form_description") if not name else \
            ("field_title", "field_option", "field_description")
        options = part.get("enumNames") if isinstance(part.get("enumNames"), list) else ()
        for kind, text in ((kinds[0], part.get("title")), *((kinds[1], o) for o in options),
                           (kinds[2], part.get("description"))):
            if isinstance(text, str) and text:
                yield name, kind, text


def _bpmn_labels(text: str) -> Iterator[tuple[str, str, str]]:
    try:
        root = parse_xml(text.encode("utf-8"))
    except Unreadable:
        return
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("name"):
            yield el.get("id") or "", el.tag.rsplit("}", 1)[-1], el.get("name")


DMN_LABELLED = {"input": "label", "output": "label", "decision": "name"}


def _dmn_labels(text: str) -> Iterator[tuple[str, str, str]]:
    """(element id, what, text) of a decision table's own words: the decision's name and the labels of
    its input and output columns and each row's description (an output's ``name`` is the variable it sets, an identifier)."""
    try:
        root = parse_xml(text.encode("utf-8"))
    except Unreadable:
        return
    for el in root.iter():
        what = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
        value = el.get(DMN_LABELLED[what]) if what in DMN_LABELLED else None
        if value:
            yield el.get("id") or "", f"dmn_{what}", value
        elif what == "rule":  # a row's description (咨询（复杂）): what the row is called in problems
            described = next((c for c in el if isinstance(c.tag, str) and c.tag.endswith("}description")), None)
            if described is not None and (described.text or "").strip():
                yield el.get("id") or "", "dmn_rule", described.text.strip()


def draft_labels(files: Mapping[str, str], catalog: Callable[[str], str | None] = lambda _t: None) -> list[Label]:
    """Every Chinese label of a bundle, once per text, in file order, with the bundle's English of it
    and ``catalog(text)`` (the catalog's English, None when it does not know the text)."""
    translations = read_translations(files)
    found: dict[str, Label] = {}
    for path in sorted(files):
        kind = model_kind(path)
        if kind == "bpmn":
            places = _bpmn_labels(files[path])
        elif kind == "dmn":
            places = _dmn_labels(files[path])
        elif kind == "form":
            try:
                places = form_labels(parse_form(files[path].encode("utf-8")))
            except Unreadable:
                continue
        else:
            continue
        for element_id, what, text in places:
            if not CJK.search(text):
                continue  # nothing to translate: identifiers, numbers, a name already in English
            label = found.get(text)
            if label is None:
                label = found[text] = Label(text, english=translations.get(text, ""), catalog=catalog(text) or "")
            label.places.append((path, element_id, what))
    return list(found.values())


# -- saving ---------------------------------------------------------------------------------------
def clean_translations(translations, labels: list[Label]) -> dict[str, str]:
    """{Chinese: English} to store, from what a designer sent for the draft's ``labels``; Invalid
    naming the first bad entry (nothing is stored then). Empty English means no translation; one
    equal to the catalog's is left to the catalog."""
    if not isinstance(translations, Mapping):
        raise Invalid(_("标签翻译必须是对象：键是中文标签，值是英文。"), fields=[("translations", "not an object")])
    known = {label.text: label for label in labels}
    kept: dict[str, str] = {}
    for text, value in translations.items():
        if not isinstance(text, str) or text not in known:
            shown = str(text)[:60]
            raise Invalid(_("草稿中没有标签「%(label)s」，无法保存它的翻译（请刷新页面）。", label=shown),
                          fields=[(shown, "unknown label")])
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise Invalid(_("「%(label)s」的英文必须是文本。", label=text), fields=[(text, "not text")])
        value = value.strip()
        if len(value) > MAX_LABEL_CHARS:
            raise Invalid(_("「%(label)s」的英文超过 %(n)s 个字符。", label=text, n=MAX_LABEL_CHARS),
                          fields=[(text, "too long")])
        if CONTROL.search(value):
            raise Invalid(_("「%(label)s」的英文不能含换行或控制字符。", label=text), fields=[(text, "control character")])
        if CJK.search(value):
            raise Invalid(_("「%(label)s」的英文不能含中文字符。", label=text), fields=[(text, "not English")])
        if value and value != known[text].catalog:
            kept[text] = value
    order = {label.text: n for n, label in enumerate(labels)}
    return dict(sorted(kept.items(), key=lambda item: order[item[0]]))


def save_translations(session: Session, *, translations, base_revision, actor: str,
                      catalog: Callable[[str], str | None] = lambda _t: None) -> ProcessDraft:
    """Replace the draft's label translations with ``translations`` ({Chinese: English}, every label
    the designer wants translated; a label left out has none). Same revision rule as saving a file
    (Conflict when someone saved since); Invalid, with nothing saved, for a label the draft does not
    have, English that is not text, longer than ``MAX_LABEL_CHARS``, with control characters or
    Chinese. An unchanged table saves nothing; an empty one removes the file."""
    draft = open_draft(session, actor)
    _require_revision(draft, base_revision)
    files = dict(draft.files)
    kept = clean_translations(translations, draft_labels(files, catalog))
    text = json.dumps(kept, ensure_ascii=False, indent=1) + "\n" if kept else None
    if files.get(LABELS_FILE) == text:
        return draft
    if text is None:
        del files[LABELS_FILE]
    else:
        files[LABELS_FILE] = text
    _write(session, draft, files, actor)
    _audit(session, actor, "draft_save", {"path": LABELS_FILE, "revision": draft.revision, "labels": len(kept)})
    return draft
