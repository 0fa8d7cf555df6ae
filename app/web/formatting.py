"""Jinja filters: Shanghai local time as YYYY-MM-DD HH:mm, domain labels, due-time urgency classes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Flask
from flask_babel import gettext

from workflows.clock import utcnow
from workflows.workdays import SHANGHAI

from ..audit.services import PERSONAL_READS
from ..auth.models import ROLES
from ..privacy.masking import mask_free_text
from ..cases.models import CHANNELS, DIFFICULTIES, STATUSES, TYPES
from ..supervision.models import ITEM_STATUSES, REASONS, STEPS, TIERS

LABELS = {"channel": CHANNELS, "type": TYPES, "difficulty": DIFFICULTIES, "status": STATUSES, "role": ROLES,
          "tier": TIERS, "reason": REASONS, "item_status": ITEM_STATUSES, "personal_read": PERSONAL_READS,
          "step": STEPS}


def local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(SHANGHAI).strftime(fmt)


def label(value, kind: str) -> str:
    """The Chinese domain word for a stored identifier, translated when the UI is in English."""
    if value is None or value == "":
        return ""
    text = LABELS.get(kind, {}).get(value)
    return gettext(text) if text else str(value)


def personal_masked(text):
    """Free text as this user may see it: phone and ID-card numbers a resident wrote into a
    complaint are masked for every role that may not unmask a reporter (viewer, handlers ...)."""
    from flask_login import current_user
    if not text or getattr(current_user, "may_reveal_reporter", False):
        return text
    return mask_free_text(text)


def due_class(due, now: datetime | None = None) -> str:
    """'overdue' (red) once passed, 'due-soon' (amber) when due today or tomorrow, Shanghai time."""
    if due is None:
        return ""
    if isinstance(due, str):
        due = datetime.fromisoformat(due)
    now = now or utcnow()
    if due <= now:
        return "overdue"
    end_of_tomorrow = (now.astimezone(SHANGHAI) + timedelta(days=2)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    return "due-soon" if due < end_of_tomorrow else ""


def register(app: Flask) -> None:
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["pii"] = personal_masked
    app.jinja_env.filters["due_class"] = due_class
