"""Names stored as written, shown in the reader's language when the catalog knows them.

Department, grid and category names, the names of BPMN elements (task names copied to the ready
tasks and the history, the labels of the case diagram) are Chinese text, not identifiers. The
shipped ones are msgids (extracted by app/web/label_messages.py ``shipped_terms``), so in English
``term('城管执法中队')`` reads "Urban Management Enforcement Squad". A name a designer or an admin
wrote is not in the catalog and stays exactly as written: gettext hands back its msgid.

    {{ task.name|term }}      {{ departments.get(code, code)|term }}
    translate_bpmn_names(xml)  # the diagram's labels, for bpmn-js
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from flask import Flask
from flask_babel import get_locale, gettext

CJK = re.compile(r"[\u3400-\u9fff]")
# name="…" on a BPMN/DMN element: attribute values are XML-escaped, so no raw quote inside.
NAME_ATTRIBUTE = re.compile(r'(<[\w:]+\b[^>]*?\sname=")([^"]*)(")')


def term(value) -> str:
    """A stored Chinese name in the UI's language; anything else unchanged."""
    if not value or not isinstance(value, str) or not CJK.search(value):
        return "" if value is None else value
    return gettext(value)


def _english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language != "zh"


def translate_bpmn_names(xml):
    """The diagram's XML with every element name the catalog knows translated (in English only;
    in Chinese the XML is returned untouched, byte for byte)."""
    if xml is None or not _english():
        return xml
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml

    def one(match: re.Match) -> str:
        name = html.unescape(match.group(2))
        return match.group(1) + html.escape(term(name), quote=True) + match.group(3)
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
