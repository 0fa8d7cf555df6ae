"""分析影响 (what-if): a hand-built August of 20 cases through the real engine, replayed under a draft.

The draft changes two rules (docs/whatif.md):
* deadlines.dmn: 投诉 (complaint, normal difficulty) 15 → 10 working days;
* routing.dmn:   物业管理 → chengguan (城管) instead of community_building.

Calendar facts (2026, chinesecalendar): August and early September have no holiday, so working days
are Monday–Friday. A deadline is the end (23:59:59 Shanghai) of its last working day. Every case is
registered and dispatched at 09:00 and signed for at 10:00 the same day (so no 签收超时 anywhere).
Supervision: a run opens when the deadline passes unanswered (tier 1), tier 2 opens 3 working days
later, tier 3 another 3 working days later (supervision_escalation.bpmn). Points (scoring.dmn):
reply_overdue −1, tier 1 −2, tier 2 −5, tier 3 −10.

Dispatch Mon 08-03: 投诉 due 08-24 (15 wd) today, 08-17 (10 wd) under the draft; 建议 10 wd → 08-17;
咨询 2 wd → 08-05; complex 投诉 20 wd → 08-31; 举报 15 wd → 08-24.
Under the draft an 投诉 that passes 08-17: tier 1 until 08-20, tier 2 until 08-25, then tier 3.
Today an 投诉 that passes 08-24: tier 1 until 08-27, tier 2 until 09-01, then tier 3.
The replay runs "now" = Tue 09-01 10:00.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from app.processes import drafts, whatif, whatif_runs
from app.processes.models import ProcessVersion, WhatifRun
from tests.conftest import at, race
from tests.test_cli import BIHUAN

C, P = "城市管理", "物业管理"
COMPLAINT_RULE = '<outputEntry id="deadlines_rule_9_days"><text>15</text>'
PROPERTY_RULE = '<outputEntry id="routing_rule_4_department"><text>"community_building"</text>'
RANGE = ("2026-08-01", "2026-08-31")
NOW = (2026, 9, 1, 10, 0)


class August:
    def __init__(self, driver, clock):
        self.d, self.clock, self.n = driver, clock, {}

    def now(self, *args):
        self.clock.move_to(at(*args))

    def case(self, key, day, type_="投诉", category=C, difficulty="normal", reply=None, user="handler"):
        """Registered, dispatched (09:00) and signed for (10:00) on ``day`` of August; replied at
        ``reply`` = (month, day, hour, minute) if given."""
        self.now(2026, 8, day, 9, 0)
        number = self.d.register(type=type_, category=category, reporter_phone=f"1390000{len(self.n):04d}",
                                 address=f"和平路{len(self.n)}号", text=f"第{key}件")
        self.d.dispatch(number, category=category, difficulty=difficulty)
        self.now(2026, 8, day, 10, 0)
        self.d.sign(number, user=user)
        self.n[key] = (number, reply, user)

    def replies(self):
        # replies in time order, so the clock only moves forward
        for key, (number, reply, user) in sorted(self.n.items(), key=lambda kv: kv[1][1] or (99,)):
            if reply:
                self.now(2026, *reply)
                self.d.reply(number, user=user)

    def build(self):
        # A: 投诉 城市管理 dispatched 08-03 → due 08-24 today, 08-17 under the draft.
        self.case("A1", 3, reply=(8, 5, 10, 0))    # on time either way
        self.case("A2", 3, reply=(8, 14, 10, 0))   # on time either way
        self.case("A3", 3, reply=(8, 17, 15, 0))   # 08-17 15:00 ≤ 08-17 23:59:59: still on time
        self.case("A4", 3, reply=(8, 18, 10, 0))   # draft: overdue, before 08-20 → tier 1
        self.case("A5", 3, reply=(8, 21, 10, 0))   # draft: overdue, past 08-20 → tier 2
        self.case("A6", 3, reply=(8, 24, 20, 0))   # today on time (08-24 23:59); draft tier 2
        self.case("A7", 3, reply=(8, 26, 10, 0))   # today overdue tier 1 (< 08-27); draft past 08-25 → tier 3
        self.case("A8", 3)                          # open; now 09-01 10:00: today tier 2 (< 09-01 23:59), draft tier 3
        # B: 建议 (10 wd both sides) → due 08-17; unchanged whatever happens.
        self.case("B1", 3, type_="建议", reply=(8, 5, 10, 0))
        self.case("B2", 3, type_="建议", reply=(8, 10, 10, 0))
        self.case("B3", 3, type_="建议", reply=(8, 14, 10, 0))
        self.case("B4", 3, type_="建议", reply=(8, 20, 10, 0))  # overdue both, tier 1 (before 08-20 23:59)
        # C: 物业管理 (community_building, handler2) → chengguan under the draft.
        self.case("C1", 3, type_="咨询", category=P, reply=(8, 4, 10, 0), user="handler2")  # on time, moves
        self.case("C2", 3, type_="咨询", category=P, reply=(8, 6, 10, 0), user="handler2")  # due 08-05: overdue t1
        self.case("C3", 3, category=P, reply=(8, 18, 10, 0), user="handler2")  # moves and becomes overdue t1
        # D: complex 投诉 (20 wd, unchanged) → due 08-31.
        self.case("D1", 3, difficulty="complex", reply=(8, 25, 10, 0))
        self.case("D2", 3, difficulty="complex", reply=(8, 19, 10, 0))
        # E: 投诉 dispatched Mon 08-10 → due 08-31 today, 08-24 under the draft (tier 1 until 08-27).
        self.case("E1", 10, reply=(8, 21, 10, 0))  # on time either way: the deadline moves, the outcome not
        self.case("E2", 10, reply=(8, 26, 10, 0))  # draft: overdue, tier 1
        # G: 举报 15 wd, unchanged → due 08-24.
        self.case("G1", 3, type_="举报", reply=(8, 18, 10, 0))
        self.replies()
        # F: registered 07-31, outside the range: never counted.
        self.now(2026, 7, 31, 9, 0)
        number = self.d.register(type="投诉", category=C, reporter_phone="13900009999", address="外面", text="范围外")
        self.d.dispatch(number, category=C)
        self.outside = number
        self.now(*NOW)
        return self


@pytest.fixture
def august(driver, clock):
    return August(driver, clock).build()


def edit_draft(core, path: str, old: str, new: str, actor="designer") -> int:
    with core.db.unit_of_work() as session:
        draft = drafts.open_draft(session, actor)
        text = draft.files[path]
        assert old in text, (path, old)
        return drafts.save_draft_file(session, path=path, text=text.replace(old, new, 1),
                                      base_revision=draft.revision, actor=actor).revision


@pytest.fixture
def draft(core, august):
    edit_draft(core, "rules/deadlines.dmn", COMPLAINT_RULE, COMPLAINT_RULE.replace(">15<", ">10<"))
    return edit_draft(core, "rules/routing.dmn", PROPERTY_RULE, PROPERTY_RULE.replace("community_building",
                                                                                       "chengguan"))


def request():
    return whatif.parse_request(*RANGE)


def wait(core, run_id, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = whatif_runs.get(core, run_id)
        if run.status not in whatif_runs.ACTIVE:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {run.status}")


def test_the_replay_against_figures_worked_out_by_hand(core, august, draft):
    result = whatif.run(core, request())
    n = {k: v[0] for k, v in august.n.items()}
    assert result["status"] == "done" and result["total"] == 20 and result["processed"] == 20
    assert result["unreconstructed"] == 0  # every recorded deadline is what today's rules give
    # Changed: A4–A8 (投诉 past the new 08-17), C1–C3 (moved to chengguan; C3 also late), E2 (past 08-24).
    # Unchanged: A1–A3 (before 08-17 23:59), B (建议), D (complex), E1 (moved deadline, still on time), G1.
    changed = {c["number"]: c for c in result["changed"]}
    assert set(changed) == {n[k] for k in ("A4", "A5", "A6", "A7", "A8", "C1", "C2", "C3", "E2")}
    assert result["changed_count"] == 9 and august.outside not in changed
    a5 = changed[n["A5"]]
    assert (a5["deployed"]["on_time"], a5["draft"]["overdue"], a5["draft"]["tier"]) == (True, True, 2)
    assert [r["code"] for r in a5["reasons"]] == ["days", "became_overdue", "tier"]
    assert a5["reasons"][0]["params"] == {"old": 15, "new": 10, "old_due": "2026-08-24", "new_due": "2026-08-17"}
    assert (changed[n["A7"]]["deployed"]["tier"], changed[n["A7"]]["draft"]["tier"]) == (1, 3)
    assert (changed[n["A8"]]["deployed"]["tier"], changed[n["A8"]]["draft"]["tier"]) == (2, 3)
    c1 = changed[n["C1"]]
    assert (c1["deployed"]["department"], c1["draft"]["department"]) == ("community_building", "chengguan")
    assert [r["code"] for r in c1["reasons"]] == ["department"]
    # 按期回复率: all 20 are decided (19 replied, A8 past due either way).
    # Today overdue: A7, A8, B4, C2 → 16/20. Draft adds A4, A5, A6, C3, E2 → 11/20.
    d, w = result["deployed"]["total"], result["draft"]["total"]
    assert (d["on_time_num"], d["on_time_den"], d["on_time_reply_rate"]) == (16, 20, 0.8)
    assert (w["on_time_num"], w["on_time_den"], w["on_time_reply_rate"]) == (11, 20, 0.55)
    assert (d["overdue"], w["overdue"]) == (4, 9)
    # Tiers (each tier a run reached counts once). Today: A7 t1, A8 t1+t2, B4 t1, C2 t1 → 4/1/0.
    # Draft: t1 A4 A5 A6 A7 A8 B4 C2 C3 E2 = 9; t2 A5 A6 A7 A8 = 4; t3 A7 A8 = 2.
    assert (d["tier1"], d["tier2"], d["tier3"]) == (4, 1, 0)
    assert (w["tier1"], w["tier2"], w["tier3"]) == (9, 4, 2)
    assert (d["sign_overdue"], w["sign_overdue"]) == (0, 0)
    # Points: today 4×−1 + 4×−2 + 1×−5 = −17; draft 9×−1 + 9×−2 + 4×−5 + 2×−10 = −67.
    assert (d["points"], w["points"]) == (-17, -67)
    # Per department: today chengguan A7 (−3) A8 (−8) B4 (−3) = −14, community_building C2 (−3);
    # under the draft the C cases are chengguan's: community_building has none, chengguan all −67.
    assert result["deployed"]["departments"]["chengguan"]["points"] == -14
    assert result["deployed"]["departments"]["community_building"]["points"] == -3
    assert result["deployed"]["departments"]["community_building"]["cases"] == 3
    assert "community_building" not in result["draft"]["departments"]
    assert result["draft"]["departments"]["chengguan"]["cases"] == 20
    # The two rule changes were replayed; nothing else changed.
    assert {(e["file"], e["why"]) for e in result["replayed"]} == {("rules/deadlines.dmn", "decision:deadlines"),
                                                                   ("rules/routing.dmn", "decision:routing")}
    assert result["not_replayed"] == []


def test_a_subset_and_an_empty_range(core, august, draft, login):
    only = whatif.run(core, whatif.parse_request(*RANGE, type="建议"))
    assert only["total"] == 4 and only["changed_count"] == 0
    empty = whatif.run(core, whatif.parse_request("2026-06-01", "2026-06-30"))
    assert empty["total"] == 0 and empty["changed"] == [] and empty["deployed"]["total"]["on_time_reply_rate"] is None
    client = login("designer")
    response = client.post("/designer/whatif", data={"from": "2026-06-01", "to": "2026-06-30"})
    run = wait(core, int(response.location.rstrip("/").rsplit("/", 1)[1]))
    page = client.get(f"/designer/whatif/{run.id}").get_data(as_text=True)
    assert 'id="whatif-empty"' in page and "没有案件" in page


def test_a_new_task_is_reported_as_not_replayable(core, august):
    flow = '<bpmn:sequenceFlow id="f_signed_handle" sourceRef="signed" targetRef="handle_merge" />'
    with core.db.read() as session:
        text = drafts.draft_files(session)["case_lifecycle.bpmn"]
    assert flow in text
    new = ('<bpmn:sequenceFlow id="f_signed_handle" sourceRef="signed" targetRef="double_check" />'
           '<bpmn:scriptTask id="double_check" name="二次核对"><bpmn:incoming>f_signed_handle</bpmn:incoming>'
           '<bpmn:outgoing>f_double_check_handle</bpmn:outgoing><bpmn:script>checked = True</bpmn:script>'
           '</bpmn:scriptTask><bpmn:sequenceFlow id="f_double_check_handle" sourceRef="double_check" '
           'targetRef="handle_merge" />')
    edit_draft(core, "case_lifecycle.bpmn", flow, new)
    result = whatif.run(core, request())
    assert result["changed_count"] == 0
    not_replayed = {e["element_id"]: e["why"] for e in result["not_replayed"]}
    assert not_replayed.get("double_check") == "structural"


def test_an_invalid_draft_is_refused_with_its_problems(core, august, login):
    edit_draft(core, "rules/routing.dmn", PROPERTY_RULE, PROPERTY_RULE.replace("</text>", "</txt>"))
    with pytest.raises(whatif.DraftInvalid) as caught:
        whatif.run(core, request())
    assert caught.value.problems
    client = login("designer")
    page = client.post("/designer/whatif", data={"from": RANGE[0], "to": RANGE[1]})
    assert page.status_code == 400 and "problem-table" in page.get_data(as_text=True)
    assert client.get("/designer/whatif").status_code == 400
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(WhatifRun)) == 0


def test_bad_input_is_a_clear_400(core, login):
    client = login("designer")
    for data in ({"from": "2026-13-01", "to": "2026-08-31"}, {"from": "2026-08-31", "to": "2026-08-01"},
                 {"from": "2026-08-01", "to": "2026-08-31", "type": "火星"}):
        assert client.post("/designer/whatif", data=data).status_code == 400
    assert client.get("/designer/whatif/abc").status_code == 400
    assert client.get("/designer/whatif/999999").status_code == 404
    assert login("handler").get("/designer/whatif").status_code == 403


def test_a_budget_stops_cleanly_with_a_partial_result(core, august, draft, monkeypatch):
    result = whatif.run(core, request(), budget=0, batch=5)
    assert (result["status"], result["processed"], result["total"]) == ("partial", 5, 20)
    monkeypatch.setenv("BIHUAN_WHATIF_BUDGET_SECONDS", "0.000001")
    monkeypatch.setattr(whatif, "BATCH", 5)
    run = wait(core, whatif_runs.start(core, request(), actor="designer").id)
    assert (run.status, run.processed, run.result["status"]) == ("partial", 5, "partial")


def test_two_designers_starting_the_same_replay_share_one_run(core, august, draft):
    results = race(lambda i: whatif_runs.start(core, request(), actor=f"designer{i}").id)
    assert all(kind == "ok" for kind, _ in results), results
    ids = {value for _, value in results}
    assert len(ids) == 1
    run = wait(core, ids.pop())
    assert run.status == "done"
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(WhatifRun)) == 1
    # reopening is instant: the same finished run; 重新分析 (fresh) makes a new one
    assert whatif_runs.start(core, request(), actor="designer").id == run.id
    assert wait(core, whatif_runs.start(core, request(), actor="designer", fresh=True).id).id != run.id


def test_a_dead_worker_is_shown_failed(core, august, draft, clock):
    run = wait(core, whatif_runs.start(core, request(), actor="designer").id)
    with core.db.unit_of_work() as session:
        row = session.get(WhatifRun, run.id)
        row.status, row.active_key = "running", row.request_key
    clock.move_to(at(2026, 9, 1, 10, 3))  # 3 minutes without a heartbeat
    assert whatif_runs.as_dict(whatif_runs.get(core, run.id))["status"] == "failed"
    again = wait(core, whatif_runs.start(core, request(), actor="designer").id)  # the key is freed
    assert again.status == "done"


def test_the_page_the_cli_and_the_service_agree(core, august, draft, login):
    client = login("designer")
    assert "分析影响" in client.get("/designer").get_data(as_text=True)
    form = client.get("/designer/whatif").get_data(as_text=True)
    assert 'name="from"' in form
    response = client.post("/designer/whatif", data={"from": RANGE[0], "to": RANGE[1]})
    assert response.status_code == 302
    run_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    wait(core, run_id)
    page = client.get(f"/designer/whatif/{run_id}").get_data(as_text=True)
    assert "whatif-totals" in page and "55.0%" in page and "80.0%" in page
    assert august.n["A5"][0] in page and "由按期变为超期" in page
    assert 'id="whatif-chart-data"' in page and "js/whatif.js" in page
    stored = client.get(f"/designer/whatif/{run_id}.json").get_json()["result"]
    env = {**os.environ, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": at(*NOW).isoformat(),
           "BIHUAN_DATABASE_URL": os.environ["BIHUAN_DATABASE_URL"]}
    proc = subprocess.run([BIHUAN, "process", "what-if", "--from", RANGE[0], "--to", RANGE[1], "--draft", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    service = json.loads(json.dumps(whatif.run(core, request()), default=str))
    for other in (cli, stored, service):  # the instant and the time taken differ by a few seconds, nothing else
        other.pop("now"), other.pop("seconds")
    assert cli == stored == service
    bad = subprocess.run([BIHUAN, "process", "what-if", "--from", "2026-08-31", "--to", "2026-08-01"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "before it starts" in bad.stderr


def test_an_edit_marks_the_result_stale_and_a_deploy_keeps_the_evidence(core, august, draft, login):
    client = login("designer")
    run = wait(core, whatif_runs.start(core, request(), actor="designer").id)
    assert run.status == "done"
    # deploying needs a reason
    library = client.get("/designer").get_data(as_text=True)
    assert 'id="deploy-evidence"' in library
    refused = client.post("/designer/deploy", data={"note": " ", "expected_revision": draft})
    assert refused.status_code == 400 and "发布理由" in refused.get_data(as_text=True)
    ok = client.post("/designer/deploy", data={"note": "投诉 10 天，物业归城管", "expected_revision": draft})
    assert ok.status_code == 302
    with core.db.read() as session:
        version = session.scalars(select(ProcessVersion).order_by(ProcessVersion.version.desc())).first()
        assert version.note == "投诉 10 天，物业归城管" and version.whatif_run_id == run.id
        assert version.whatif_summary["draft"]["on_time_reply_rate"] == 0.55
        number = version.version
    assert whatif_runs.get(core, run.id).status == "stale"  # the draft it answered for is now deployed
    history = client.get("/designer").get_data(as_text=True)
    assert "投诉 10 天，物业归城管" in history and "55.0%" in history
    expected = client.get(f"/designer/versions/{number}/expected").get_data(as_text=True)
    assert "expected-actual" in expected and "55.0%" in expected and 'id="no-actual"' in expected
    # a later save marks a newer run stale too
    second = wait(core, whatif_runs.start(core, request(), actor="designer").id)
    assert second.status == "done"
    edit_draft(core, "rules/deadlines.dmn", ">10<", ">12<")
    assert whatif_runs.get(core, second.id).status == "stale"
    assert "已过时" in client.get(f"/designer/whatif/{second.id}").get_data(as_text=True)


def test_the_cli_deploy_needs_a_reason(core, tmp_path):
    env = {**os.environ, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": at(2026, 11, 2, 10, 0).isoformat(),
           "BIHUAN_DATABASE_URL": os.environ["BIHUAN_DATABASE_URL"]}
    bad = subprocess.run([BIHUAN, "process", "deploy"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "reason" in bad.stderr and "Traceback" not in bad.stderr
    good = subprocess.run([BIHUAN, "process", "deploy", "--reason", "首次发布"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["reason"] in ("首次发布", "shipped bpmn/")


def test_default_range_is_the_last_90_days():
    req = whatif.parse_request(today=date(2026, 11, 2))
    assert (req.start, req.end) == (date(2026, 8, 5), date(2026, 11, 2))
