"""A volunteer who forgot their password: the office, or the organiser of the volunteer's community, issues a
one-time reset code (and a link with it, shown as a QR code to scan); the volunteer sets a new password at
/v/reset with the usual password policy, and every session they had ends (session version, as for staff).

Only the code's SHA-256 is stored: a copy of the database cannot be used to take an account over. A code
works once, for ``VALID_HOURS``, and issuing a new code for the same volunteer ends the older ones.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.passwords import hasher
from ..errors import Conflict, Invalid, NotFound
from ..processes.problem_text import tr as _
from .accounts import Staff, _check_password, audit, volunteer_actor
from .models import ResetCode, Volunteer

VALID_HOURS = 24  # long enough to hand a code over by phone in the evening, short enough not to linger
CODE_BYTES = 12  # 96 random bits: 16 URL-safe characters, not guessable within a code's lifetime


@dataclass(frozen=True)
class Issued:
    code: str
    expires_at: datetime
    volunteer_id: int


def _digest(code: str) -> str:
    return hashlib.sha256((code or "").strip().encode()).hexdigest()


def issue(session: Session, staff: Staff, volunteer_id: int) -> Issued:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound(_("志愿者不存在"))
    staff.require(volunteer.community)
    if not volunteer.active:
        raise Invalid(_("这位志愿者的账号已停用"))
    now = utcnow()
    # Older codes still open end now: only the newest code handed over works.
    session.execute(update(ResetCode).where(ResetCode.volunteer_id == volunteer.id, ResetCode.used_at.is_(None),
                                            ResetCode.expires_at > now).values(expires_at=now))
    code = secrets.token_urlsafe(CODE_BYTES)
    expires = now + timedelta(hours=VALID_HOURS)
    session.add(ResetCode(volunteer_id=volunteer.id, code_hash=_digest(code), issued_by=staff.username,
                          issued_at=now, expires_at=expires))
    session.flush()
    audit(session, staff.username, "volunteer_reset_issue", {"volunteer": volunteer.id, "expires_at": expires.isoformat()})
    return Issued(code, expires, volunteer.id)


def check(session: Session, code: str) -> ResetCode:
    """The open code, or a clear refusal: unknown, already used, or expired."""
    row = session.scalars(select(ResetCode).where(ResetCode.code_hash == _digest(code))).first() if code else None
    if row is None:
        raise Invalid(_("重置码无效，请核对或向社区志愿服务组织者重新申请"), [("code", _("重置码无效"))])
    if row.used_at is not None:
        raise Conflict(_("这个重置码已经使用过，请重新申请"))
    if row.expires_at <= utcnow():
        raise Invalid(_("重置码已过期，请向社区志愿服务组织者重新申请"), [("code", _("重置码已过期"))])
    return row


def redeem(session: Session, code: str, password: str, again: str) -> Volunteer:
    """Set the new password with the code, once; every session of the volunteer ends."""
    row = check(session, code)
    volunteer = session.get(Volunteer, row.volunteer_id)
    if volunteer is None or not volunteer.active:
        raise Invalid(_("这位志愿者的账号已停用"))
    if password != again:
        raise Invalid(_("两次输入的密码不一致"), [("again", _("两次输入的密码不一致"))])
    _check_password(password, volunteer.phone)
    now = utcnow()
    # The guarded UPDATE makes the code single-use even when two requests race with it.
    used = session.execute(update(ResetCode).where(ResetCode.id == row.id, ResetCode.used_at.is_(None),
                                                   ResetCode.expires_at > now).values(used_at=now))
    if used.rowcount != 1:
        raise Conflict(_("这个重置码已经使用过，请重新申请"))
    volunteer.password_hash = hasher().hash(password)
    volunteer.session_version = (volunteer.session_version or 0) + 1  # every open session ends
    audit(session, volunteer_actor(volunteer.id), "volunteer_password_reset", {"issued_by": row.issued_by})
    return volunteer
