"""Msgids that are not literals in the code, and the Babel extractors that find them.

Two kinds of text are translated at render time with ``gettext(value)``, where ``pybabel extract``
cannot see a literal:

* the values of the label dictionaries (``label_dicts``): every kind app/web/formatting.py
  ``label()`` knows (``formatting.LABELS``: CHANNELS, TYPES, DIFFICULTIES, STATUSES, ROLES, TIERS,
  REASONS, ITEM_STATUSES) and the dicts the case pages (ACTIONS, TASK_ACTIONS, DECISIONS, ACTORS,
  FIELDS, SATISFACTION, MEASURES, DECISIONS_3) and the error pages (TITLES) pass to ``_()``;
* the texts of the shipped task forms, bpmn/forms/*.schema.json (``form_texts``): the form's title
  and description, every property's title, ``enumNames`` entries and description, which
  app/tasks/forms.py and the case timeline translate.

babel.cfg hands this file to ``extract_label_dicts`` and each shipped form to
``extract_form_texts``, so ``make translations`` always extracts the current values: nothing here
is a list kept by hand. tests/test_translations.py checks that every dict passed to ``_()``
is covered and that the catalog has every extracted text.
"""
from __future__ import annotations

import json
from typing import Iterator, Mapping

from ..attachments.models import STAGES as ATTACHMENT_STAGES
from ..cases import views as case_pages
from ..org.demo import org_labels
from . import errors, formatting, terms


def label_dicts() -> dict[str, Mapping[str, str]]:
    """kind -> {identifier: Chinese label} for every label dict whose values are msgids."""
    return {
        **formatting.LABELS,
        "case_action": case_pages.ACTIONS,
        "task_action": case_pages.TASK_ACTIONS,
        "decision": case_pages.DECISIONS,
        "choice": case_pages.CHOICES,
        "role_unit": case_pages.ROLE_UNITS,
        "actor": case_pages.ACTORS,
        "case_field": case_pages.FIELDS,
        "satisfaction": case_pages.SATISFACTION,
        "measure": case_pages.MEASURES,
        "accountability_decision": case_pages.DECISIONS_3,
        "error_title": {**errors.TITLES, "default": "错误"},  # errors.error_response's fallback title
        "attachment_stage": ATTACHMENT_STAGES,  # attachments/_macros.html: where on the loop a file came in
        **org_labels(),  # 组织架构 and 网格地图: levels, team positions, map figures, the demo organisation
        "co_status": _co_statuses(),  # 联动处置: each co-handler's part on the case page
        "volunteer_figure": _volunteer_figures(),  # /volunteers, the dashboard and the weekly 专报's 志愿服务
        **shipped_terms(),
    }


def _volunteer_figures() -> Mapping[str, str]:
    from ..volunteers.reports import FIGURES, SUMMARY
    return {**FIGURES, **SUMMARY}


def _co_statuses() -> Mapping[str, str]:
    from ..joint.models import CO_STATUSES
    return CO_STATUSES


def shipped_terms() -> dict[str, Mapping[str, str]]:
    """The names that ship as Chinese text rather than identifiers (app/web/terms.py ``term``):
    the demo departments and grids, the categories of the shipped routing table and the element
    names of the shipped BPMN (task names, lanes, the diagram's labels)."""
    from workflows.bundle import read_directory
    from workflows.model import Bundle, hash_files
    from workflows.rules import input_values

    from ..processes.services import SHIPPED_BUNDLE
    from ..seed import DEPARTMENTS, GRIDS
    rules = {name: content for name, content in read_directory(SHIPPED_BUNDLE).items() if name.endswith(".dmn")}
    categories = input_values(Bundle(files=rules, content_hash=hash_files(rules)), "routing", "category")
    grids = {}
    for code, (name, community) in GRIDS.items():
        grids[code], grids[f"{code}.community"] = name, community
    return {
        "department": DEPARTMENTS,
        "grid": grids,
        "category": {c: c for c in categories},
        "bpmn_name": {n: n for n in terms.bpmn_names(sorted(SHIPPED_BUNDLE.glob("*.bpmn")))},
    }


def form_texts(schema: Mapping) -> list[str]:
    """The texts of a task form that are shown translated, in schema order, each once
    (the same texts the designer's 标签翻译 lists: app/processes/labels.py ``form_labels``)."""
    from ..processes.labels import form_labels
    return list(dict.fromkeys(text for _name, _part, text in form_labels(schema)))


# -- Babel extractors (babel.cfg): fileobj, keywords, comment_tags, options -> (lineno, funcname, message, comments)
def extract_label_dicts(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Every value of every label dict, at the line of this file that names its kind."""
    lines = fileobj.read().decode("utf-8").splitlines()
    fallback = next((n for n, line in enumerate(lines, 1) if "**formatting.LABELS" in line), 1)
    for kind, labels in label_dicts().items():
        lineno = next((n for n, line in enumerate(lines, 1) if f'"{kind}":' in line), fallback)
        for text in labels.values():
            yield lineno, None, text, []


def extract_form_texts(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """The translated texts of one form schema, each at the line where it first appears."""
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    for text in form_texts(json.loads(source)):
        quoted = json.dumps(text, ensure_ascii=False)
        lineno = next((n for n, line in enumerate(lines, 1) if quoted in line), 1)
        yield lineno, None, text, []
