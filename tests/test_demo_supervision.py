"""The demo shows supervision on first login: past cases driven through the real engine under a
shifted clock, and `bihuan timers fire --now` to advance time in a demo."""
from __future__ import annotations

from app.cases.models import AuditEntry
from app.demo_cases import seed_past_cases
from app.supervision.board import board_rows
from tests.conftest import at
from tests.test_cli import run
from workflows.clock import utcnow


def test_past_cases_fill_every_tiers_board(core, clock):
    assert seed_past_cases(core) == 5
    now = utcnow()
    with core.db.read() as session:
        boards = {tier: board_rows(session, tier, now, calendar=core.calendar.current()) for tier in (1, 2, 3)}
        registered = sorted(a.at for a in session.query(AuditEntry).filter(AuditEntry.action == "register"))
    assert all(boards.values()), {t: len(r) for t, r in boards.items()}
    reasons = {(t, r.reason, r.department) for t, rows in boards.items() for r in rows}
    assert (3, "delay", "chengguan") in reasons
    assert (2, "sign_overdue", "community_building") in reasons
    assert (1, "buck_passing", "chengguan") in reasons
    assert (1, "center_overdue", "command_center") in reasons
    assert all(r.days_overdue >= 1 for rows in boards.values() for r in rows if r.reason != "buck_passing")
    # driven in the past, not written: the history starts 12 working days back (Thursday 10-15)
    assert registered[0] == at(2026, 10, 15, 9, 0)
    tier3 = boards[3][0]
    assert tier3.last_action and tier3.last_action["name"] == "约谈/通报"


def test_timers_fire_now_advances_a_demo(core, database_url, clock):
    number = core.cases.register(channel="phone", type="咨询", text="咨询垃圾分类", user="operator")["number"]
    assert run("timers", "fire", url=database_url) == {"fired": 0}
    result = run("timers", "fire", "--now", "2026-11-04T09:00+08:00", url=database_url)
    assert result["fired"] == 1 and result["now"].startswith("2026-11-04T09:00")
    item = core.cases.show(number)["supervision"][0]
    assert (item["reason"], item["step"], item["opened_at"]) == ("center_overdue", "dispatch", "2026-11-04T01:00:00+00:00")


def test_timers_fire_now_refuses_a_bad_instant(core, database_url):
    assert "UTC offset" in run("timers", "fire", "--now", "2026-11-04T09:00", url=database_url, expect_ok=False)
    assert "ISO instant" in run("timers", "fire", "--now", "next week", url=database_url, expect_ok=False)
