"""Deployed process versions: the diagrams, tables and forms, stored once each."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class ProcessVersion(Base):
    __tablename__ = "process_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    files: Mapped[dict] = mapped_column(JSON)  # relative path -> text
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(String(500), default="")  # the deploy reason (发布理由)
    # The evidence the designer deployed with: the last non-stale what-if run of the draft, and its
    # summary copied here so the version history keeps it even if runs are cleaned up (migration 0039).
    whatif_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: runs may be pruned
    whatif_summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ProcessDraft(Base):
    """The one working copy designers edit before deploying it as the next version.

    ``revision`` grows with every save; a save names the revision it was based on, so two
    designers saving at once cannot silently overwrite each other (the second one conflicts).
    """
    __tablename__ = "process_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"), nullable=True)
    files: Mapped[dict] = mapped_column(JSON)  # relative path -> text, the whole bundle
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(50), default="")

    # Every UPDATE is "WHERE revision = <read value>" and bumps it: two saves racing in parallel
    # transactions cannot both win (the loser gets StaleDataError, reported as a conflict).
    __mapper_args__ = {"version_id_col": revision}


class WhatifRun(Base):
    """One what-if replay (分析影响) of the draft against past cases (app/processes/whatif_runs.py).

    ``request_key`` names the request (draft revision + range + filters); ``active_key`` holds the
    same value only while the run is queued or running and is UNIQUE, so two designers starting the
    same replay at once get one row: the second insert fails and the second designer is shown the
    first run. Finished runs set it to NULL (NULLs never collide) and stay reusable by
    ``request_key``. ``heartbeat`` is touched by the worker; a running row with an old heartbeat
    lost its worker (a restart) and is shown as failed.
    """
    __tablename__ = "whatif_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(50), default="draft")  # what was replayed: the draft
    draft_revision: Mapped[int] = mapped_column(Integer, default=0)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"), nullable=True)
    draft_hash: Mapped[str] = mapped_column(String(64), default="")
    range_from: Mapped[str] = mapped_column(String(10))
    range_to: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    request_key: Mapped[str] = mapped_column(String(64), index=True)
    active_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued|running|done|partial|failed|stale
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
