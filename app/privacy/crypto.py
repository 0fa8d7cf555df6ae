"""AES-GCM for personal fields, and an HMAC blind index so that exact search never needs plaintext.

Keys come from the environment:

* ``BIHUAN_DATA_KEYS`` — ``id:base64key[,id:base64key...]``, 256-bit keys, the **first** one
  encrypts; the others still decrypt (key rotation: add a new key in front, run
  ``bihuan keys rotate``, then drop the old one);
* ``BIHUAN_INDEX_KEY`` — base64, the HMAC key of the blind index. It is not rotated with the data
  keys: every index would have to be recomputed from plaintext (``bihuan keys reindex`` does that).

When neither is set (a laptop, ``make run``), keys are generated once into
``instance/data_keys.json`` (mode 600), like the session secret. A database file or a dump alone
then reveals no phone number; the key file must be kept apart from the backups.

A value is stored as ``enc1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``; the column name is bound in
as associated data, so a ciphertext copied into another column does not decrypt. A stored value
without the prefix is legacy plaintext: it is read as it is and encrypted by ``keys rotate``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text, TypeDecorator

from ..errors import BihuanError

PREFIX = "enc1"
KEYFILE = "data_keys.json"


class KeyError_(BihuanError):
    """The keys are missing, malformed, or do not open a stored value."""


@dataclass
class Keyring:
    keys: dict[str, bytes]       # id -> 32-byte key; insertion order: the first one encrypts
    index_key: bytes

    @property
    def current(self) -> str:
        return next(iter(self.keys))

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, context: str) -> str:
        if not is_encrypted(stored):
            return stored  # legacy plaintext, until `bihuan keys rotate` encrypts it
        _, key_id, payload = stored.split(":", 2)
        key = self.keys.get(key_id)
        if key is None:
            raise KeyError_(f"data key '{key_id}' is not configured (BIHUAN_DATA_KEYS)")
        raw = base64.b64decode(payload)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise KeyError_(f"a value encrypted with key '{key_id}' does not decrypt (wrong key or altered)") from None

    def index(self, value: str | None) -> str | None:
        normalized = normalize_phone(value)
        if not normalized:
            return None
        return hmac.new(self.index_key, normalized.encode(), hashlib.sha256).hexdigest()


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(PREFIX + ":")


def key_id_of(stored: str | None) -> str | None:
    return stored.split(":", 2)[1] if is_encrypted(stored) else None


def normalize_phone(value: str | None) -> str:
    """What makes two numbers the same: the digits (and a leading +), without spaces or dashes."""
    if not value:
        return ""
    value = value.strip()
    return ("+" if value.startswith("+") else "") + re.sub(r"\D", "", value)


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyError_(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise KeyError_(f"{what} must be 32 bytes (256 bits), base64-encoded")
    return raw


def parse_data_keys(text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key_id, sep, encoded = part.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", key_id):
            raise KeyError_("BIHUAN_DATA_KEYS must look like 'id:base64key,id2:base64key'")
        keys[key_id] = _decode_key(encoded, f"data key '{key_id}'")
    if not keys:
        raise KeyError_("BIHUAN_DATA_KEYS names no key")
    return keys


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _from_file(instance_dir: Path) -> tuple[str, str]:
    path = instance_dir / KEYFILE
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        content = {"data_keys": f"k1:{new_key()}", "index_key": new_key()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(content, handle)
    content = json.loads(path.read_text())
    return content["data_keys"], content["index_key"]


def keyring_from_environment(instance_dir: str | Path = "instance") -> Keyring:
    data, index = os.environ.get("BIHUAN_DATA_KEYS"), os.environ.get("BIHUAN_INDEX_KEY")
    if not data or not index:
        file_data, file_index = _from_file(Path(instance_dir))
        data, index = data or file_data, index or file_index
    return Keyring(parse_data_keys(data), _decode_key(index, "BIHUAN_INDEX_KEY"))


_keyring: Keyring | None = None


def configure(keyring: Keyring) -> None:
    global _keyring
    _keyring = keyring


def keyring() -> Keyring:
    if _keyring is None:
        configure(keyring_from_environment())
    return _keyring


def blind_index(value: str | None) -> str | None:
    return keyring().index(value)


class EncryptedText(TypeDecorator):
    """A text column stored encrypted; reads and writes see plaintext. ``context`` names the column."""
    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return keyring().encrypt(str(value), self.context)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return keyring().decrypt(value, self.context)
