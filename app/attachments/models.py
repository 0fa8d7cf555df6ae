"""Attachments (附件): files on a case, added at intake, on patrol, or with a task's completion.

The bytes live in the configured storage under their sha256 (app/attachments/storage.py); a row
here says which case a file belongs to, at which step, who added it and whether it came from a
resident (whose files are audited on every download).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# Where on the loop a file was added: intake and patrol, or the task whose completion carried it.
STAGES = {"intake": "受理", "patrol": "网格上报", "handle": "答复", "verify": "核实",
          "urge": "催办", "interview_or_notice": "约谈/通报", "accountability": "追责", "verify_close": "核实销号"}
KINDS = {"image": "图片", "pdf": "PDF", "docx": "Word", "xlsx": "Excel", "doc": "Word", "xls": "Excel"}


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # the stored (re-encoded) content
    thumb_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # the clean-up looks it up
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    from_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    exif_kept: Mapped[bool] = mapped_column(Boolean, default=False)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(50))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
