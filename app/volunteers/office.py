"""What only the volunteer office (``volunteer_admin``) edits: which community each organiser serves, the
心连心 federation, and the teams (rename, deactivate, leader, membership of the federation).

Every change is written to the audit log with what it was and what it became. Creating a team stays in
accounts.py (an organiser may create one in their own community).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..auth.models import User, UserRole
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..processes.problem_text import tr as _
from .accounts import COMMUNITIES, Staff, audit
from .models import Federation, Organiser, Team, Volunteer

ORGANISER_ROLE = "volunteer_organiser"


def _office(staff: Staff) -> None:
    if not staff.office:
        raise Forbidden(_("只有志愿服务办公室可以修改"))


# -- organisers' communities ---------------------------------------------------------------------------
def organiser_scopes(session: Session) -> list[dict]:
    """Every staff account with the organiser role, and the community it serves (None: not assigned yet)."""
    rows = session.execute(
        select(User.id, User.username, User.display_name, User.active, Organiser.community)
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == ORGANISER_ROLE))
        .outerjoin(Organiser, Organiser.user_id == User.id).order_by(User.username)).all()
    return [{"user_id": r.id, "username": r.username, "display_name": r.display_name, "active": r.active,
             "community": r.community} for r in rows]


def set_organiser_scope(session: Session, staff: Staff, user_id: int, community: str) -> str | None:
    """Assign (or, with an empty ``community``, withdraw) the community an organiser account serves.
    It takes effect on the organiser's next page: their scope is read on every request."""
    _office(staff)
    community = (community or "").strip()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("用户不存在"))
    if not session.scalar(select(UserRole.user_id).where(UserRole.user_id == user_id, UserRole.role == ORGANISER_ROLE)):
        raise Invalid(_("%(user)s 不是志愿服务组织者，请先在系统管理中授予该角色", user=user.username))
    if community and community not in COMMUNITIES:
        raise Invalid(_("请选择社区"), [("community", _("请选择社区"))])
    row = session.get(Organiser, user_id)
    before = row.community if row else None
    if before == (community or None):
        return before
    if not community:
        session.delete(row)
    elif row is None:
        session.add(Organiser(user_id=user_id, community=community))
    else:
        row.community = community
    audit(session, staff.username, "volunteer_organiser_scope",
          {"user": user.username, "community": [before, community or None]})
    return community or None


# -- the federation ------------------------------------------------------------------------------------
def federation(session: Session) -> Federation | None:
    """The federation (心连心): one per sub-district, the first one created."""
    return session.scalars(select(Federation).order_by(Federation.id).limit(1)).first()


def save_federation(session: Session, staff: Staff, name: str) -> Federation:
    """Found the federation, or rename it."""
    _office(staff)
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid(_("名称 2–100 字"), [("name", _("名称 2–100 字"))])
    row = federation(session)
    if row is not None and row.name == name:
        return row
    if row is None:
        row = Federation(name=name, created_at=utcnow())
        session.add(row)
        changes = {"federation": [None, name]}
    else:
        changes = {"federation": [row.name, name]}
        row.name = name
    session.flush()
    audit(session, staff.username, "volunteer_federation_save", changes)
    return row


# -- teams ---------------------------------------------------------------------------------------------
def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(_("志愿服务队不存在"))
    return team


def members(session: Session, team_id: int) -> list[Volunteer]:
    return list(session.scalars(select(Volunteer).where(Volunteer.team_id == team_id).order_by(Volunteer.id)))


def _changed(session: Session, staff: Staff, team: Team, action: str, field: str, before, after) -> Team:
    if before != after:
        audit(session, staff.username, action, {"team": team.id, field: [before, after]})
    return team


def rename_team(session: Session, staff: Staff, team_id: int, name: str) -> Team:
    _office(staff)
    team = get_team(session, team_id)
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid(_("队名 2–100 字"), [("name", _("队名 2–100 字"))])
    if session.scalar(select(Team.id).where(func.lower(Team.name) == name.lower(), Team.id != team.id)):
        raise Conflict(_("已有同名的志愿服务队"))
    before, team.name = team.name, name
    return _changed(session, staff, team, "volunteer_team_rename", "name", before, name)


def set_team_active(session: Session, staff: Staff, team_id: int, active: bool) -> Team:
    """Deactivate (or reactivate) a team: it takes no new members and no new activities; its volunteers,
    its past activities and their points stay as they are."""
    _office(staff)
    team = get_team(session, team_id)
    before, team.active = team.active, bool(active)
    return _changed(session, staff, team, "volunteer_team_active", "active", before, team.active)


def set_team_leader(session: Session, staff: Staff, team_id: int, volunteer_id: int | None) -> Team:
    """The team's leader is one of its own active volunteers (None: no leader)."""
    _office(staff)
    team = get_team(session, team_id)
    if volunteer_id is not None:
        volunteer = session.get(Volunteer, volunteer_id)
        if volunteer is None or volunteer.team_id != team.id:
            raise Invalid(_("队长须是本队的志愿者"), [("leader_id", _("队长须是本队的志愿者"))])
        if not volunteer.active:
            raise Invalid(_("这位志愿者的账号已停用"), [("leader_id", _("这位志愿者的账号已停用"))])
    before, team.leader_id = team.leader_id, volunteer_id
    return _changed(session, staff, team, "volunteer_team_leader", "leader", before, volunteer_id)


def set_team_federation(session: Session, staff: Staff, team_id: int, attached: bool) -> Team:
    """Attach the team to the federation, or take it out."""
    _office(staff)
    team = get_team(session, team_id)
    target = None
    if attached:
        row = federation(session)
        if row is None:
            raise Invalid(_("还没有志愿服务联合会，请先创建"))
        target = row.id
    before, team.federation_id = team.federation_id, target
    return _changed(session, staff, team, "volunteer_team_federation", "federation", before, target)
