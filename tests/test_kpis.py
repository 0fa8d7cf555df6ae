"""The KPIs (docs/kpis.md) of a hand-built half-autumn of cases, driven through the real engine.

Every case below is registered and worked through the service layer with time travel, the sweep
firing the real timers. The expected figures are worked out by hand from the definitions in
docs/kpis.md, with the reasoning beside each. All times are Shanghai wall-clock.

Calendar facts used (2026, State Council schedule via chinesecalendar): 10-01..10-07 are the
National Day holiday, Saturday 10-10 is a make-up working day (调休); 10-11 is a Sunday.
inquiry (咨询) cases get 2 working days, complex complaints 20, reports 15, help and suggestions 10
(bpmn/rules/deadlines.dmn); a deadline is the end (23:59:59) of its last working day. Signing for is
due 1 working day after dispatch; each supervision tier is due 3 working days after it opens.
城市管理 routes to chengguan (handler "handler", "C" below), 物业管理 to community_building
(handler "handler2", "B").
"""
from __future__ import annotations

import json
import os
import subprocess
from datetime import date

import pytest

from app.cases.visibility import case_scope
from app.reports import ledger
from app.reports.kpis import BY, KPI_KEYS, RATES, compute_kpis
from tests.conftest import at
from tests.test_cli import BIHUAN

C, B = "城市管理", "物业管理"


