"""Where attachment bytes live: a directory (default) or S3-compatible object storage.

Both store a blob under its sha256, so the same photo sent twice is stored once and a key never
points at other content. Writes are idempotent, which is why blobs are written *before* the
action's transaction: a rolled-back action leaves at most an unreferenced blob, never a row
pointing at nothing.

    storage = storage_from_settings(settings)
    storage.put(sha, data); storage.get(sha); storage.exists(sha)
    storage.keys(older_than=instant); storage.delete(sha)   # the daily clean-up (cleanup.py)

A ``put`` of content already stored refreshes its age: the clean-up deletes only blobs older than
its grace period that no row names, and this one is about to be named by the action under way.
"""
from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Iterator, Protocol

from ..errors import NotFound

_KEY = re.compile(r"^[0-9a-f]{64}$")


def _check(key: str) -> str:
    # Keys are hex digests only: nothing a caller passes can name a path outside the store.
    if not _KEY.match(key or ""):
        raise ValueError(f"not a sha256 key: {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, older_than: datetime) -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...


class DirectoryStorage:
    """``root/ab/cd/abcd…``: two levels of fan-out keep directories small at millions of files."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        key = _check(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            os.utime(path)  # named again now: not the clean-up's, however old the first copy is
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file, two writers of one key agree.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"attachment content {key[:12]}… is missing from the store") from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def keys(self, older_than: datetime) -> Iterator[str]:
        """The stored blobs last written before ``older_than``; a crashed writer's ``.tmp-`` file of
        that age is removed on the way (no key names it)."""
        limit = older_than.timestamp()
        for path in self.root.glob("??/??/*"):
            try:
                old = path.stat().st_mtime < limit
            except FileNotFoundError:
                continue
            if old and _KEY.match(path.name):
                yield path.name
            elif old and path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Any S3-compatible store (MinIO, Ceph, a cloud bucket) through boto3. Credentials come from
    boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance role),
    so no secret sits in Bihuan's own configuration."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, prefix: str = "",
                 region: str | None = None, client=None):
        import boto3  # only deployments that configure S3 need it loaded
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)

    def _key(self, key: str) -> str:
        key = _check(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        if self.exists(key):
            # named again now: copied onto itself, its LastModified is today (see the clean-up)
            self.client.copy_object(Bucket=self.bucket, Key=self._key(key), MetadataDirective="REPLACE",
                                    CopySource={"Bucket": self.bucket, "Key": self._key(key)})
            return
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"attachment content {key[:12]}… is missing from the store") from None
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise


    def keys(self, older_than: datetime) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", ()):
                name = item["Key"][len(start):]
                if _KEY.match(name) and item["LastModified"] < older_than:
                    yield name

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def storage_from_settings(settings) -> Storage:
    if settings.s3_bucket:
        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix=settings.s3_prefix,
                         region=settings.s3_region)
    return DirectoryStorage(settings.directory)
