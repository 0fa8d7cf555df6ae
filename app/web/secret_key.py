"""The key that signs sessions and CSRF tokens: configured, or generated once per install.

Anyone who knows the key can forge a session for any user, so it must never be a value that is
in the source. ``BIHUAN_SECRET_KEY`` wins when it is set; otherwise the first start writes a random
key to ``instance/secret_key`` (mode 600) and every later start, and every other worker of the same
install, reads that file, so sessions survive restarts and are valid on every worker.

In production mode (``BIHUAN_ENV=production``, which ``app.wsgi`` sets for gunicorn) the key must come
from ``BIHUAN_SECRET_KEY``: the web workers may run on several machines, and a key generated into
one machine's instance folder would sign sessions the others reject.

Outside debug and testing, a key that is known (the old built-in default), empty or short refuses
to start with one clear error instead of serving forgeable sessions.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from ..errors import Invalid

FILE_NAME = "secret_key"
MIN_LENGTH = 16
# Keys that have been in the source or its examples: whoever reads them can sign a session.
KNOWN_KEYS = frozenset({"dev-only-change-me", "dev", "secret", "changeme", "change-me", "secret-key"})
HOW_TO_FIX = ("unset BIHUAN_SECRET_KEY to use the key generated in instance/secret_key, or set it to a random "
              "value such as the output of: python -c 'import secrets; print(secrets.token_hex(32))'")


def configure_secret_key(app: Flask) -> None:
    """Set ``SECRET_KEY`` from the configuration or the instance folder; refuse a weak one."""
    from ..observability.setup import production_mode
    key = app.config.get("SECRET_KEY")
    if key is None and production_mode(app):
        raise Invalid("refusing to start in production mode: BIHUAN_SECRET_KEY is not set; set it to the same "
                      "random value on every machine, e.g. the output of: "
                      "python -c 'import secrets; print(secrets.token_hex(32))'")
    if key is None and app.testing:
        # A test app gets a throwaway key rather than writing into the install's instance folder.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    if key is None:
        app.config["SECRET_KEY"] = key = instance_secret_key(Path(app.instance_path))
    if app.debug or app.testing:
        return
    problem = weakness(key)
    if problem:
        raise Invalid(f"refusing to start: the secret key {problem}; {HOW_TO_FIX}")


def weakness(key) -> str | None:
    """Why ``key`` would let someone forge a session, or None when it will do."""
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    if not text.strip():
        return "is empty"
    if text in KNOWN_KEYS:
        return "is a known default that anyone can read in the source"
    if len(text) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    return None


def instance_secret_key(folder: Path) -> str:
    """The install's own key, created on first use; every process that asks gets the same one.

    The new key is written to a private temporary file and then hard-linked into place: the link
    either creates ``secret_key`` complete or fails because another process got there first, so a
    reader never sees a half-written key and two workers starting together agree on the winner's.
    """
    path = folder / FILE_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another worker's key is in place: use that one
        finally:
            temporary.unlink()
    key = path.read_text(encoding="ascii").strip()
    if weakness(key):
        raise Invalid(f"refusing to start: {path} {weakness(key)}; delete it to have a new key generated")
    return key
