"""Deployed process versions: the diagrams, tables and forms, stored once each."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
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
    note: Mapped[str] = mapped_column(String(500), default="")


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
