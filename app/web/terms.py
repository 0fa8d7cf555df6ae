"""Names stored as written, shown in the reader's language when the catalog knows them.

Department, grid and category names, the names of BPMN elements (task names copied to the ready
tasks and the history, the labels of the case diagram) are Chinese text, not identifiers. The
shipped ones are msgids (extracted by app/web/label_messages.py ``shipped_terms``), so in English
``term('城管执法中队')`` reads "Urban Management Enforcement Squad". A name an admin wrote is not
in the catalog and stays exactly as written: gettext hands back its msgid.

A process version's own labels (task and element names, form texts) may carry their English in the
version (the designer's 标签翻译, app/processes/labels.py): pass the version's ``Bundle.labels`` and
that English comes first, then the catalog's, then the text as written (``labels.english``).

    {{ task.name|term }}      {{ departments.get(code, code)|term }}
    {{ ctx.name|term(ctx.bundle.labels) }}      form_text(title, bundle.labels)
    translate_bpmn_names(xml, bundle.labels)  # the diagram's labels, for bpmn-js
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from flask import Flask
from flask_babel import get_locale, gettext

from ..processes.labels import english

CJK = re.compile(r"[\u3400-\u9fff]")
# name="…" on a BPMN/DMN element: attribute values are XML-escaped, so no raw quote inside.
NAME_ATTRIBUTE = re.compile(r'(<[\w:]+\b[^>]*?\sname=")([^"]*)(")')


def term(value, translations=None) -> str:
    """A stored Chinese name in the UI's language; anything else unchanged. ``translations``: the
    English of the process version's own labels (``Bundle.labels``) when the name is one of them."""
    if not value or not isinstance(value, str) or not CJK.search(value):
        return "" if value is None else value
    return form_text(value, translations)


def form_text(value, translations=None):
    """A process version's text (a form's title, field title or option; a task name) in the UI's
    language: in English the version's translation, else the catalog's, else as written."""
    if not isinstance(value, str) or not value:
        return value
    if translations and _english():
        return english(value, translations, gettext)
    return gettext(value)


def in_english() -> bool:
    """Whether this request's pages are in English (a page may skip reading translations otherwise)."""
    locale = get_locale()
    return locale is not None and locale.language != "zh"


_english = in_english


def translate_bpmn_names(xml, translations=None):
    """The diagram's XML with every element name translated (in English only: the version's own
    ``translations`` first, then the catalog; in Chinese the XML is returned untouched, byte for byte)."""
    if xml is None or not _english():
        return xml
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml

    def one(match: re.Match) -> str:
        name = html.unescape(match.group(2))
        return match.group(1) + html.escape(term(name, translations), quote=True) + match.group(3)
    return NAME_ATTRIBUTE.sub(one, text)


def bpmn_names(paths) -> list[str]:
    """The Chinese element names of BPMN files, in file order, each once (the extractor's list)."""
    names: list[str] = []
    for path in paths:
        for match in NAME_ATTRIBUTE.finditer(Path(path).read_text(encoding="utf-8")):
            name = html.unescape(match.group(2))
            if CJK.search(name) and name not in names:
                names.append(name)
    return names


def register(app: Flask) -> None:
    app.jinja_env.filters["term"] = term
    app.jinja_env.filters["form_text"] = form_text
