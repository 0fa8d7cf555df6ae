"""考核计分: points for cases driven through the real engine, traceable to their audit rows and
supervision items; closing a month freezes it against later rule changes; bad months are refused."""
from __future__ import annotations

import pytest

from app.cases.models import AuditEntry
from app.errors import Conflict, Invalid
from app.reports.periods import parse_month
from app.reports.scoring import close_month, month_scores, score
from app.supervision.models import SupervisionItem
from tests.conftest import at, deploy_variant
from tests.test_cli import run


def _november(driver, clock) -> dict:
    """Five cases of November 2026 (Monday 11-02 onwards); returns their numbers by letter.

    A 咨询 to 城管 (chengguan), signed, never answered: 办理超时 climbs tier 1 (11-05), tier 2 (11-11),
      tier 3 (11-17), 追责 on 11-17, then the reply 13 days late.
    B 咨询 to 城管, not signed for: 签收超时 opens tier 1 (11-05); signed and answered on 11-05, a day late.
    C 投诉 returned by 城管 and sent straight back to 城管 (退回不当), then answered in time, 满意.
    D 投诉 returned by 城管 and sent on to 社区建设办 (community_building): a justified return; 满意.
    E 投诉 to 城管 answered twice, 不满意 twice: the second is 重办后仍不满意 and opens tier 1;
      answered again at once, which stops that escalation.
    """
    n = {}
    n["A"] = driver.register(type="咨询", text="路灯不亮 A")
    driver.dispatch(n["A"])
    driver.sign(n["A"])
    n["B"] = driver.register(type="咨询", text="井盖缺失 B")
    driver.dispatch(n["B"])
    n["C"] = driver.register(text="占道经营 C")
    driver.dispatch(n["C"])
    driver.do(n["C"], "sign_for", "handler", decision="return", return_reason="不属本部门")
    driver.do(n["C"], "reassign", "dispatcher", department="chengguan", note="属城管职责")
    driver.sign(n["C"])
    n["D"] = driver.register(text="小区绿化 D")
    driver.dispatch(n["D"])
    driver.do(n["D"], "sign_for", "handler", decision="return", return_reason="属社区建设办")
    driver.do(n["D"], "reassign", "dispatcher", department="community_building")
    driver.sign(n["D"], user="handler2")
    for letter, user in (("C", "handler"), ("D", "handler2")):
        driver.reply(n[letter], user=user)
        driver.do(n[letter], "verify", "dispatcher", verify_result="passed")
        driver.do(n[letter], "follow_up", "dispatcher", satisfaction="satisfied")
    n["E"] = driver.register(text="噪音扰民 E")
    driver.dispatch(n["E"])
    driver.sign(n["E"])
    for _ in range(2):
        driver.reply(n["E"])
        driver.do(n["E"], "verify", "dispatcher", verify_result="passed")
        driver.do(n["E"], "follow_up", "dispatcher", satisfaction="unsatisfied")
    driver.reply(n["E"])

    clock.move_to(at(2026, 11, 5, 9, 0))
    # A's 办理超时, B's 签收超时, and E's 核实 by the command center, due a working day after the reply:
    # the center's own steps are supervised too, against 指挥中心 (center_deadlines.dmn)
    assert driver.fire() == 3
    driver.do(n["A"], "urge", "center", urge_note="请于三日内办结", department_response="正在协调")
    driver.sign(n["B"])
    driver.reply(n["B"])
    clock.move_to(at(2026, 11, 11, 9, 0))
    # A to tier 2 (B and E answered: their escalations wait for 核实销号); the center's late 核实 of E
    # climbs to tier 2, and B's 核实 is late now too
    assert driver.fire() == 3
    driver.do(n["A"], "interview_or_notice", "discipline", measure="interview", measure_note="约谈")
    clock.move_to(at(2026, 11, 17, 9, 0))
    assert driver.fire() == 3  # A to tier 3; the center's two items climb
    driver.do(n["A"], "accountability", "party", accountability_decision="accountability",
              responsible_person="张队长", accountability_note="拖延办理，予以问责")
    driver.reply(n["A"])
    return n


