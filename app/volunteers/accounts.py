"""Volunteer accounts (not staff users), teams, and who among the staff may see which volunteers.

A volunteer logs in with phone and password; the phone is stored encrypted and found through its
blind index. Organisers (``volunteer_organiser``) work in one community and see phones masked; the
office (``volunteer_admin``) sees every community and may reveal a phone, which is audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.passwords import MAX_LENGTH
from ..cases.models import AuditEntry
from ..cases.presenters import mask_name, mask_phone
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..privacy.crypto import blind_index, normalize_phone
from ..processes.problem_text import tr as _
from ..auth.passwords import hasher
from .models import Organiser, Team, Volunteer

MOBILE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD = 8  # volunteers type on a phone; still refused when common (app/auth/passwords.py list)
COMMUNITIES = ("和平社区", "光明社区", "刘公岛路社区", "唐岛湾社区", "阳光社区", "珠山社区", "海滨社区",
               "长兴岛社区", "灵山卫社区", "嘉陵江路社区")
# A dummy hash verified when the phone is unknown, so a login takes as long either way.
_DUMMY = None  # a hash to verify against when the phone is unknown (same time either way); made once


def _dummy() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hasher().hash("no-such-volunteer")
    return _DUMMY


@dataclass(frozen=True)
class Staff:
    """A staff member acting in the volunteer domain: their roles and, for organisers, their community."""
    username: str
    roles: frozenset
    community: str | None = None

    @property
    def office(self) -> bool:
        return "volunteer_admin" in self.roles

    @property
    def organiser(self) -> bool:
        return "volunteer_organiser" in self.roles

    def may_manage(self, community: str | None) -> bool:
        return self.office or (self.organiser and self.community is not None and community == self.community)

    def require(self, community: str | None) -> None:
        if not self.may_manage(community):
            raise Forbidden(_("您只能管理本社区的志愿服务"))


def staff_of(session: Session, user_id: int, username: str, roles) -> Staff:
    row = session.get(Organiser, user_id)
    return Staff(username, frozenset(roles), row.community if row else None)


def audit(session: Session, actor: str, action: str, changes: dict, source: str = "web") -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, case_id=None, action=action, changes=changes, source=source))


def volunteer_actor(volunteer_id: int) -> str:
    return f"volunteer:{volunteer_id}"


def _check_password(password: str, phone: str) -> None:
    from ..auth.passwords import _is_common
    if len(password or "") < MIN_PASSWORD:
        message = _("密码至少 %(n)s 位", n=MIN_PASSWORD)
        raise Invalid(message, [("password", message)])
    if len(password) > MAX_LENGTH:
        raise Invalid(_("密码太长"), [("password", _("密码太长"))])
    if _is_common(password) or phone in password:
        raise Invalid(_("这个密码太常见或包含手机号，请换一个"), [("password", _("这个密码太常见或包含手机号，请换一个"))])


def register(session: Session, *, name: str, phone: str, password: str, community: str, skills: str = "",
             team_id: int | None = None, recruiter_phone: str | None = None, check_password: bool = True,
             password_hash: str | None = None) -> Volunteer:
    name, phone, skills = (name or "").strip(), normalize_phone(phone), (skills or "").strip()
    problems = []
    if not 1 <= len(name) <= 50:
        problems.append(("name", _("请填写姓名（最多 50 字）")))
    if not MOBILE.match(phone):
        problems.append(("phone", _("请填写 11 位手机号")))
    if community not in COMMUNITIES:
        problems.append(("community", _("请选择所在社区")))
    if len(skills) > 500:
        problems.append(("skills", _("特长最多 500 字")))
    if problems:
        raise Invalid("；".join(m for _f, m in problems), problems)
    if check_password:
        _check_password(password, phone)
    index = blind_index(phone)
    if session.scalar(select(Volunteer.id).where(Volunteer.phone_index == index)):
        raise Conflict(_("这个手机号已经注册过，请直接登录"))
    recruiter = None
    if recruiter_phone and recruiter_phone.strip():
        recruiter = find_by_phone(session, recruiter_phone)
        if recruiter is None:
            raise Invalid(_("推荐人手机号未注册为志愿者"), [("recruiter_phone", _("推荐人手机号未注册为志愿者"))])
    volunteer = Volunteer(name=name, phone=phone, phone_index=index, skills=skills, community=community,
                          password_hash=password_hash or hasher().hash(password), active=True, session_version=0,
                          recruited_by_id=recruiter.id if recruiter else None, registered_at=utcnow())
    if team_id:
        volunteer.team_id = _team(session, team_id).id
    session.add(volunteer)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("这个手机号已经注册过，请直接登录")) from None
    audit(session, volunteer_actor(volunteer.id), "volunteer_register", {"community": community})
    return volunteer


def find_by_phone(session: Session, phone: str) -> Volunteer | None:
    index = blind_index(phone)
    return session.scalars(select(Volunteer).where(Volunteer.phone_index == index)).first() if index else None


def authenticate(session: Session, phone: str, password: str) -> Volunteer | None:
    volunteer = find_by_phone(session, phone or "")
    try:
        ok = hasher().verify(volunteer.password_hash if volunteer else _dummy(), password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    return volunteer if ok and volunteer is not None and volunteer.active else None


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None or not team.active:
        raise NotFound(_("志愿服务队不存在"))
    return team


def join_team(session: Session, volunteer: Volunteer, team_id: int) -> Team:
    team = _team(session, team_id)
    volunteer.team_id = team.id
    audit(session, volunteer_actor(volunteer.id), "volunteer_join_team", {"team": team.name})
    return team


def create_team(session: Session, staff: Staff, name: str, community: str, federation_id: int | None) -> Team:
    staff.require(community)
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid(_("队名 2–100 字"), [("name", _("队名 2–100 字"))])
    if community not in COMMUNITIES:
        raise Invalid(_("请选择社区"), [("community", _("请选择社区"))])
    if session.scalar(select(Team.id).where(Team.name == name)):
        raise Conflict(_("已有同名的志愿服务队"))
    team = Team(name=name, community=community, federation_id=federation_id, active=True, created_at=utcnow())
    session.add(team)
    session.flush()
    audit(session, staff.username, "volunteer_team_create", {"team": name, "community": community})
    return team


def present(volunteer: Volunteer, staff: Staff | None, reveal: bool = False) -> dict:
    """A volunteer as a staff page shows them: masked unless the office reveals (audited by the caller)."""
    show = reveal and staff is not None and staff.office
    return {"id": volunteer.id, "name": volunteer.name if show else mask_name(volunteer.name),
            "phone": volunteer.phone if show else mask_phone(volunteer.phone), "community": volunteer.community,
            "skills": volunteer.skills, "team_id": volunteer.team_id, "active": volunteer.active}
