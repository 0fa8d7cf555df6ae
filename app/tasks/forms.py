"""Task forms from the process's JSON Schemas: fields to render, form data to typed JSON, errors in Chinese.

The schema (``bpmn/forms/*.schema.json``) is the one source: what a field looks like follows from
its type, ``enum``/``enumNames``, ``maxLength`` and name; the engine validates the submitted data
against the same schema, so the server stays the authority and this module only presents.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from flask_babel import gettext as _

from ..web.terms import form_text

RADIO_MAX = 4          # enums with this many options or fewer are radios, longer ones a select
TEXTAREA_OVER = 200    # strings allowed to be longer than this get a textarea
TRUE_VALUES = ("true", "on", "1", "yes")


@dataclass
class Option:
    value: Any
    label: str


@dataclass
class Field:
    name: str
    label: str
    widget: str                      # select | radios | checkbox | textarea | number | text
    required: bool = False
    help: str = ""
    options: list[Option] = field(default_factory=list)
    value: Any = None
    error: str = ""
    attrs: dict = field(default_factory=dict)   # maxlength, min, max, step
    when: list[tuple[str, Any]] = field(default_factory=list)  # required when (field, value)
    toggles: bool = False            # hide unless one of ``when`` holds (enum-controlled conditions)


def _t(text: Any, translations: Mapping[str, str] | None = None) -> Any:
    """A schema text (title, enumNames entry, description) in the UI language: the process version's
    own English (``translations``), else the catalog's (the shipped forms' texts are msgids,
    app/web/label_messages.py), else as written."""
    return form_text(text, translations)


def _types(prop: Mapping) -> list[str]:
    kind = prop.get("type", "string")
    return list(kind) if isinstance(kind, list) else [kind]


def _main_type(prop: Mapping) -> str:
    return next((t for t in _types(prop) if t != "null"), "string")


def conditions(schema: Mapping) -> dict[str, list[tuple[str, Any]]]:
    """field -> [(controlling field, value)] from ``if``/``then`` required rules (top level and allOf)."""
    result: dict[str, list[tuple[str, Any]]] = {}
    for rule in [schema, *schema.get("allOf", [])]:
        when = rule.get("if", {}).get("properties", {})
        required = rule.get("then", {}).get("required", [])
        for controller, test in when.items():
            if "const" not in test:
                continue
            for name in required:
                result.setdefault(name, []).append((controller, test["const"]))
    return result


def _widget(name: str, prop: Mapping) -> str:
    kind = _main_type(prop)
    if "enum" in prop:
        return "radios" if len(prop["enum"]) <= RADIO_MAX else "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if (prop.get("maxLength") or 0) > TEXTAREA_OVER or name.endswith("_text") or "reason" in name or "note" in name:
        return "textarea"
    return "text"


def initial_values(schema: Mapping, known: Mapping[str, Any] | None = None) -> dict:
    """Schema defaults, then values the case already has (category, urgent ...) for the same names."""
    values = {name: prop["default"] for name, prop in schema.get("properties", {}).items() if "default" in prop}
    for name, value in (known or {}).items():
        if name in schema.get("properties", {}) and value not in (None, ""):
            values[name] = value
    return values


def build_fields(schema: Mapping, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
                 departments: Iterable[tuple[str, str]] = (),
                 translations: Mapping[str, str] | None = None) -> list[Field]:
    """One Field per schema property, in the schema's order; texts in the UI's language, with the
    English of the process version's own labels (``Bundle.labels``) when given."""
    values, errors = values or {}, errors or {}
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    when = conditions(schema)
    departments = list(departments)
    fields = []
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            prop = {}  # a boolean sub-schema (true/false) is valid JSON Schema; render it as plain text
        value = values.get(name)
        if isinstance(value, list):  # an array field is typed as one comma-separated line
            value = ", ".join(str(v) for v in value)
        f = Field(name=name, label=_t(prop.get("title"), translations) or name, widget=_widget(name, prop),
                  required=name in required, help=_t(prop.get("description", ""), translations), value=value,
                  error=errors.get(name, ""), when=when.get(name, []))
        if "enum" in prop:
            labels = ([_t(n, translations) for n in prop["enumNames"]] if prop.get("enumNames")
                      else [str(v) for v in prop["enum"]])
            f.options = [Option(v, label) for v, label in zip(prop["enum"], labels)]
        if name == "department" and departments:
            f.widget = "select"
            empty = _("请选择承办部门") if name in required else _("按派单规则")
            f.options = [Option("", empty)] + [Option(code, label) for code, label in departments]
        if f.widget in ("text", "textarea") and prop.get("maxLength"):
            f.attrs["maxlength"] = prop["maxLength"]
        if f.widget == "number":
            f.attrs.update({k: prop[s] for k, s in (("min", "minimum"), ("max", "maximum")) if s in prop})
            f.attrs["step"] = 1 if _main_type(prop) == "integer" else "any"
        if f.when and not f.required:
            # Only conditions on a choice hide a field; a boolean condition just makes a field mandatory.
            f.toggles = all("enum" in properties.get(c, {}) for c, _v in f.when)
            f.help = f.help or _describe_when(f.when, properties, translations)
        fields.append(f)
    return fields


