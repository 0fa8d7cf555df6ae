"""Activities: publishing, sign-up, QR check-in/out, the organiser's confirmation and rating.

QR tokens: ``<activity>.<action>.<qr session>.<expires>.<hmac>``, HMAC-SHA256 under a key derived
from the app's secret. A token works only for its own activity and action (in/out), until it
expires, and only while the activity's ``qr_session`` is the one it was minted for (an organiser's
"new code" makes every older code stop working). What a token cannot stop — the same person scanning
twice — the sign-up row does: a second check-in, or a check-out before a check-in, is refused.

Points are posted when the organiser confirms attendance: the hours between check-in and
check-out, inside the activity's own times, minus any time already counted at an overlapping
activity of the same volunteer, priced by volunteer_points.dmn (capped, and rated by activity type).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..errors import Conflict, Invalid, NotFound
from ..processes.problem_text import tr as _
from . import ledger
from .accounts import COMMUNITIES, Staff, audit, volunteer_actor
from .models import Activity, LedgerEntry, Signup, Volunteer
from .rules import current_rules, recruit_points, service_points

TYPES = {"general": "社区服务", "emergency": "应急救援", "elderly_care": "助老服务", "environment": "环境整治",
         "patrol": "治安巡逻", "culture": "文化宣传"}
RATINGS = {"good": "良好", "excellent": "优秀", "complaint": "被投诉", "no_show": "未到岗"}
ZEROING = ("complaint", "no_show")  # a rating that zeroes the session's points
TOKEN_MINUTES = 15
EARLY_CHECKIN = timedelta(hours=1)
LATE_CHECKOUT = timedelta(hours=2)


# -- publishing -------------------------------------------------------------------------------------
def publish(session: Session, staff: Staff, *, title: str, type: str, place: str, community: str,
            starts_at: datetime, ends_at: datetime, capacity: int, points_rule: str = "standard",
            team_id: int | None = None) -> Activity:
    staff.require(community)
    problems = []
    if not 2 <= len((title or "").strip()) <= 200:
        problems.append(("title", _("请填写活动名称（2–200 字）")))
    if type not in TYPES:
        problems.append(("type", _("请选择活动类型")))
    if not (place or "").strip():
        problems.append(("place", _("请填写地点")))
    if community not in COMMUNITIES:
        problems.append(("community", _("请选择社区")))
    if ends_at <= starts_at:
        problems.append(("ends_at", _("结束时间须晚于开始时间")))
    elif ends_at - starts_at > timedelta(hours=24):
        problems.append(("ends_at", _("一次活动不超过 24 小时")))
    if not 1 <= int(capacity) <= 5000:
        problems.append(("capacity", _("人数 1–5000")))
    if problems:
        raise Invalid("；".join(m for _f, m in problems), problems)
    activity = Activity(title=title.strip(), type=type, place=place.strip(), community=community, team_id=team_id,
                        starts_at=starts_at, ends_at=ends_at, capacity=int(capacity), points_rule=points_rule,
                        status="published", qr_session=0, created_by=staff.username, created_at=utcnow())
    session.add(activity)
    session.flush()
    audit(session, staff.username, "volunteer_activity_publish", {"activity": activity.id, "title": activity.title})
    return activity


def get_activity(session: Session, activity_id: int, lock: bool = False) -> Activity:
    activity = session.get(Activity, activity_id, with_for_update=lock or None)
    if activity is None:
        raise NotFound(_("活动不存在"))
    return activity


def upcoming(session: Session, community: str | None, now: datetime, limit: int = 50) -> list[Activity]:
    query = select(Activity).where(Activity.ends_at >= now, Activity.status == "published")
    if community:
        query = query.where(Activity.community == community)
    return list(session.scalars(query.order_by(Activity.starts_at).limit(limit)))


def taken(session: Session, activity_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Signup).where(Signup.activity_id == activity_id)) or 0


def sign_up(session: Session, volunteer: Volunteer, activity_id: int) -> Signup:
    activity = get_activity(session, activity_id, lock=True)  # PostgreSQL: places are counted under the lock
    now = utcnow()
    if activity.status != "published" or activity.ends_at <= now:
        raise Invalid(_("活动已结束或已取消，不能报名"))
    if session.scalar(select(Signup.id).where(Signup.activity_id == activity.id,
                                              Signup.volunteer_id == volunteer.id)):
        raise Conflict(_("您已经报名了这个活动"))
    if taken(session, activity.id) >= activity.capacity:
        raise Conflict(_("活动名额已满"))
    signup = Signup(activity_id=activity.id, volunteer_id=volunteer.id, signed_up_at=now, rating_note="")
    session.add(signup)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("您已经报名了这个活动")) from None
    audit(session, volunteer_actor(volunteer.id), "volunteer_sign_up", {"activity": activity.id})
    return signup


# -- QR tokens -------------------------------------------------------------------------------------
def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, b"bihuan-volunteer-checkin-v1", hashlib.sha256).digest()


def _sign(secret, payload: str) -> str:
    mac = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def mint_token(secret, activity: Activity, action: str, now: datetime | None = None) -> tuple[str, datetime]:
    if action not in ("in", "out"):
        raise Invalid("action must be in or out")
    expires = (now or utcnow()) + timedelta(minutes=TOKEN_MINUTES)
    payload = f"{activity.id}.{action}.{activity.qr_session}.{int(expires.timestamp())}"
    return f"{payload}.{_sign(secret, payload)}", expires


def check_token(secret, token: str, activity: Activity, action: str, now: datetime) -> None:
    """Refuse (Invalid, with the reason a volunteer can act on) unless the token is good right now."""
    parts = (token or "").split(".")
    if len(parts) != 5 or not all(parts):
        raise Invalid(_("二维码无效：请重新扫描组织者展示的二维码"))
    payload, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_sign(secret, payload), mac):
        raise Invalid(_("二维码无效（签名不符），请重新扫描组织者展示的二维码"))
    activity_id, token_action, qr_session, expires = parts[:4]
    if activity_id != str(activity.id):
        raise Invalid(_("这个二维码属于另一个活动，不能在本活动签到"))
    if token_action != action:
        raise Invalid(_("这是签退二维码，请扫描签到二维码") if action == "in" else _("这是签到二维码，请扫描签退二维码"))
    if qr_session != str(activity.qr_session):
        raise Invalid(_("二维码已被组织者更换，请扫描最新的二维码"))
    if not expires.isdigit() or now.timestamp() > int(expires):
        raise Invalid(_("二维码已过期，请组织者刷新后重新扫描"))


def renew_qr(session: Session, staff: Staff, activity_id: int) -> Activity:
    activity = get_activity(session, activity_id, lock=True)
    staff.require(activity.community)
    activity.qr_session += 1
    audit(session, staff.username, "volunteer_qr_renew", {"activity": activity.id, "qr_session": activity.qr_session})
    return activity


def check(session: Session, secret, volunteer: Volunteer, activity_id: int, action: str, token: str) -> Signup:
    """Check in (``action='in'``) or out at an activity with the QR token shown there."""
    now = utcnow()
    activity = get_activity(session, activity_id, lock=True)
    check_token(secret, token, activity, action, now)
    if activity.status != "published":
        raise Invalid(_("活动已取消"))
    if now < activity.starts_at - EARLY_CHECKIN:
        raise Invalid(_("活动还没开始，开始前 1 小时内才能签到"))
    if now > activity.ends_at + LATE_CHECKOUT:
        raise Invalid(_("活动已结束，不能再签到或签退"))
    signup = session.scalars(select(Signup).where(Signup.activity_id == activity.id,
                                                  Signup.volunteer_id == volunteer.id)).first()
    if action == "in":
        if signup is None:  # walk-in: sign up at the door while places are left
            if taken(session, activity.id) >= activity.capacity:
                raise Conflict(_("活动名额已满，不能签到"))
            signup = Signup(activity_id=activity.id, volunteer_id=volunteer.id, signed_up_at=now, rating_note="")
            session.add(signup)
        elif signup.checked_in_at is not None:
            raise Conflict(_("您已经签到过了，不能重复签到"))
        signup.checked_in_at = now
    else:
        if signup is None or signup.checked_in_at is None:
            raise Invalid(_("您还没有签到，不能签退"))
        if signup.checked_out_at is not None:
            raise Conflict(_("您已经签退过了"))
        signup.checked_out_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same volunteer scanning twice at the same instant
        raise Conflict(_("您已经签到过了，不能重复签到")) from None
    audit(session, volunteer_actor(volunteer.id), f"volunteer_check_{action}", {"activity": activity.id})
    return signup


# -- confirmation and rating -----------------------------------------------------------------------
def _interval(signup: Signup, activity: Activity) -> tuple[datetime, datetime] | None:
    """The service time of a sign-up, inside the activity's own times."""
    if signup.checked_in_at is None:
        return None
    start = max(signup.checked_in_at, activity.starts_at)
    end = min(signup.checked_out_at or activity.ends_at, activity.ends_at)
    return (start, end) if end > start else None


