"""The points ledger: append-only entries, balances as sums, reversals, and yearly expiry.

Expiry counts first-in, first-out: debits (redemptions, earlier expiries) use up the oldest points
first. So what is left of the points earned up to year Y is

    max(0, credits earned in years <= Y (their reversals included) - all debits so far)

and that is what expires at the end of year Y + ``expire_after_years`` (volunteer_points.dmn).
Reservations and their releases carry no ``earned_year``: they are debits and credits of the pool.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflows.clock import utcnow

from ..errors import Conflict, Invalid, NotFound
from ..processes.problem_text import tr as _
from ..reports.jobruns import run_once
from ..reports.periods import SHANGHAI
from .models import LedgerEntry, Volunteer
from .rules import current_rules, expire_after_years

EXPIRY_JOB = "volunteer_points_expiry"
REASONS = {"service": "志愿服务", "recruit": "推荐新志愿者", "redemption_reserve": "兑换预扣",
           "redemption_release": "兑换退回", "expiry": "积分过期", "correction": "更正"}


def post(session: Session, volunteer_id: int, points: float, reason: str, *, activity_id: int | None = None,
         redemption_id: int | None = None, earned_year: int | None = None, rule_version: int | None = None,
         confirmed_by: str = "", note: str = "", reverses_id: int | None = None,
         at: datetime | None = None) -> LedgerEntry:
    if reason not in REASONS:
        raise Invalid(f"unknown ledger reason '{reason}'")
    entry = LedgerEntry(volunteer_id=volunteer_id, kind="credit" if points >= 0 else "debit", points=float(points),
                        reason=reason, activity_id=activity_id, redemption_id=redemption_id, reverses_id=reverses_id,
                        earned_year=earned_year, rule_version=rule_version, confirmed_by=confirmed_by or "",
                        note=note[:500], at=at or utcnow())
    session.add(entry)
    session.flush()
    return entry


def earned_year_of(instant: datetime) -> int:
    return instant.astimezone(SHANGHAI).year


def balance(session: Session, volunteer_id: int) -> float:
    return float(session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0.0))
                                .where(LedgerEntry.volunteer_id == volunteer_id)) or 0.0)


def history(session: Session, volunteer_id: int, limit: int = 50, before_id: int | None = None) -> list[LedgerEntry]:
    """Newest first, a page at a time (keyset on the (volunteer_id, id) index)."""
    query = select(LedgerEntry).where(LedgerEntry.volunteer_id == volunteer_id)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    return list(session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)))


def reverse(session: Session, entry_id: int, actor: str, note: str) -> LedgerEntry:
    """A correction: a new entry of the opposite amount. An entry is reversed at most once."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(_("积分记录 %(id)s 不存在", id=entry_id))
    if entry.reverses_id is not None:
        raise Invalid(_("更正记录本身不能再更正"))
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)):
        raise Conflict(_("这条积分记录已经更正过"))
    if not (note or "").strip():
        raise Invalid(_("请填写更正原因"))
    return post(session, entry.volunteer_id, -entry.points, "correction", activity_id=entry.activity_id,
                redemption_id=entry.redemption_id, earned_year=entry.earned_year, rule_version=entry.rule_version,
                confirmed_by=actor, note=note.strip(), reverses_id=entry.id)


# -- expiry ------------------------------------------------------------------------------------------
def expiring(session: Session, through_year: int) -> dict[int, float]:
    """{volunteer id: points to expire} for the points earned up to ``through_year`` that are left."""
    earned = func.sum(LedgerEntry.points).filter(LedgerEntry.earned_year <= through_year)
    spent = func.sum(LedgerEntry.points).filter(LedgerEntry.earned_year.is_(None))
    rows = session.execute(
        select(LedgerEntry.volunteer_id, func.coalesce(earned, 0.0), func.coalesce(spent, 0.0))
        .where(or_(LedgerEntry.earned_year <= through_year, LedgerEntry.earned_year.is_(None)))
        .group_by(LedgerEntry.volunteer_id)).all()
    return {vid: round(c + d, 4) for vid, c, d in rows if c + d > 1e-9}


def due_expiry_years(core, session: Session, now: datetime) -> tuple[list[int], int | None]:
    """The earned years whose points have expired by ``now``, and the rule version used."""
    rules = current_rules(core, session)
    years = expire_after_years(core, rules)
    if years <= 0:
        return [], rules.version
    first = session.scalar(select(func.min(LedgerEntry.earned_year)))
    if first is None:
        return [], rules.version
    # Year Y expires at the end of Y + years, i.e. from 1 January of Y + years + 1, Shanghai time.
    last = now.astimezone(SHANGHAI).year - years - 1
    return list(range(first, last + 1)), rules.version


def post_expiry(core, now: datetime | None = None) -> dict:
    """Post the expiry entries of every due year, each year exactly once (job_runs UNIQUE(job, period))."""
    now = now or utcnow()
    with core.db.read() as session:
        years, version = due_expiry_years(core, session, now)
    posted: dict[str, int] = {}
    for year in years:
        count = {"n": 0}

        def work(session: Session, year=year, count=count) -> None:
            for vid, points in sorted(expiring(session, year).items()):
                post(session, vid, -points, "expiry", rule_version=version, confirmed_by="scheduler",
                     note=f"{year} 年获得的积分到期", at=now)
                count["n"] += 1

        if run_once(core, EXPIRY_JOB, str(year), work):
            posted[str(year)] = count["n"]
    return {"posted": posted}


def volunteer_exists(session: Session, volunteer_id: int) -> Volunteer:
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound(_("志愿者 %(id)s 不存在", id=volunteer_id))
    return volunteer