def _describe_when(when: list[tuple[str, Any]], properties: Mapping, translations=None) -> str:
    parts = []
    for controller, value in when:
        prop = properties.get(controller, {})
        label = _t(prop.get("title"), translations) or controller
        if "enum" in prop and value in prop["enum"]:
            index = prop["enum"].index(value)
            shown = _t(prop["enumNames"][index], translations) if prop.get("enumNames") else prop["enum"][index]
        elif isinstance(value, bool):
            shown = _("是") if value else _("否")
        else:
            shown = str(value)
        parts.append(_("「%(field)s」为「%(value)s」时必填", field=label, value=shown))
    return "；".join(parts)


def parse(schema: Mapping, form: Mapping[str, str]) -> dict:
    """Typed JSON from submitted form fields: booleans, integers, empty → omitted, unknown names ignored.

    A value that does not convert (``"abc"`` for an integer) is passed on as text, so the schema
    validation reports it at its field instead of this function guessing.
    """
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        kind = _main_type(prop)
        raw = form.get(name)
        if kind == "boolean":
            # An unchecked checkbox is not submitted at all: absent means false.
            data[name] = (raw or "").strip().lower() in TRUE_VALUES
            continue
        text = (raw or "").strip()
        if text == "":
            continue
        if kind == "array":
            # A list of codes typed in one field (联动处置's 协办单位): comma, 、 or space separated.
            data[name] = [part for part in re.split(r"[\s,，、]+", text) if part]
            continue
        if kind == "integer":
            # Bounded digits: Python refuses to convert very long digit strings (a 500 otherwise); the
            # schema then reports the field as not an integer.
            data[name] = int(text) if re.fullmatch(r"[+-]?\d{1,18}", text) else text
        elif kind == "number":
            try:
                number = float(text) if len(text) <= 40 else math.inf
            except ValueError:
                number = None
            if number is None or not math.isfinite(number):
                data[name] = text
            else:
                data[name] = int(number) if number.is_integer() and "." not in text else number
        else:
            data[name] = text
    return data


_MESSAGES = (
    (re.compile(r"is a required property$"), lambda p, m: _("必填")),
    (re.compile(r"should be non-empty$"), lambda p, m: _("必填")),
    (re.compile(r"is too short$"), lambda p, m: _("至少 %(n)s 个字", n=p.get("minLength", 1))),
    (re.compile(r"is too long$"), lambda p, m: _("最多 %(n)s 个字", n=p.get("maxLength", ""))),
    (re.compile(r"does not match"), lambda p, m: _("格式不正确")),
    (re.compile(r"is not one of"), lambda p, m: _("请选择有效的选项")),
    (re.compile(r"is not of type '(integer|number)'"), lambda p, m: _("请填写数字")),
    (re.compile(r"is not of type"), lambda p, m: _("格式不正确")),
    (re.compile(r"less than the minimum of (\S+)"), lambda p, m: _("不能小于 %(n)s", n=m.group(1))),
    (re.compile(r"greater than the maximum of (\S+)"), lambda p, m: _("不能大于 %(n)s", n=m.group(1))),
    (re.compile(r"^unknown department"), lambda p, m: _("承办部门不存在")),
    (re.compile(r"^unknown case"), lambda p, m: _("原工单号不存在")),
)


def humanize(schema: Mapping, fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Invalid.fields [(field, message)] → {field: Chinese message}; '' holds what belongs to no field."""
    properties = schema.get("properties", {})
    result: dict[str, str] = {}
    for name, message in fields:
        key = name if name in properties else ""
        prop = properties.get(name, {})
        text = message
        for pattern, render in _MESSAGES:
            match = pattern.search(message)
            if match:
                text = render(prop, match)
                break
        result[key] = f"{result[key]}；{text}" if key in result else text
    return result
