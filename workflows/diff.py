"""Element-level differences between two bundles (BPMN, DMN and JSON Schema forms). No database."""
from __future__ import annotations

from typing import Mapping


def diff_bundles(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[dict]:
    """``[{file, element_id, element_type, name, change, details}]`` from ``old`` to ``new``."""
    raise NotImplementedError