def _row(ranking, department):
    return next(r for r in ranking["rows"] if r["department"] == department)


def test_points_for_engine_driven_cases_are_traceable(core, driver, clock):
    n = _november(driver, clock)
    clock.move_to(at(2026, 11, 30, 12, 0))
    with core.db.read() as session:
        ranking = month_scores(core, session, "2026-11")
    assert ranking["closed"] is False and ranking["rules_version"] == 1
    chengguan = _row(ranking, "chengguan")
    # By the shipped table: 100 base; A: tier1 -2, tier2 -5, tier3 -10, 追责 -10, late reply -1 (-28);
    # B: 签收超时 -1 and its tier-1 item -2; signed only after its 办理 deadline (11-04) had passed, so a
    # second tier-1 item (拖延办理) opens at once -2; late reply -1 (-6). C: 退回不当 -2.
    # E: 重办后仍不满意 -3, tier1 -2 (-5). 满意率 of 城管 in November: C 满意, E 不满意 -> 1/2 = 50 %,
    # below 95 %: 0. 100 - 28 - 6 - 2 - 5 = 59.
    assert chengguan["score"] == 59
    assert chengguan["counts"] == {"month_base": 1, "satisfaction_month": 1, "sign_overdue": 1, "reply_overdue": 2,
                                   "return_unjustified": 1, "supervision_tier1": 4, "supervision_tier2": 1,
                                   "supervision_tier3": 1, "accountability": 1, "unsatisfied_after_redo": 1}
    assert chengguan["points"]["supervision_tier1"] == -8 and chengguan["points"]["satisfaction_month"] == 0
    # 社区建设办: D 满意 -> 100 %, the bonus +5; D's return was justified, so nothing against 城管 for it.
    community = _row(ranking, "community_building")
    assert community["score"] == 105 and community["counts"] == {"month_base": 1, "satisfaction_month": 1}
    assert [r["department"] for r in ranking["rows"]][0] == "community_building"
    # every unit is ranked, 指挥中心 (command_center) too, for its own late steps; 城管 comes last
    assert ranking["rows"][-1]["department"] == "chengguan" and ranking["rows"][-1]["rank"] == len(ranking["rows"])
    assert _row(ranking, "command_center")["score"] < 100
    assert _row(ranking, "police")["rank"] == 2 and _row(ranking, "police")["score"] == 100

    # Every point but the monthly ones names its case and the audit row that recorded it.
    by_case = {}
    with core.db.read() as session:
        for event in chengguan["events"]:
            if event["event"] in ("month_base", "satisfaction_month"):
                assert event["case_number"] is None
                continue
            assert event["case_number"] and event["audit_id"], event
            audit = session.get(AuditEntry, event["audit_id"])
            assert audit.at.isoformat() == event["at"]
            if event["supervision_item_id"]:
                item = session.get(SupervisionItem, event["supervision_item_id"])
                assert event["event"] == f"supervision_tier{item.tier}" and item.opened_at == audit.at
            by_case.setdefault(event["case_number"], []).append(event["event"])
    assert sorted(by_case[n["A"]]) == ["accountability", "reply_overdue", "supervision_tier1", "supervision_tier2",
                                       "supervision_tier3"]
    assert sorted(by_case[n["B"]]) == ["reply_overdue", "sign_overdue", "supervision_tier1", "supervision_tier1"]
    assert by_case[n["C"]] == ["return_unjustified"]
    assert sorted(by_case[n["E"]]) == ["supervision_tier1", "unsatisfied_after_redo"]
    assert n["D"] not in by_case
    reply = next(e for e in chengguan["events"] if e["event"] == "reply_overdue" and e["case_number"] == n["A"])
    with core.db.read() as session:
        row = session.get(AuditEntry, reply["audit_id"])
    assert row.task_bpmn_id == "handle" and row.changes["columns"]["replied_at"][1]