class Autumn:
    """Builds the fixture; ``n[k]`` is the case number of case ck."""

    def __init__(self, driver, clock):
        self.d, self.clock, self.n = driver, clock, {}

    def now(self, *args):
        self.clock.move_to(at(*args))

    def new(self, k, when, category=C, type="咨询", channel="phone", grid=None, difficulty="normal", dispatch=True):
        self.now(*when)
        self.n[k] = self.d.register(type=type, channel=channel, category=category, grid=grid,
                                    reporter_phone=f"139000000{k:02d}", address=f"和平路{k}号", text=f"第{k}件诉求")
        if dispatch:
            self.d.dispatch(self.n[k], category=category, difficulty=difficulty)
        return self.n[k]

    def sign(self, k, when, user="handler"):
        self.now(*when)
        self.d.sign(self.n[k], user=user)

    def reply(self, k, when, user="handler"):
        self.now(*when)
        self.d.reply(self.n[k], user=user)

    def fire(self, when, expected=1):
        self.now(*when)
        assert self.d.fire() == expected

    def finish(self, k, when, satisfaction="satisfied"):
        """核实销号 of any open supervision run, then 核实 and 回访, all at ``when``; a 回访 that reached
        the resident (满意, 基本满意) or could not (联系不上) closes the case in the same step (销号)."""
        self.now(*when)
        number = self.n[k]
        if "verify_close" in self.d.ready(number):
            self.d.do(number, "verify_close", "center", verify_close_note="已核实")
        self.d.do(number, "verify", "dispatcher", verify_result="passed")
        self.d.do(number, "follow_up", "dispatcher", satisfaction=satisfaction)

    def unsatisfied(self, k, when):
        self.now(*when)
        self.d.do(self.n[k], "verify", "dispatcher", verify_result="passed")
        self.d.do(self.n[k], "follow_up", "dispatcher", satisfaction="unsatisfied", follow_up_note="仍未解决")

    def build(self):
        d = self.d
        # c1 C on time. Dispatched Mon 10-12 09:00 -> due Wed 10-14 23:59; replied 10-13; closed 10-13.
        self.new(1, (2026, 10, 12, 9, 0), grid="G01")
        self.sign(1, (2026, 10, 12, 10, 0))
        self.reply(1, (2026, 10, 13, 10, 0))
        self.finish(1, (2026, 10, 13, 11, 0))
        # c2 C late, tier 1: the deadline timer fires 10-15 (delay); replied after it.
        self.new(2, (2026, 10, 12, 9, 0), channel="grid", grid="G01")
        self.sign(2, (2026, 10, 12, 10, 0))
        self.fire((2026, 10, 15, 9, 0))
        self.reply(2, (2026, 10, 15, 10, 0))
        self.finish(2, (2026, 10, 15, 11, 0), satisfaction="mostly_satisfied")
        # c3 C extended then on time: due 10-14; 3 more working days approved on 10-13 -> 10-15, 10-16,
        # 10-19 (weekend skipped) = due 10-19 23:59; replied 10-16, late for the old deadline only.
        self.new(3, (2026, 10, 12, 9, 0), channel="online")
        self.sign(3, (2026, 10, 12, 10, 0))
        self.now(2026, 10, 13, 10, 0)
        d.do(self.n[3], "handle", "handler", decision="extension_request", extension_days=3, extension_reason="需协调")
        assert d.do(self.n[3], "approve_extension", "dispatcher", extension_decision="approve")["deadline"] \
            == "2026-10-19T15:59:59+00:00"
        self.reply(3, (2026, 10, 16, 10, 0))
        self.finish(3, (2026, 10, 16, 11, 0))
        # c4 returned by C, reassigned to B at 11:00 (the last dispatch: due 10-14), on time.
        self.new(4, (2026, 10, 12, 9, 0), channel="platform")
        self.now(2026, 10, 12, 10, 0)
        d.do(self.n[4], "sign_for", "handler", decision="return", return_reason="属物业管理")
        self.now(2026, 10, 12, 11, 0)
        d.do(self.n[4], "reassign", "dispatcher", department="community_building")
        self.sign(4, (2026, 10, 12, 12, 0), user="handler2")
        self.reply(4, (2026, 10, 13, 9, 0), user="handler2")
        self.finish(4, (2026, 10, 13, 10, 0))
        # c5 C redone, still on time: 不满意 on 10-13, the redo replied 10-14 15:00 (before 10-14 23:59).
        self.new(5, (2026, 10, 12, 9, 0), channel="web")
        self.sign(5, (2026, 10, 12, 10, 0))
        self.reply(5, (2026, 10, 13, 9, 0))
        self.unsatisfied(5, (2026, 10, 13, 10, 0))
        self.reply(5, (2026, 10, 14, 15, 0))
        self.finish(5, (2026, 10, 14, 16, 0))
        # c6 B redone and late: 不满意 10-13, deadline timer fires 10-15 (tier 1), redo replied after it.
        self.new(6, (2026, 10, 12, 9, 0), category=B)
        self.sign(6, (2026, 10, 12, 10, 0), user="handler2")
        self.reply(6, (2026, 10, 13, 9, 0), user="handler2")
        self.unsatisfied(6, (2026, 10, 13, 10, 0))
        self.fire((2026, 10, 15, 8, 0))
        self.reply(6, (2026, 10, 15, 9, 0), user="handler2")
        self.finish(6, (2026, 10, 15, 10, 0), satisfaction="mostly_satisfied")
        # c7 C tier 2: tier 1 opens 10-15, due 3 working days later (10-16, 10-19, 10-20); tier 2 10-21.
        self.new(7, (2026, 10, 12, 9, 0))
        self.sign(7, (2026, 10, 12, 10, 0))
        self.fire((2026, 10, 15, 9, 0))
        d.do(self.n[7], "urge", "center", urge_note="请尽快办结", department_response="正在处理")
        self.fire((2026, 10, 21, 9, 0))
        self.reply(7, (2026, 10, 21, 10, 0))
        self.finish(7, (2026, 10, 21, 11, 0))
        # c8 C tier 3 and 追责: tier 2 opens 10-21, due 10-22, 10-23, 10-26; tier 3 opens 10-27.
        self.new(8, (2026, 10, 12, 9, 0), channel="platform")
        self.sign(8, (2026, 10, 12, 10, 0))
        self.fire((2026, 10, 15, 9, 0))
        d.do(self.n[8], "urge", "center", urge_note="请尽快办结", department_response="正在处理")
        self.fire((2026, 10, 21, 9, 0))
        d.do(self.n[8], "interview_or_notice", "discipline", measure="interview", measure_note="约谈负责人")
        self.fire((2026, 10, 27, 9, 0))
        self.now(2026, 10, 27, 10, 0)
        d.do(self.n[8], "accountability", "party", accountability_decision="accountability",
             responsible_person="张队长", accountability_note="拖延办理，予以问责")
        self.reply(8, (2026, 10, 27, 11, 0))
        self.finish(8, (2026, 10, 27, 12, 0))
        # c9 C sign-for overdue: dispatched Fri 10-16 (sign-for due Mon 10-19, reply due Tue 10-20);
        # the sign-for timer fires 10-20 09:00; signed and replied the same morning, on time.
        self.new(9, (2026, 10, 16, 9, 0), channel="grid", grid="G02")
        self.fire((2026, 10, 20, 9, 0))
        self.sign(9, (2026, 10, 20, 10, 0))
        self.reply(9, (2026, 10, 20, 11, 0))
        self.finish(9, (2026, 10, 20, 12, 0))
        # c10 refused, c11 merged into c1, c12 refused at 00:30 on 10-01 Shanghai (16:30 UTC on 09-30).
        self.new(10, (2026, 10, 12, 9, 0), dispatch=False)
        self.now(2026, 10, 12, 9, 30)
        d.do(self.n[10], "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
        self.new(11, (2026, 10, 13, 9, 0), channel="web", dispatch=False)
        self.now(2026, 10, 13, 9, 30)
        d.do(self.n[11], "dispatch", "dispatcher", decision="merge_duplicate", duplicate_of=self.n[1])
        self.new(12, (2026, 9, 30, 22, 0), dispatch=False)
        self.now(2026, 10, 1, 0, 30)
        d.do(self.n[12], "dispatch", "dispatcher", decision="refuse", refuse_reason="重复来电")
        # c13 C across the month and the holiday: dispatched Tue 09-29 -> 09-30, (holiday), 10-08: due 10-08.
        self.new(13, (2026, 9, 29, 9, 0))
        self.sign(13, (2026, 9, 29, 10, 0))
        self.reply(13, (2026, 10, 8, 16, 0))
        self.finish(13, (2026, 10, 9, 10, 0))
        # c14 C late over the holiday: dispatched 09-30 -> due 10-09; the timer fires on the working
        # Saturday 10-10 (tier 1); replied then; the follow-up cannot reach the resident.
        self.new(14, (2026, 9, 30, 9, 0), channel="online")
        self.sign(14, (2026, 9, 30, 10, 0))
        self.fire((2026, 10, 10, 8, 0))
        self.reply(14, (2026, 10, 10, 9, 0))
        self.finish(14, (2026, 10, 10, 10, 0), satisfaction="unreachable")
        # c15 C all in September; c16 C all in November.
        self.new(15, (2026, 9, 21, 9, 0))
        self.sign(15, (2026, 9, 21, 10, 0))
        self.reply(15, (2026, 9, 22, 10, 0))
        self.finish(15, (2026, 9, 22, 11, 0))
        self.new(16, (2026, 11, 2, 9, 0))
        self.sign(16, (2026, 11, 2, 10, 0))
        self.reply(16, (2026, 11, 3, 10, 0))
        self.finish(16, (2026, 11, 3, 11, 0))
        # c17 C complex complaint, 20 working days from 10-12: 10-13..16 (4), 19..23 (9), 26..30 (14),
        # 11-02..06 (19), 11-09 (20): due in November, closed in October.
        self.new(17, (2026, 10, 12, 9, 0), type="投诉", difficulty="complex")
        self.sign(17, (2026, 10, 12, 10, 0))
        self.reply(17, (2026, 10, 20, 10, 0))
        self.finish(17, (2026, 10, 20, 11, 0))
        # c18 B report, 15 working days from Thu 10-08: 10-09 (1), Sat 10-10 (2), 12..16 (7), 19..23 (12),
        # 26, 27, 28 (15): due 10-28 23:59, replied 10-28 23:00.
        self.new(18, (2026, 10, 8, 9, 0), category=B, type="举报", channel="web")
        self.sign(18, (2026, 10, 8, 10, 0), user="handler2")
        self.reply(18, (2026, 10, 28, 23, 0), user="handler2")
        self.finish(18, (2026, 10, 29, 10, 0))
        # c19 C on time, the resident unreachable at follow-up.
        self.new(19, (2026, 10, 12, 9, 0), channel="grid", grid="G01")
        self.sign(19, (2026, 10, 12, 10, 0))
        self.reply(19, (2026, 10, 13, 9, 0))
        self.finish(19, (2026, 10, 13, 10, 0), satisfaction="unreachable")
        # c20 B help, 10 working days from Mon 10-19: 10-20..23 (4), 26..30 (9), 11-02 (10): due in November.
        self.new(20, (2026, 10, 19, 9, 0), category=B, type="求助", channel="grid", grid="G02")
        self.sign(20, (2026, 10, 19, 10, 0), user="handler2")
        self.reply(20, (2026, 10, 22, 9, 0), user="handler2")
        self.finish(20, (2026, 10, 22, 10, 0))
        # c21 B suggestion, due 11-09 (10 working days from 10-26); followed up and closed on 10-27.
        self.new(21, (2026, 10, 26, 9, 0), category=B, type="建议", channel="online")
        self.sign(21, (2026, 10, 26, 10, 0), user="handler2")
        self.reply(21, (2026, 10, 27, 9, 0), user="handler2")
        self.finish(21, (2026, 10, 27, 10, 0))
        # c22 returned twice (C, then B disputing jurisdiction): 推诿扯皮 tier 1 opens 10-19 against B
        # (buck_passing.dmn: a return disputing jurisdiction); reassigned back to C at 13:00 (due 10-21),
        # signed and replied on time.
        self.new(22, (2026, 10, 19, 9, 0), channel="platform")
        self.now(2026, 10, 19, 10, 0)
        d.do(self.n[22], "sign_for", "handler", decision="return", return_reason="非本部门")
        self.now(2026, 10, 19, 11, 0)
        d.do(self.n[22], "reassign", "dispatcher", department="community_building")
        self.now(2026, 10, 19, 12, 0)
        d.do(self.n[22], "sign_for", "handler2", decision="return", return_type="jurisdiction_dispute",
             return_reason="与城管职责交叉")
        self.now(2026, 10, 19, 13, 0)
        d.do(self.n[22], "reassign", "dispatcher", department="chengguan")
        self.sign(22, (2026, 10, 19, 14, 0))
        self.reply(22, (2026, 10, 20, 9, 0))
        self.finish(22, (2026, 10, 20, 10, 0))
        # Still open at the end (their timers never fired: no sweep runs after them).
        # c23 B 不满意 twice: redo 1 replied 10-27 10:00 (due 10-28), the second 不满意 opens tier 1.
        self.new(23, (2026, 10, 26, 9, 0), category=B)
        self.sign(23, (2026, 10, 26, 10, 0), user="handler2")
        self.reply(23, (2026, 10, 26, 15, 0), user="handler2")
        self.unsatisfied(23, (2026, 10, 26, 16, 0))
        self.reply(23, (2026, 10, 27, 10, 0), user="handler2")
        self.unsatisfied(23, (2026, 10, 27, 11, 0))
        # c24 C signed for, never replied: due 10-28, overdue. c25 B help due 11-30, not due yet.
        self.new(24, (2026, 10, 26, 9, 0))
        self.sign(24, (2026, 10, 26, 10, 0))
        self.new(25, (2026, 11, 16, 9, 0), category=B, type="求助")
        self.sign(25, (2026, 11, 16, 10, 0), user="handler2")
        # c26 registered, never dispatched: in the ledger, in no KPI.
        self.new(26, (2026, 10, 30, 9, 0), dispatch=False)
        # The figures are read on 11-20 10:00.
        self.now(2026, 11, 20, 10, 0)
        return self


@pytest.fixture
def autumn(driver, clock):
    return Autumn(driver, clock).build()


def kpis(core, start, end, by=None, user=None):
    with core.db.read() as session:
        scope = None
        if user is not None:
            from app.auth.services import find_user
            scope = case_scope(find_user(session, user))
        return compute_kpis(session, start=start, end=end, by=by, scope=scope)


def figures(row, *keys):
    return {k: (row[k + "_num"], row[k + "_den"]) for k in keys}


OCT = (date(2026, 10, 1), date(2026, 10, 31))


def test_october_kpis_by_hand(core, autumn):
    total = kpis(core, *OCT)["total"]
    # 按期回复率: deadline in October and decided (replied, or the deadline has passed by 11-20):
    # c1 c2 c3 c4 c5 c6 c7 c8 c9 c13 c14 c18 c19 c22 c23 c24 = 16 (c17/c20/c21 fall due in November,
    # c15 in September). On time: c1, c3 (extended to 10-19), c4 (its reassigned deadline), c5 (redo
    # before the deadline), c9, c13, c18 (23:00 on the day), c19, c22, c23 (its last reply 10-27) = 10.
    # Late: c2, c6, c7, c8, c14 (replied after their timers fired), c24 (never replied).
    assert figures(total, "on_time_reply_rate")["on_time_reply_rate"] == (10, 16)
    assert total["on_time_reply_rate"] == pytest.approx(10 / 16)
    # 及时签收率: last dispatched in October: c1..c9 except the refused/merged, c17..c24 = 17
    # (c13/c14 were dispatched in September, c16/c25 in November). c9's 签收超时 item makes it late: 16.
    assert figures(total, "on_time_sign_rate")["on_time_sign_rate"] == (16, 17)
    # 办结率: the same 16 cases due in October; all closed but c23 (redoing) and c24 (overdue): 14.
    assert figures(total, "closure_rate")["closure_rate"] == (14, 16)
    assert total["closure_rate"] == pytest.approx(0.875)
    # 满意率: last follow-up in October that reached the resident: c1 c2 c3 c4 c5 c6 c7 c8 c9 c13 c17 c18
    # c20 c21 c22 c23 = 16 (c14 and c19 unreachable). 满意/基本满意: all but c23 = 15; 不满意: c23 = 1.
    assert figures(total, "satisfaction_rate", "dissatisfaction_rate") == {
        "satisfaction_rate": (15, 16), "dissatisfaction_rate": (1, 16)}
    # 重办率: closed (销号) in October: c1..c9 (less c10/c11/c12), c13 c14 c17 c18 c19 c20 c21 c22 = 17;
    # redone: c5, c6 = 2.
    assert figures(total, "redo_rate")["redo_rate"] == (2, 17)
    assert total["redo_rate"] == pytest.approx(2 / 17)
    # 回退率: the 17 dispatched in October; returned at least once: c4, c22 = 2.
    assert figures(total, "return_rate")["return_rate"] == (2, 17)
    # Counts: closed 17 as above; refused c10 and c12 (00:30 on 10-01 Shanghai is October); merged c11.
    assert (total["closed_count"], total["refused_count"], total["merged_count"]) == (17, 2, 1)
    # Supervision items opened in October: tier 1 for c2 c6 c7 c8 c14 (delay), c9 (sign-for), c22
    # (buck passing), c23 (unsatisfied after redo) = 8; tier 2 c7 c8 = 2; tier 3 c8 = 1; 追责 c8 = 1.
    assert (total["supervision_tier1"], total["supervision_tier2"], total["supervision_tier3"]) == (8, 2, 1)
    # By reason, every tier: delay = 5 tier-1 + 2 tier-2 (c7, c8) + 1 tier-3 (c8) = 8; the others 1 each.
    assert total["supervision_reasons"] == {"buck_passing": 1, "delay": 8, "sign_overdue": 1,
                                            "unsatisfied_after_redo": 1}
    assert total["accountability_count"] == 1
    # Handling working days, registration day to 销号 day, for the 17 closed in October:
    # c1 1, c2 3 (13,14,15), c3 4, c4 1, c5 2, c6 3, c7 7 (13..16,19,20,21), c8 11 (13..16,19..23,26,27),
    # c9 2 (19,20), c13 3 (09-30,10-08,10-09), c14 3 (10-08,10-09,Sat 10-10), c17 6, c18 16
    # (10-09, 10-10, 12..16, 19..23, 26..29), c19 1, c20 3, c21 1 (10-27), c22 1.
    # Sorted: 1 1 1 1 1 2 2 3 3 3 3 3 4 6 7 11 16; sum 68; mean 68/17 = 4.0; P90 = the 16th of 17 = 11.
    assert total["handling_count"] == 17
    assert total["handling_days_avg"] == pytest.approx(4.0)
    assert total["handling_days_p90"] == 11


def test_breakdowns_scope_and_other_months(core, autumn):
    rows = {r["key"]: r for r in kpis(core, *OCT, by="department")["rows"]}
    # B (community_building) owns c4 c6 c18 c20 c21 c23 at the end; due in October and decided:
    # c4 (on time), c6 (late), c18 (on time), c23 (on time) -> 3 / 4. C has the other 12: 7 on time.
    assert figures(rows["community_building"], "on_time_reply_rate")["on_time_reply_rate"] == (3, 4)
    assert figures(rows["chengguan"], "on_time_reply_rate")["on_time_reply_rate"] == (7, 12)
    assert rows["community_building"]["label"] == "社区建设办"
    # Refused and merged cases never reach a department: they are the row without one.
    assert (rows[None]["refused_count"], rows[None]["merged_count"]) == (2, 1)
    # A handler sees only their department: the totals are chengguan's row.
    mine = kpis(core, *OCT, user="handler")
    assert mine["rows"] == [] and figures(mine["total"], "on_time_reply_rate")["on_time_reply_rate"] == (7, 12)
    assert mine["total"]["refused_count"] == 0
    # by channel: phone cases due in October are c1 c6 c7 c13 c23 c24 -> on time c1 c13 c23.
    channels = {r["key"]: r for r in kpis(core, *OCT, by="channel")["rows"]}
    assert figures(channels["phone"], "on_time_reply_rate")["on_time_reply_rate"] == (3, 6)
    assert channels["phone"]["label"] == "公众电话投诉"
    # by grid: G01 = c1 c2 c19 (closed in October, none redone); G02 = c9, c20.
    grids = {r["key"]: r for r in kpis(core, *OCT, by="grid")["rows"]}
    assert figures(grids["G01"], "redo_rate")["redo_rate"] == (0, 3)
    assert figures(grids["G02"], "on_time_sign_rate")["on_time_sign_rate"] == (1, 2)  # c9 late, c20 on time
    # by type: the complex complaint c17 is the only complaint; signed on time.
    types = {r["key"]: r for r in kpis(core, *OCT, by="type")["rows"]}
    assert types["complaint"]["label"] == "投诉" and types["complaint"]["on_time_sign_rate"] == 1.0
    # September: c15 due 09-23 replied on time; dispatched in September: c13, c14, c15, all signed on time.
    sept = kpis(core, date(2026, 9, 1), date(2026, 9, 30))["total"]
    assert figures(sept, "on_time_reply_rate", "on_time_sign_rate") == {
        "on_time_reply_rate": (1, 1), "on_time_sign_rate": (3, 3)}
    assert sept["refused_count"] == 0  # c12 was refused after midnight Shanghai
    # November (read on 11-20): due in November: c16 11-04, c20 11-02, c17 11-09, c21 11-09, all replied
    # on time; c25 (due 11-30, not replied) is not decided yet. Closed: all 4 (c21 already on 10-27).
    nov = kpis(core, date(2026, 11, 1), date(2026, 11, 30))["total"]
    assert figures(nov, "on_time_reply_rate", "closure_rate") == {
        "on_time_reply_rate": (4, 4), "closure_rate": (4, 4)}
    # A range with nothing in it: every rate null, never a division error.
    empty = kpis(core, date(2025, 1, 1), date(2025, 1, 31))["total"]
    assert all(empty[k] is None for k in RATES) and empty["handling_days_avg"] is None


def test_every_figure_drills_down_to_exactly_its_ledger_rows(core, autumn, login):
    data = kpis(core, *OCT, by="department")
    with core.db.read() as session:
        for key in KPI_KEYS:
            for part in ("num", "den"):
                f = ledger.parse_filter(session, {"kpi": key, "part": part, "from": "2026-10-01", "to": "2026-10-31"})
                expected = (data["total"][key + "_" + part] if key in RATES
                            else data["total"][key] if part == "num" else None)
                if expected is not None:
                    assert ledger.count(session, f) == expected, (key, part)
        f = ledger.parse_filter(session, {"kpi": "on_time_reply_rate", "part": "num", "from": "2026-10-01",
                                          "to": "2026-10-31", "department": "community_building"})
        rows = ledger.page(session, f)["rows"]
    assert sorted(r["number"] for r in rows) == sorted(autumn.n[k] for k in (4, 18, 23))
    # The page: the KPI table links each figure to the ledger, and the ledger shows those rows.
    client = login("viewer")
    page = client.get("/kpis?from=2026-10-01&to=2026-10-31&by=department").get_data(as_text=True)
    assert "kpi=on_time_reply_rate&amp;part=num&amp;from=2026-10-01&amp;to=2026-10-31&amp;department=community_building" in page
    ledger_page = client.get("/ledgers?kpi=on_time_reply_rate&part=num&from=2026-10-01&to=2026-10-31"
                             "&department=community_building").get_data(as_text=True)
    assert all(autumn.n[k] in ledger_page for k in (4, 18, 23)) and autumn.n[6] not in ledger_page


def test_cli_kpi_and_its_bad_input(core, autumn, tmp_path):
    env = {**os.environ, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": at(2026, 11, 20, 10, 0).isoformat(),
           "BIHUAN_DATABASE_URL": os.environ["BIHUAN_DATABASE_URL"]}

    def run(*args):
        return subprocess.run([BIHUAN, *args], capture_output=True, text=True, env=env, timeout=120)
    result = run("kpi", "--from", "2026-10-01", "--to", "2026-10-31", "--by", "department")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["from"], data["to"], data["by"]) == ("2026-10-01", "2026-10-31", "department")
    assert data["total"]["on_time_reply_rate_num"] == 10 and data["total"]["on_time_reply_rate_den"] == 16
    for args, message in ((("--from", "2026-10-32", "--to", "2026-11-01"), "invalid from date"),
                          (("--from", "2026-11-01", "--to", "2026-10-01"), "before it starts"),
                          (("--from", "2020-01-01", "--to", "2026-01-01"), "longer than 5 years"),
                          (("--from", "2026-10-01", "--to", "2026-10-31", "--by", "street"), "unknown breakdown")):
        result = run("kpi", *args)
        assert result.returncode == 1 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_the_kpi_rollup_equals_the_cases_themselves(core, autumn):
    """Unscoped figures come from report_kpi_daily, kept by the projection action by action; a
    scope (here one that lets every case through) makes compute_kpis count the case rows instead.
    ``true()``, what case_scope gives a leader, is no scope at all: it must read the rollup.
    Both must agree for every breakdown and range, and a rebuild from scratch must give the same
    table as the action-by-action upkeep."""
    from sqlalchemy import select, true

    from app.cases.models import Case
    from app.reports import kpis as kpis_module
    from app.reports.kpi_rollup import COUNTERS, KpiDaily, KpiHandling
    from app.reports.rollups import rebuild
    ranges = (OCT, (date(2026, 9, 1), date(2026, 11, 30)), (date(2026, 11, 1), date(2026, 11, 30)),
              (date(2026, 10, 8), date(2026, 10, 8)))
    with core.db.read() as session:
        for by in (None, *BY):
            for start, end in ranges:
                rolled = compute_kpis(session, start=start, end=end, by=by)
                live = compute_kpis(session, start=start, end=end, by=by, scope=Case.id.is_not(None))
                assert rolled == live, (by, start, end)
    # A leader's page (scope true()) reads the rollup, not the cases: _live is never called.
    calls = []
    real_live = kpis_module._live
    kpis_module._live = lambda *a, **k: calls.append(a) or real_live(*a, **k)
    try:
        with core.db.read() as session:
            compute_kpis(session, start=OCT[0], end=OCT[1], by="department", scope=true())
    finally:
        kpis_module._live = real_live
    assert calls == []

    def table():
        with core.db.read() as session:
            daily = {(r.dim, r.day, r.key): tuple(getattr(r, n) for n in COUNTERS)
                     for r in session.scalars(select(KpiDaily))}
            hist = {(r.dim, r.day, r.key, r.days): r.cases for r in session.scalars(select(KpiHandling))}
        return ({k: v for k, v in daily.items() if any(v)}, {k: v for k, v in hist.items() if v})

    kept = table()
    assert kept[0] and kept[1]
    with core.db.unit_of_work() as session:
        rebuild(session)
    assert table() == kept


def test_ranges_take_exactly_yyyy_mm_dd():
    """Like every date a person types (app/calendar/services.py iso_day): 20261101 is not accepted
    as 2026-11-01, although the error text asks for YYYY-MM-DD."""
    from app.errors import Invalid
    from app.reports.kpis import parse_range
    assert parse_range("2026-11-01", "2026-11-30") == (date(2026, 11, 1), date(2026, 11, 30))
    for bad in ("20261101", "2026-W44-1", "2026-11-1"):
        with pytest.raises(Invalid, match="YYYY-MM-DD"):
            parse_range(bad, "2026-11-30")