def _overlap_hours(session: Session, signup: Signup, span: tuple[datetime, datetime]) -> float:
    """Hours of ``span`` already counted at other confirmed activities of the same volunteer (union)."""
    rows = session.execute(
        select(Signup, Activity).join(Activity, Activity.id == Signup.activity_id)
        .where(Signup.volunteer_id == signup.volunteer_id, Signup.id != signup.id, Signup.confirmed_at.is_not(None),
               Signup.hours > 0, Activity.starts_at < span[1], Activity.ends_at > span[0])).all()
    pieces = sorted(filter(None, (_interval(s, a) for s, a in rows)))
    covered, cursor = 0.0, span[0]
    for start, end in pieces:
        start, end = max(start, cursor), min(end, span[1])
        if end > start:
            covered += (end - start).total_seconds()
            cursor = end
    return covered / 3600


def confirm(core, session: Session, staff: Staff, signup_id: int) -> Signup:
    """The organiser confirms one attendance: hours counted and points posted, in this transaction."""
    signup = session.get(Signup, signup_id, with_for_update=True)
    if signup is None:
        raise NotFound(_("报名记录不存在"))
    activity = get_activity(session, signup.activity_id)
    staff.require(activity.community)
    if signup.confirmed_at is not None:
        raise Conflict(_("这次服务已经确认过了"))
    if signup.checked_in_at is None:
        raise Invalid(_("志愿者没有签到，不能确认服务时长（可评为未到岗）"))
    now = utcnow()
    span = _interval(signup, activity)
    raw = 0.0 if span is None else (span[1] - span[0]).total_seconds() / 3600 - _overlap_hours(session, signup, span)
    rules = current_rules(core, session)
    hours, points = service_points(core, rules, activity.type, max(0.0, raw))
    if signup.rating in ZEROING:
        points = 0.0
    signup.confirmed_at, signup.confirmed_by, signup.hours = now, staff.username, hours
    if points > 0:
        ledger.post(session, signup.volunteer_id, points, "service", activity_id=activity.id,
                    earned_year=ledger.earned_year_of(activity.starts_at), rule_version=rules.version,
                    confirmed_by=staff.username, note=f"{activity.title} {hours:g} 小时", at=now)
        _recruit_bonus(core, session, rules, signup, activity, staff, now)
    audit(session, staff.username, "volunteer_confirm", {"activity": activity.id, "volunteer": signup.volunteer_id,
                                                         "hours": hours, "points": points})
    return signup


