"""The form preview: a JSON Schema as the caseworker's task form will show it.

The task pages turn schemas into fields with ``app.tasks.forms.build_fields``; the preview uses
the same function so designers see what caseworkers get. While that module is absent (it is
optional for the designer) a plain fallback shows one field per property.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

try:
    from ..tasks.forms import build_fields
except ImportError:  # the task pages are not installed
    build_fields = None


@dataclass
class Option:
    value: Any
    label: str


@dataclass
class Field:
    name: str
    label: str
    widget: str
    required: bool = False
    help: str = ""
    options: list = field(default_factory=list)
    value: Any = None
    attrs: dict = field(default_factory=dict)


def _fallback(schema: Mapping) -> list[Field]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = set(r for r in schema.get("required", []) if isinstance(r, str)) \
        if isinstance(schema.get("required"), list) else set()
    fields = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        kind = prop.get("type", "string")
        kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else str(kind)
        widget = {"boolean": "checkbox", "integer": "number", "number": "number"}.get(kind, "text")
        f = Field(name, str(prop.get("title") or name), widget, name in required, str(prop.get("description", "")),
                  value=prop.get("default"))
        if isinstance(prop.get("enum"), list):
            labels = prop.get("enumNames") if isinstance(prop.get("enumNames"), list) else [str(v) for v in prop["enum"]]
            f.options = [Option(v, str(label)) for v, label in zip(prop["enum"], labels)]
            f.widget = "radios" if len(f.options) <= 4 else "select"
        elif kind == "string" and isinstance(prop.get("maxLength"), int) and prop["maxLength"] > 200:
            f.widget = "textarea"
        fields.append(f)
    return fields


def preview_fields(schema: Mapping) -> list:
    properties = schema.get("properties")
    if build_fields is not None and isinstance(properties, Mapping):
        try:
            defaults = {name: prop.get("default") for name, prop in properties.items()
                        if isinstance(prop, Mapping) and "default" in prop}
            return build_fields(schema, values=defaults)
        except (TypeError, ValueError, AttributeError, KeyError):
            pass  # a schema valid as JSON Schema but odd for the task form: still show something
    return _fallback(schema)


SHARED_MACRO = "tasks/_form.html"   # the task pages' render_field(f), when they are installed
SHARED_CSS = "css/tasks.css"


def shared_form_templates() -> dict:
    """Which of the task pages' template and stylesheet exist, so the preview can use them."""
    from flask import current_app
    from jinja2 import TemplateNotFound
    try:
        current_app.jinja_env.get_template(SHARED_MACRO)
        macro = SHARED_MACRO
    except TemplateNotFound:
        macro = None
    css = SHARED_CSS if current_app.static_folder and \
        os.path.exists(os.path.join(current_app.static_folder, SHARED_CSS)) else None
    return {"shared_macro": macro, "shared_css": css}
