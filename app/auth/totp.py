"""A second factor for the accounts that can change the process or the system (TOTP, RFC 6238).

* Admins and designers may enrol an authenticator app at ``/account/totp``; with
  ``BIHUAN_TOTP_REQUIRED=true`` they must, before they can open any other page.
* The secret is stored encrypted like residents' phones (app/privacy/crypto.py): a database dump
  alone does not let anyone mint codes.
* A code is accepted once: the last accepted time step is stored, so a code seen over someone's
  shoulder cannot be replayed within its 30 seconds. One step of clock drift either way is allowed.
* Wrong codes count as failed logins (app/auth/throttle.py): the second factor cannot be
  brute-forced any faster than the password.
"""
from __future__ import annotations

import io

import pyotp
from sqlalchemy import update

from workflows.clock import utcnow

from ..cases.models import AuditEntry
from .models import User

ROLES = ("admin", "designer")  # the accounts whose compromise changes what every case does
ISSUER = "Bihuan 闭环"
DRIFT_STEPS = 1


def applies_to(roles) -> bool:
    return bool(set(roles) & set(ROLES))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no image request, nothing for the CSP to allow)."""
    import qrcode
    import qrcode.image.svg
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode("utf-8")


def _step(secret: str, code: str) -> int | None:
    """The time step ``code`` is valid for (now, or one step either side), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = utcnow().timestamp()
    current = int(now // totp.interval)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.at(step * totp.interval), code):
            return step
    return None


def check_code(db, user: User, code: str) -> bool:
    """Accept ``code`` for the user's enrolled secret, once (replays of a used step fail)."""
    if not user.totp_secret:
        return False
    step = _step(user.totp_secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    # Conditional on the last step, so two requests racing with the same code cannot both pass.
    done = db.execute(update(User).where(User.id == user.id, (User.totp_last_step.is_(None))
                                         | (User.totp_last_step < step)).values(totp_last_step=step))
    return done.rowcount == 1


def enrol(db, user: User, secret: str, code: str) -> bool:
    """Store ``secret`` once the user proves their app produces its codes."""
    step = _step(secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    db.add(AuditEntry(at=utcnow(), actor=user.username, case_id=None, action="totp_enrolled", source="web",
                      changes={"user": user.username}))
    return True


def reset(db, user: User, actor: str, source: str) -> None:
    """An admin removes a lost second factor; the user enrols again at the next login."""
    user.totp_secret = None
    user.totp_last_step = None
    db.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action="totp_reset", source=source,
                      changes={"user": user.username}))