def _recruit_bonus(core, session, rules, signup: Signup, activity: Activity, staff: Staff, now) -> None:
    """2 points (volunteer_points.dmn) to whoever recruited this volunteer, at their first confirmed service."""
    volunteer = session.get(Volunteer, signup.volunteer_id)
    if volunteer.recruited_by_id is None:
        return
    note = f"recruit:{volunteer.id}"
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.volunteer_id == volunteer.recruited_by_id,
                                                   LedgerEntry.reason == "recruit", LedgerEntry.note == note)):
        return
    points = recruit_points(core, rules)
    if points > 0:
        ledger.post(session, volunteer.recruited_by_id, points, "recruit", activity_id=activity.id,
                    earned_year=ledger.earned_year_of(now), rule_version=rules.version,
                    confirmed_by=staff.username, note=note, at=now)


def rate(session: Session, staff: Staff, signup_id: int, rating: str, note: str = "") -> Signup:
    """Rate a session; a no-show or complaint zeroes its points (a reversing entry if already posted)."""
    if rating not in RATINGS:
        raise Invalid(_("请选择评价"), [("rating", _("请选择评价"))])
    if rating in ZEROING and not (note or "").strip():
        raise Invalid(_("未到岗或被投诉须写明情况"), [("note", _("未到岗或被投诉须写明情况"))])
    signup = session.get(Signup, signup_id, with_for_update=True)
    if signup is None:
        raise NotFound(_("报名记录不存在"))
    activity = get_activity(session, signup.activity_id)
    staff.require(activity.community)
    if signup.rating in ZEROING and rating not in ZEROING:
        raise Conflict(_("已评为未到岗或被投诉，积分已清零；如评错，请在积分明细中更正"))
    signup.rating, signup.rating_note, signup.rated_by = rating, (note or "").strip()[:500], staff.username
    if rating in ZEROING:
        posted = session.scalars(select(LedgerEntry).where(
            LedgerEntry.volunteer_id == signup.volunteer_id, LedgerEntry.activity_id == activity.id,
            LedgerEntry.reason == "service")).all()
        for entry in posted:
            if not session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)):
                ledger.reverse(session, entry.id, staff.username, f"{RATINGS[rating]}：{signup.rating_note}")
    audit(session, staff.username, "volunteer_rate", {"activity": activity.id, "volunteer": signup.volunteer_id,
                                                      "rating": rating})
    return signup


def roster(session: Session, staff: Staff, activity_id: int) -> tuple[Activity, list[tuple[Signup, Volunteer]]]:
    activity = get_activity(session, activity_id)
    staff.require(activity.community)
    rows = session.execute(select(Signup, Volunteer).join(Volunteer, Volunteer.id == Signup.volunteer_id)
                           .where(Signup.activity_id == activity.id).order_by(Signup.id)).all()
    return activity, [(s, v) for s, v in rows]


def my_signups(session: Session, volunteer_id: int, limit: int = 30) -> list[tuple[Signup, Activity]]:
    rows = session.execute(select(Signup, Activity).join(Activity, Activity.id == Signup.activity_id)
                           .where(Signup.volunteer_id == volunteer_id)
                           .order_by(Activity.starts_at.desc()).limit(limit)).all()
    return [(s, a) for s, a in rows]


