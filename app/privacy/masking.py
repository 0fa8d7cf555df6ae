"""Masking personal numbers inside free text (a complaint that quotes a phone or an ID card number)."""
from __future__ import annotations

import re

# Mainland mobile numbers, landlines with area code, and 18-digit resident ID numbers, not inside
# longer digit runs (a case number or an amount is left alone).
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?\d{3,4}(\d{4})(?!\d)")


def mask_free_text(text: str | None) -> str | None:
    if not text:
        return text
    text = _ID_CARD.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1-****\2", text)
