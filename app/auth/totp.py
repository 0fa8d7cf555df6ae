"""A second factor for the accounts that can change the process or the system (TOTP, RFC 6238).

``BIHUAN_TOTP_ROLES`` (e.g. ``admin,designer``) names the roles that must use it: after the password,
such a user enrols once (scans the otpauth:// QR code with any authenticator app and confirms a
code) and from then on gives a six-digit code at every login. A user who enrolled gives the code
whether their role requires it or not. The secret is encrypted at rest like residents' phones.
Wrong codes count as failed logins for the throttle (app/auth/throttle.py).
"""
from __future__ import annotations

import base64
import io
import re

import pyotp
import qrcode

ISSUER = "Bihuan 闭环"
CODE = re.compile(r"[0-9]{6}")


def required_roles(config) -> set[str]:
    raw = config.get("TOTP_ROLES") or ""
    return {role.strip() for role in str(raw).split(",") if role.strip()}


def must_use(user, config) -> bool:
    return bool(user.totp_secret) or bool(set(user.roles) & required_roles(config))


def new_secret() -> str:
    return pyotp.random_base32()


def verify(secret: str, code: str) -> bool:
    code = (code or "").strip().replace(" ", "")
    # One step either way: a phone's clock a little off still works; a replayed old code does not.
    return bool(secret) and bool(CODE.fullmatch(code)) and pyotp.TOTP(secret).verify(code, valid_window=1)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_data_url(uri: str) -> str:
    image = qrcode.make(uri)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
