"""Deploying bundles as process versions and finding the parsed bundle of a version.

Version numbers are ``max + 1``: two deploys committing at once (the CLI and a designer, two
first registrations on a fresh install) would both take the same number. ``deploy`` inserts the
row in a savepoint; when a concurrent deploy took the number (or stored the same files) first, the
insert fails on the unique constraint, only the savepoint is rolled back, and the number is read
again — the caller's unit of work goes on. On SQLite writers already queue at BEGIN IMMEDIATE; on
PostgreSQL the losing insert waits for the winner's commit and then sees its row.
"""
from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.bundle import BundleInvalid, load_bundle, read_directory
from workflows.clock import utcnow
from workflows.model import Bundle

from ..auth.models import ROLES
from ..errors import Conflict, Invalid
from .models import ProcessVersion
from .problem_text import tr as _

SHIPPED_BUNDLE = Path(__file__).resolve().parents[2] / "bpmn"
LIFECYCLE_PROCESS = "case_lifecycle"
DEPLOY_ATTEMPTS = 5  # each retry follows another deploy's commit; more in a row means something is wrong


class BundleCache:
    """Parsed bundles by version id; parsing happens once per process per version."""

    def __init__(self):
        self._lock = threading.Lock()
        self._bundles: dict[int, Bundle] = {}

    def get(self, session: Session, version_id: int) -> Bundle:
        bundle = self._bundles.get(version_id)
        if bundle is None:
            row = session.get(ProcessVersion, version_id)
            files = {name: text.encode("utf-8") for name, text in row.files.items()}
            bundle = load_bundle(files, known_roles=ROLES)
            with self._lock:
                self._bundles[version_id] = bundle
        return bundle


def latest_version(session: Session) -> ProcessVersion | None:
    return session.scalars(select(ProcessVersion).order_by(ProcessVersion.version.desc()).limit(1)).first()


def deploy(session: Session, files: dict[str, bytes], actor: str = "", note: str = "") -> tuple[ProcessVersion, bool]:
    """Store a validated bundle as the next version, in the caller's unit of work; returns
    (version, created). The same files deployed before (or by a concurrent deploy) give that
    version and False. Conflict only when the number was taken ``DEPLOY_ATTEMPTS`` times in a row."""
    try:
        bundle = load_bundle(files, known_roles=ROLES)
    except BundleInvalid as exc:
        raise Invalid(f"the process bundle is invalid: {exc}") from None
    if LIFECYCLE_PROCESS not in bundle.specs:
        raise Invalid(f"the process bundle has no '{LIFECYCLE_PROCESS}' process")
    stored = {k: v.decode("utf-8") for k, v in files.items()}
    for _attempt in range(DEPLOY_ATTEMPTS):
        existing = session.scalars(select(ProcessVersion)
                                   .where(ProcessVersion.content_hash == bundle.content_hash)).first()
        if existing is not None:
            return existing, False
        number = (session.scalar(select(func.max(ProcessVersion.version))) or 0) + 1
        row = ProcessVersion(version=number, content_hash=bundle.content_hash, files=stored,
                             deployed_at=utcnow(), deployed_by=actor, note=note)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # a concurrent deploy committed this number (or these files) first: read again
        return row, True
    raise Conflict(_("其他人正在同时发布流程版本，请稍后重试。"))


def ensure_shipped_version(session: Session) -> ProcessVersion:
    """On a fresh install the files in bpmn/ become version 1."""
    row = latest_version(session)
    if row is None:
        row, _ = deploy(session, read_directory(SHIPPED_BUNDLE), actor="system", note="shipped bpmn/")
    return row
