"""What changed between two deployed versions, or between the draft and the version it is based on.

The comparison itself is pure and lives in ``workflows.diff``; this module only fetches the files.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from workflows.diff import diff_bundles

from .drafts import get_draft, get_version
from .models import ProcessVersion
from .services import latest_version


def _encode(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode("utf-8") for path, text in files.items()}


def diff_versions(session: Session, a: int, b: int) -> list[dict]:
    """Changes from version number ``a`` to version number ``b`` (NotFound for an unknown one).

    One dict per changed element: ``{file, element_id, element_type, name, change, details}`` with
    ``change`` one of 'added' | 'removed' | 'changed' | 'layout' (see ``workflows.diff``)."""
    return diff_bundles(_encode(get_version(session, int(a)).files), _encode(get_version(session, int(b)).files))


def diff_draft(session: Session) -> list[dict]:
    """Changes in the draft against the version it is based on (empty when there is no draft)."""
    draft = get_draft(session)
    if draft is None:
        return []
    base = session.get(ProcessVersion, draft.base_version_id) if draft.base_version_id else latest_version(session)
    return diff_bundles(_encode(base.files) if base else {}, _encode(draft.files))
