"""The form preview: a JSON Schema exactly as the caseworker's task form will show it.

It uses the task pages' own ``build_fields`` and ``render_field`` macro, so what the designer
sees is what the caseworker gets.
"""
from __future__ import annotations

from typing import Mapping

from ..tasks.forms import build_fields


def preview_fields(schema: Mapping) -> list:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    defaults = {name: prop.get("default") for name, prop in properties.items()
                if isinstance(prop, Mapping) and "default" in prop}
    return build_fields(schema, values=defaults)
