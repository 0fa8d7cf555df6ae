"""Taking files in and handing them out.

    service = attachment_service(app)                      # one per app, from its config
    prepared = service.prepare(uploads, roles=user.roles)   # check, clean, store blobs; Invalid if refused
    core.cases.register(..., attach=service.linker(prepared, stage="intake", from_resident=True))
    attachment, data = service.download(core, attachment_id, user, thumb=False)

``prepare`` runs before the action and may refuse it; the rows are written by ``linker`` inside the
action's own transaction (register or complete_task), so a case or a task completion and its files
commit together. A refused file refuses the whole action: nothing is registered half-documented.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePath

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..cases.models import AuditEntry, Case
from ..cases.visibility import can_view_case
from ..errors import Forbidden, Invalid, NotFound
from .content import process_image, sniff
from .models import Attachment
from .settings import AttachmentSettings
from .storage import Storage, storage_from_settings


class TooLarge(Invalid):
    http_status = 413


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: object  # anything with .read(n)


@dataclass(frozen=True)
class Prepared:
    sha256: str
    thumb_sha256: str | None
    filename: str
    kind: str
    mime: str
    size: int
    exif_kept: bool


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy: float | None = None

    @classmethod
    def parse(cls, latitude, longitude, accuracy=None) -> "Location | None":
        """From the browser's geolocation fields; None when it gave none, Invalid when it is nonsense."""
        if not latitude and not longitude:
            return None
        try:
            lat, lon = float(latitude), float(longitude)
            acc = float(accuracy) if accuracy not in (None, "") else None
        except (TypeError, ValueError):
            raise Invalid(_("位置信息无效"), fields=[("location", _("位置信息无效"))]) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Invalid(_("位置信息无效"), fields=[("location", _("位置信息无效"))])
        return cls(round(lat, 6), round(lon, 6), acc)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clean_filename(filename: str | None, ext: str) -> str:
    """The name the uploader gave, without any path, with the extension of what the file *is*."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f/]", "", name).strip(" .") or "file"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem[:150]}.{ext}"


class AttachmentService:
    def __init__(self, settings: AttachmentSettings, storage: Storage | None = None):
        self.settings = settings
        self.storage = storage or storage_from_settings(settings)

    # -- taking files in ----------------------------------------------------------------------
    def prepare(self, uploads: list[Upload], *, roles=()) -> list[Prepared]:
        uploads = [u for u in uploads if u.filename]  # an empty <input type=file> sends one nameless part
        if len(uploads) > self.settings.max_files:
            message = _("一次最多上传 %(n)s 个文件", n=self.settings.max_files)
            raise Invalid(message, fields=[("attachments", message)])
        keep_exif = bool(set(roles) & self.settings.keep_exif_roles)
        # Everything is checked before anything is stored: one bad file refuses the upload.
        checked = [self._check(u, keep_exif) for u in uploads]
        for item, blobs in checked:
            for sha, data in blobs:
                self.storage.put(sha, data)
        return [item for item, _blobs in checked]

    def _check(self, upload: Upload, keep_exif: bool) -> tuple[Prepared, list[tuple[str, bytes]]]:
        limit = self.settings.max_bytes
        data = upload.stream.read(limit + 1)  # never more than one byte past the limit is read
        if len(data) > limit:
            message = _("文件“%(name)s”超过 %(mb)s MB 的上限", name=upload.filename, mb=_mb(limit))
            raise TooLarge(message, fields=[("attachments", message)])
        if not data:
            message = _("文件“%(name)s”是空的", name=upload.filename)
            raise Invalid(message, fields=[("attachments", message)])
        sniffed = sniff(data, upload.filename)
        thumb_sha, exif_kept, blobs = None, False, []
        if sniffed.kind == "image":
            image = process_image(data, sniffed, upload.filename, keep_exif)
            data, exif_kept = image.data, image.exif_kept
            thumb_sha = _sha(image.thumbnail)
            blobs.append((thumb_sha, image.thumbnail))
        sha = _sha(data)
        blobs.append((sha, data))
        return Prepared(sha, thumb_sha, clean_filename(upload.filename, sniffed.ext), sniffed.kind, sniffed.mime,
                        len(data), exif_kept), blobs

    def linker(self, prepared: list[Prepared], *, stage: str, from_resident: bool = False,
               location: Location | None = None, source: str = "web"):
        """The hook ``CaseService.register`` / ``complete_task`` call inside their transaction."""
        def attach(session: Session, case: Case, actor: str, task=None) -> None:
            link(session, case, prepared, actor=actor, stage=stage, task_id=task.id if task else None,
                 from_resident=from_resident, location=location, source=source)
        return attach if prepared or location else None

    # -- handing files out ---------------------------------------------------------------------
    def download(self, core, attachment_id: int, user, *, thumb: bool = False,
                 source: str = "web") -> tuple[Attachment, bytes]:
        """The file (or its thumbnail) for a user who may see its case. A resident's file is handed
        out only once the row saying who read it is committed."""
        with core.db.read() as session:
            row = session.get(Attachment, attachment_id)
            if row is None:
                raise NotFound(_("附件不存在"))
            if not can_view_case(session, user, session.get(Case, row.case_id)):
                raise Forbidden(_("您无权查看此工单的附件"))
        key = row.thumb_sha256 if thumb else row.sha256
        if key is None:
            raise NotFound(_("此附件没有缩略图"))
        data = self.storage.get(key)
        if row.from_resident:
            # A write transaction only for these: looking at a department's photo takes no lock.
            with core.db.unit_of_work() as session:
                session.add(AuditEntry(at=utcnow(), actor=user.username, case_id=row.case_id,
                                       action="attachment_download", source=source,
                                       changes={"attachment": row.id, "filename": row.filename,
                                                "thumbnail": thumb}))
        return row, data


def link(session: Session, case: Case, prepared: list[Prepared], *, actor: str, stage: str,
         task_id: str | None = None, from_resident: bool = False, location: Location | None = None,
         source: str = "web") -> list[Attachment]:
    now = utcnow()
    rows = [Attachment(case_id=case.id, sha256=p.sha256, thumb_sha256=p.thumb_sha256, filename=p.filename,
                       kind=p.kind, mime=p.mime, size=p.size, stage=stage, task_id=task_id,
                       from_resident=from_resident, exif_kept=p.exif_kept,
                       latitude=location.latitude if location else None,
                       longitude=location.longitude if location else None,
                       uploaded_by=actor, uploaded_at=now) for p in prepared]
    session.add_all(rows)
    changes: dict = {"stage": stage, "files": [p.filename for p in prepared]}
    if location:
        changes["location"] = {"latitude": location.latitude, "longitude": location.longitude,
                               "accuracy": location.accuracy}
    # A patrol report without a photo still records where the grid worker stood.
    session.add(AuditEntry(at=now, actor=actor, case_id=case.id, action="attach" if prepared else "location",
                           task_id=task_id, changes=changes, source=source))
    return rows


def case_attachments(session: Session, case_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id)
                                .order_by(Attachment.uploaded_at, Attachment.id)))


def _mb(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:g}" if value >= 1 else f"{value:.2f}"


def attachment_service(app) -> AttachmentService:
    """The app's service, built once from its config (tests build apps with their own)."""
    service = app.extensions.get("bihuan.attachments")
    if service is None:
        service = AttachmentService(AttachmentSettings.from_config(app.config, app.instance_path))
        app.extensions["bihuan.attachments"] = service
    return service
