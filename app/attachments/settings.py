"""Attachment settings, read from the Flask config (``BIHUAN_ATTACHMENTS_*`` in the environment).

| key | default | meaning |
|---|---|---|
| ATTACHMENTS_DIR | instance/attachments | the directory store |
| ATTACHMENTS_MAX_BYTES | 20 MB | per file; larger files are refused (413) |
| ATTACHMENTS_MAX_FILES | 10 | per upload |
| ATTACHMENTS_KEEP_EXIF_ROLES | (none) | uploaders whose photos keep EXIF (GPS), e.g. ["grid_worker"] |
| ATTACHMENTS_S3_BUCKET | (unset) | set it to store in S3-compatible object storage instead |
| ATTACHMENTS_S3_ENDPOINT_URL / _PREFIX / _REGION | | MinIO, Ceph or a cloud endpoint; key prefix; region |
"""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


def _roles(value) -> frozenset[str]:
    if not value:
        return frozenset()
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(str(v).strip() for v in value if str(v).strip())


@dataclass(frozen=True)
class AttachmentSettings:
    directory: str
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = 10
    keep_exif_roles: frozenset[str] = frozenset()
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = ""
    s3_region: str | None = None

    @classmethod
    def from_environment(cls) -> "AttachmentSettings":
        """The same settings without a Flask app (the scheduler): ``BIHUAN_ATTACHMENTS_*`` as the app's
        ``from_prefixed_env`` reads them, the directory store defaulting to the app's instance folder."""
        import json
        config = {}
        for key, value in os.environ.items():
            if key.startswith("BIHUAN_ATTACHMENTS_"):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
                config[key[len("BIHUAN_"):]] = value
        instance = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.pardir, "instance")
        return cls.from_config(config, os.path.normpath(instance))

    @classmethod
    def from_config(cls, config, instance_path: str) -> "AttachmentSettings":
        return cls(directory=str(config.get("ATTACHMENTS_DIR") or os.path.join(instance_path, "attachments")),
                   max_bytes=int(config.get("ATTACHMENTS_MAX_BYTES") or DEFAULT_MAX_BYTES),
                   max_files=int(config.get("ATTACHMENTS_MAX_FILES") or 10),
                   keep_exif_roles=_roles(config.get("ATTACHMENTS_KEEP_EXIF_ROLES")),
                   s3_bucket=config.get("ATTACHMENTS_S3_BUCKET") or None,
                   s3_endpoint_url=config.get("ATTACHMENTS_S3_ENDPOINT_URL") or None,
                   s3_prefix=str(config.get("ATTACHMENTS_S3_PREFIX") or ""),
                   s3_region=config.get("ATTACHMENTS_S3_REGION") or None)
