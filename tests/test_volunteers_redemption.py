"""Redemption through the real engine (bpmn/volunteer_redemption.bpmn + volunteer_redemption.dmn):
approve, reject, time out, the once-a-quarter rule, balance and stock, and two volunteers racing
for the last item."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, Invalid
from app.volunteers import ledger, redemption
from app.volunteers.models import LedgerEntry, Redemption, Reward
from tests.conftest import at, race
from tests.volunteer_helpers import OFFICE, ORGANISER, OTHER_ORGANISER, reward, volunteer


def funded(core, phone: str, points: float, community: str = "和平社区") -> int:
    vid = volunteer(core, phone, community=community)
    with core.db.unit_of_work() as session:
        ledger.post(session, vid, points, "service", earned_year=2026, confirmed_by="organiser")
    return vid


def balance(core, vid):
    with core.db.read() as session:
        return ledger.balance(session, vid)


def stock(core, rid):
    with core.db.read() as session:
        return session.get(Reward, rid).stock


def test_small_redemption_office_approves_and_hands_over(core):
    vid, rid = funded(core, "13800002001", 60), reward(core, 50, 3)
    applied = redemption.apply(core, vid, rid)
    assert applied["status"] == "applied" and applied["step"] == "office_approval"  # small: the office alone
    assert balance(core, vid) == 10 and stock(core, rid) == 2  # reserved at application
    with pytest.raises(Forbidden):
        redemption.complete(core, ORGANISER, applied["id"], {"decision": "approve"})
    approved = redemption.complete(core, OFFICE, applied["id"], {"decision": "approve"})
    assert approved["status"] == "approved" and approved["step"] == "handover"
    done = redemption.complete(core, OFFICE, applied["id"], {"handover_note": "已领取"})
    assert done["status"] == "handed_over" and done["step"] is None
    assert balance(core, vid) == 10 and stock(core, rid) == 2
    with core.db.read() as session:
        row = session.get(Redemption, applied["id"])
        assert row.handed_over_by == "volunteer_admin" and row.finished_at is not None and row.next_timer_at is None
    with pytest.raises(Conflict):
        redemption.complete(core, OFFICE, applied["id"], {"decision": "approve"})


def test_large_redemption_needs_the_community_then_the_office(core):
    vid, rid = funded(core, "13800002002", 150), reward(core, 120, 1, "免费体检套餐", 300)
    applied = redemption.apply(core, vid, rid)
    assert applied["step"] == "organiser_review"
    with pytest.raises(Forbidden):  # another community's organiser
        redemption.complete(core, OTHER_ORGANISER, applied["id"], {"decision": "approve"})
    assert redemption.complete(core, ORGANISER, applied["id"], {"decision": "approve"})["step"] == "office_approval"
    assert redemption.complete(core, OFFICE, applied["id"], {"decision": "approve"})["status"] == "approved"


def test_rejection_needs_a_reason_and_releases_points_and_stock(core):
    vid, rid = funded(core, "13800002003", 150), reward(core, 120, 1, "免费体检套餐", 300)
    applied = redemption.apply(core, vid, rid)
    assert balance(core, vid) == 30 and stock(core, rid) == 0
    with pytest.raises(Invalid):
        redemption.complete(core, ORGANISER, applied["id"], {"decision": "reject"})
    assert balance(core, vid) == 30  # the refused form changed nothing
    rejected = redemption.complete(core, ORGANISER, applied["id"], {"decision": "reject", "reason": "本季度名额已满"})
    assert rejected["status"] == "rejected" and rejected["reason"] == "本季度名额已满"
    assert balance(core, vid) == 150 and stock(core, rid) == 1
    with core.db.read() as session:
        reasons = [e.reason for e in session.scalars(select(LedgerEntry).where(LedgerEntry.volunteer_id == vid)
                                                     .order_by(LedgerEntry.id))]
    assert reasons == ["service", "redemption_reserve", "redemption_release"]
    # A rejected application does not count towards the quarter: the volunteer may apply again.
    assert redemption.apply(core, vid, rid)["status"] == "applied"


def test_approval_times_out_after_five_working_days_and_releases(core, clock):
    vid, rid = funded(core, "13800002004", 60), reward(core, 50, 1)
    applied = redemption.apply(core, vid, rid)  # Monday 2026-11-02 10:00
    # Five working days later is Monday 2026-11-09 (end of day): nothing fires before.
    assert redemption.fire_due(core, at(2026, 11, 9, 12, 0)) == 0
    with core.db.read() as session:
        assert session.get(Redemption, applied["id"]).status == "applied"
    clock.move_to(at(2026, 11, 10, 9, 0))
    assert redemption.fire_due(core) == 1
    with core.db.read() as session:
        row = session.get(Redemption, applied["id"])
        assert row.status == "timed_out" and row.current_task is None and row.next_timer_at is None
    assert balance(core, vid) == 60 and stock(core, rid) == 1
    assert redemption.fire_due(core) == 0  # nothing left to fire


def test_one_redemption_per_quarter_is_the_rule_tables(core, clock):
    vid, rid = funded(core, "13800002005", 100), reward(core, 10, 5)
    redemption.apply(core, vid, rid)
    with pytest.raises(Invalid, match="每季度限兑换一次"):
        redemption.apply(core, vid, rid)
    assert balance(core, vid) == 90 and stock(core, rid) == 4  # the refused one reserved nothing
    clock.move_to(at(2027, 1, 4, 10, 0))  # the next quarter
    assert redemption.apply(core, vid, rid)["status"] == "applied"


def test_beyond_balance_or_stock_is_refused(core):
    vid = funded(core, "13800002006", 40)
    with pytest.raises(Invalid, match="积分不足"):
        redemption.apply(core, vid, reward(core, 50, 5))
    with pytest.raises(Conflict, match="库存不足"):
        redemption.apply(core, vid, reward(core, 10, 0, "已领完的物品"))
    assert balance(core, vid) == 40
    with core.db.read() as session:
        assert session.scalars(select(Redemption)).all() == []


def test_two_volunteers_racing_for_the_last_item_one_succeeds(core):
    first, second = funded(core, "13800002007", 60), funded(core, "13800002008", 60)
    rid = reward(core, 50, 1)
    results = race(lambda i: redemption.apply(core, (first, second)[i], rid), n=2)
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["error", "ok"], results
    error = [r for k, r in results if k == "error"][0]
    assert isinstance(error, Conflict) and "库存不足" in str(error)
    assert stock(core, rid) == 0
    assert sorted([balance(core, first), balance(core, second)]) == [10, 60]
    with core.db.read() as session:
        assert len(session.scalars(select(Redemption)).all()) == 1


def test_the_scheduler_job_fires_timers_and_posts_expiry(core, clock):
    from app.scheduler import build_scheduler
    from app.volunteers.jobs import volunteer_jobs
    assert build_scheduler(core, blocking=False).get_job("volunteer_jobs") is not None
    vid, rid = funded(core, "13800002009", 60), reward(core, 50, 1)
    with core.db.unit_of_work() as session:
        ledger.post(session, vid, 4, "service", earned_year=2024, confirmed_by="organiser")
    applied = redemption.apply(core, vid, rid)
    assert balance(core, vid) == 14
    clock.move_to(at(2026, 11, 10, 9, 0))
    # The timer fires first: the 50 reserved come back (-50 + 50 = nothing spent). Then 2024's points,
    # due since 2026-01-01: 4 earned, nothing spent, so all 4 expire; 2026's 60 stay.
    assert volunteer_jobs(core) == {"timers_fired": 1, "expiry": {"posted": {"2024": 1}}}
    with core.db.read() as session:
        assert session.get(Redemption, applied["id"]).status == "timed_out"
    assert balance(core, vid) == 60
