"""Volunteer points: the ledger arithmetic (reversals, overlap, caps, recruiting, expiry), hand-computed,
and QR check-in refusals. Real database, real DMN rules (bpmn/rules/volunteer_points.dmn)."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Invalid
from app.reports.report_models import JobRun
from app.volunteers import activities, ledger
from app.volunteers.models import LedgerEntry, Signup
from tests.conftest import at, race
from tests.volunteer_helpers import ORGANISER, OTHER_ORGANISER, activity, check, confirm, token, volunteer


def balance(core, vid) -> float:
    with core.db.read() as session:
        return ledger.balance(session, vid)


def entries(core, vid) -> list[tuple[str, float]]:
    with core.db.read() as session:
        return [(e.reason, e.points) for e in reversed(ledger.history(session, vid, limit=100))]


def test_service_points_caps_overlap_rates_reversal_and_recruiting(core, clock):
    a = volunteer(core, "13800001001")
    b = volunteer(core, "13800001002", recruiter="13800001001")
    # a1 general 10:00–13:00: 3 h, capped at 2 h × 1 point = 2.
    a1 = activity(core, at(2026, 11, 2, 10, 0), at(2026, 11, 2, 13, 0), "general")
    # a2 elderly care 12:00–13:30 overlaps a1 for 12:00–13:00 (already counted there): 0.5 h × 1.5 = 0.75.
    a2 = activity(core, at(2026, 11, 2, 12, 0), at(2026, 11, 2, 13, 30), "elderly_care")
    s1 = check(core, a, a1, "in")
    clock.move_to(at(2026, 11, 2, 12, 0))
    s2 = check(core, a, a2, "in")
    clock.move_to(at(2026, 11, 2, 13, 0))
    check(core, a, a1, "out")
    clock.move_to(at(2026, 11, 2, 13, 30))
    check(core, a, a2, "out")
    assert confirm(core, s1) == 2.0
    assert confirm(core, s2) == 0.5
    assert balance(core, a) == 2.75
    # a3 emergency 2026-11-03 09:00–10:00: 1 h × 1.5 = 1.5 for a; b's first service gives a 2 recruiting points.
    a3 = activity(core, at(2026, 11, 3, 9, 0), at(2026, 11, 3, 10, 0), "emergency")
    clock.move_to(at(2026, 11, 3, 9, 0))
    s3a, s3b = check(core, a, a3, "in"), check(core, b, a3, "in")
    clock.move_to(at(2026, 11, 3, 10, 0))
    check(core, a, a3, "out")
    check(core, b, a3, "out")
    confirm(core, s3a)
    confirm(core, s3b)
    assert balance(core, a) == 2.75 + 1.5 + 2  # 6.25
    assert balance(core, b) == 1.5
    # A complaint about a at a3 zeroes that session: a reversing entry of -1.5, the original stays.
    with core.db.unit_of_work() as session:
        activities.rate(session, ORGANISER, s3a, "complaint", "服务态度差")
    assert balance(core, a) == 4.75
    assert entries(core, a) == [("service", 2.0), ("service", 0.75), ("service", 1.5), ("recruit", 2.0),
                                ("correction", -1.5)]
    with core.db.read() as session:
        reversal = session.scalars(select(LedgerEntry).where(LedgerEntry.reason == "correction")).one()
        assert reversal.reverses_id is not None and reversal.earned_year == 2026 and reversal.confirmed_by == "organiser"
    # b's second activity does not pay the recruiter again.
    a4 = activity(core, at(2026, 11, 3, 11, 0), at(2026, 11, 3, 12, 0), "general")
    clock.move_to(at(2026, 11, 3, 11, 0))
    s4 = check(core, b, a4, "in")
    clock.move_to(at(2026, 11, 3, 12, 0))
    check(core, b, a4, "out")
    confirm(core, s4)
    assert balance(core, a) == 4.75 and balance(core, b) == 2.5


def test_confirming_twice_or_out_of_scope_is_refused(core, clock):
    a = volunteer(core, "13800001003")
    act = activity(core, at(2026, 11, 2, 10, 0), at(2026, 11, 2, 11, 0))
    signup = check(core, a, act)
    with pytest.raises(Exception, match="本社区"):
        confirm(core, signup, staff=OTHER_ORGANISER)
    clock.move_to(at(2026, 11, 2, 11, 0))
    confirm(core, signup)
    with pytest.raises(Conflict):
        confirm(core, signup)
    assert balance(core, a) == 1.0


def test_no_show_rated_before_confirmation_gets_nothing(core, clock):
    a = volunteer(core, "13800001004")
    act = activity(core, at(2026, 11, 2, 10, 0), at(2026, 11, 2, 12, 0))
    signup = check(core, a, act)
    with core.db.unit_of_work() as session, pytest.raises(Invalid):
        activities.rate(session, ORGANISER, signup, "no_show", "")  # a zeroing rating needs a note
    with core.db.unit_of_work() as session:
        activities.rate(session, ORGANISER, signup, "no_show", "中途离开")
    clock.move_to(at(2026, 11, 2, 12, 0))
    confirm(core, signup)
    assert balance(core, a) == 0


def test_expiry_end_of_the_year_after_earning_fifo_and_exactly_once(core, clock):
    vid = volunteer(core, "13800001005")
    with core.db.unit_of_work() as session:
        ledger.post(session, vid, 10, "service", earned_year=2025, at=at(2025, 3, 1, 10))
        four = ledger.post(session, vid, 4, "service", earned_year=2025, at=at(2025, 6, 1, 10))
        ledger.reverse(session, four.id, "volunteer_admin", "重复记录")             # 2025 earned: 10
        ledger.post(session, vid, 6, "service", earned_year=2026, at=at(2026, 3, 1, 10))  # 2026 earned: 6
        ledger.post(session, vid, -7, "redemption_reserve", at=at(2026, 4, 1, 10))        # spent: 7 (oldest first)
    assert balance(core, vid) == 9  # 10 + 4 - 4 + 6 - 7
    # 2026-12-31: nothing is due yet (2025's points live until the end of 2026).
    assert ledger.post_expiry(core, at(2026, 12, 31, 23, 59)) == {"posted": {}}
    # 2027-01-01: of 2025's 10 points, 7 were spent first, so 3 expire; 2026's 6 stay.
    assert ledger.post_expiry(core, at(2027, 1, 1, 0, 5)) == {"posted": {"2025": 1}}
    assert balance(core, vid) == 6
    # Running again (another scheduler, a restart) posts nothing more.
    assert ledger.post_expiry(core, at(2027, 1, 1, 0, 6)) == {"posted": {}}
    # 2028-01-01: earned through 2026 is 16, spent 7 + expired 3 = 10, so the last 6 expire.
    assert ledger.post_expiry(core, at(2028, 1, 2, 9)) == {"posted": {"2026": 1}}
    assert balance(core, vid) == 0
    assert [p for r, p in entries(core, vid) if r == "expiry"] == [-3.0, -6.0]


def test_concurrent_expiry_runs_post_once(core):
    vid = volunteer(core, "13800001006")
    with core.db.unit_of_work() as session:
        ledger.post(session, vid, 5, "service", earned_year=2024, at=at(2024, 5, 1, 10))
    results = race(lambda i: ledger.post_expiry(core, at(2026, 11, 2, 10)), n=2)
    assert all(kind == "ok" for kind, _ in results), results
    assert balance(core, vid) == 0
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(JobRun).where(
            JobRun.job == ledger.EXPIRY_JOB, JobRun.period == "2024")) == 1


# -- QR check-in refusals ------------------------------------------------------------------------
def _no_points_and_signup(core, vid):
    with core.db.read() as session:
        return ledger.balance(session, vid), session.scalars(select(Signup).where(Signup.volunteer_id == vid)).all()


def test_forged_token_is_refused(core):
    vid = volunteer(core, "13800001007")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12))
    good = token(core, act)
    forged = good.rsplit(".", 1)[0].replace(".in.0.", ".in.0.") + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    for bad in (forged, "", "garbage", good.replace(f"{act}.in.", f"{act}.in.") + "x"):
        with pytest.raises(Invalid, match="二维码无效"):
            check(core, vid, act, tok=bad)
    # A token minted with another secret (someone who guessed the format) does not pass either.
    with core.db.read() as session:
        other, _ = activities.mint_token("another-secret", activities.get_activity(session, act), "in")
    with pytest.raises(Invalid, match="签名不符"):
        check(core, vid, act, tok=other)
    assert _no_points_and_signup(core, vid) == (0, [])


def test_expired_token_is_refused_even_if_it_worked_before(core, clock):
    a, b = volunteer(core, "13800001008"), volunteer(core, "13800001009")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12))
    tok = token(core, act)
    check(core, a, act, tok=tok)
    clock.move_to(at(2026, 11, 2, 10, 16))  # tokens live 15 minutes
    with pytest.raises(Invalid, match="过期"):
        check(core, b, act, tok=tok)
    assert _no_points_and_signup(core, b) == (0, [])


def test_token_of_another_activity_or_action_or_renewed_is_refused(core):
    vid = volunteer(core, "13800001010")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12))
    other = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12))
    with pytest.raises(Invalid, match="另一个活动"):
        check(core, vid, act, tok=token(core, other))
    with pytest.raises(Invalid, match="签退二维码"):
        check(core, vid, act, "in", tok=token(core, act, "out"))
    old = token(core, act)
    with core.db.unit_of_work() as session:
        activities.renew_qr(session, ORGANISER, act)
    with pytest.raises(Invalid, match="更换"):
        check(core, vid, act, tok=old)
    assert _no_points_and_signup(core, vid) == (0, [])


def test_second_check_in_and_check_out_before_check_in_are_refused(core):
    vid = volunteer(core, "13800001011")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12))
    with pytest.raises(Invalid, match="还没有签到"):
        check(core, vid, act, "out")
    check(core, vid, act, "in")
    with pytest.raises(Conflict, match="重复签到"):
        check(core, vid, act, "in")
    check(core, vid, act, "out")
    with pytest.raises(Conflict, match="签退过"):
        check(core, vid, act, "out")
    assert balance(core, vid) == 0  # nothing until the organiser confirms


def test_capacity_is_kept_when_the_last_places_are_raced(core):
    ids = [volunteer(core, f"1380000102{i}") for i in range(3)]
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 12), capacity=2)
    tok = token(core, act)
    results = race(lambda i: check(core, ids[i], act, tok=tok), n=3)
    assert sorted(kind for kind, _ in results) == ["error", "ok", "ok"]
    assert isinstance([r for k, r in results if k == "error"][0], Conflict)
    with core.db.read() as session:
        assert activities.taken(session, act) == 2


def test_check_in_far_from_the_activity_time_is_refused(core, clock):
    vid = volunteer(core, "13800001012")
    act = activity(core, at(2026, 11, 3, 10), at(2026, 11, 3, 12))
    with pytest.raises(Invalid, match="还没开始"):
        check(core, vid, act)
    clock.move_to(at(2026, 11, 3, 14, 30))
    with pytest.raises(Invalid, match="已结束"):
        check(core, vid, act)