def test_a_closed_month_is_frozen_against_rule_changes_and_not_closed_twice(core, driver, clock):
    _november(driver, clock)
    clock.move_to(at(2026, 11, 30, 23, 59))
    with pytest.raises(Invalid, match="尚未结束"):
        close_month(core, "2026-11", actor="admin")

    clock.move_to(at(2026, 12, 1, 8, 0))
    closed = close_month(core, "2026-11", actor="admin")
    assert closed["closed"] and closed["rules_version"] == 1 and _row(closed, "chengguan")["score"] == 59
    with pytest.raises(Conflict, match="已经结账"):
        close_month(core, "2026-11", actor="admin")

    # The designer makes tier 3 cost -20 instead of -10 and deploys it as version 2.
    assert deploy_variant(core, "rules/scoring.dmn", "<text>-10</text>", "<text>-20</text>") == 2
    with core.db.read() as session:
        frozen = month_scores(core, session, "2026-11")
        live = score(core, session, parse_month("2026-11"))
    assert frozen["closed"] and frozen["rules_version"] == 1 and _row(frozen, "chengguan")["score"] == 59
    # The same month scored afresh with version 2 would differ: the freeze is what keeps it at 59.
    assert live["rules_version"] == 2 and _row(live, "chengguan")["score"] == 49


def test_the_cli_scores_closes_and_refuses(core, driver, clock, database_url):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert driver.fire() == 1  # 签收超时: -1 and a tier-1 item -2
    ranking = run("score", "month", "2026-11", url=database_url)
    assert _row(ranking, "chengguan")["score"] == 97 and ranking["closed"] is False
    assert run("score", "close", "2026-11", url=database_url, expect_ok=False).startswith("error: 2026-11 尚未结束")
    for bad in ("2026-13", "11-2026", "1999-01", "2026-1"):
        assert "error:" in run("score", "month", bad, url=database_url, expect_ok=False)
    assert "尚未开始" in run("score", "month", "2027-01", url=database_url, expect_ok=False)
    assert "error:" in run("score", "close", "2026-10-01", url=database_url, expect_ok=False)
    clock.move_to(at(2026, 12, 1, 9, 0))
    closed = run("score", "close", "2026-11", "--user", "admin", url=database_url)
    assert closed["closed"] and closed["closed_by"] == "admin" and _row(closed, "chengguan")["score"] == 97
    assert "已经结账" in run("score", "close", "2026-11", url=database_url, expect_ok=False)
    assert run("score", "month", "2026-11", url=database_url)["closed"] is True


def test_scores_pages(core, driver, clock, login):
    number = driver.register(type="咨询")
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 4, 9, 0))
    driver.fire()
    viewer = login("viewer")
    page = viewer.get("/scores?month=2026-11")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-department="chengguan"' in text and "97" in text
    detail = viewer.get("/scores/2026-11/chengguan").get_data(as_text=True)
    assert number in detail and "签收超时" in detail
    assert viewer.get("/scores?month=2026-13").status_code == 400
    assert viewer.get("/scores/2026-11/nope").status_code == 404
    # a handler sees their own department only
    handler2 = login("handler2")
    mine = handler2.get("/scores?month=2026-11").get_data(as_text=True)
    assert 'data-department="community_building"' in mine and 'data-department="chengguan"' not in mine
    assert handler2.get("/scores/2026-11/chengguan").status_code == 403
    # only admins close, and only ended months
    assert viewer.post("/scores/2026-11/close").status_code == 403
    admin = login("admin")
    assert admin.post("/scores/2026-11/close").status_code == 400
    clock.move_to(at(2026, 12, 1, 9, 0))
    assert admin.post("/scores/2026-11/close").status_code == 302
    assert "已结账" in admin.get("/scores?month=2026-11").get_data(as_text=True)
    assert admin.post("/scores/2026-11/close").status_code == 409
