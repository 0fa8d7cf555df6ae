"""网格巡查 (issue 10, patrol work): the grid worker's patrol log through the real pages and services,
reports filed from a patrol linked to it, the 督查组's overview with missing working days flagged,
spot checks, and the monthly assessment priced by bpmn/rules/grid_scoring.dmn."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import at, deploy_variant


def _patrols(core):
    from app.patrol.models import Patrol
    with core.db.read() as session:
        return list(session.scalars(select(Patrol).order_by(Patrol.id)))


def _links(core):
    from app.cases.models import Case
    from app.patrol.models import PatrolReport
    with core.db.read() as session:
        return session.execute(select(PatrolReport.patrol_id, Case.number)
                               .join(Case, Case.id == PatrolReport.case_id).order_by(PatrolReport.id)).all()


def _audit(core, action):
    from app.cases.models import AuditEntry
    with core.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _case_number(response) -> str:
    import re
    html = response.get_data(as_text=True)
    return re.search(r"HD-\d{8}-\d{4,}", html).group(0)


def test_start_report_visit_finish_through_the_pages(core, login, clock):
    grid = login("grid")
    # No patrol open: a report is filed as before and lands on its case page, linked to nothing.
    before = grid.post("/intake/patrol", data={"type": "report", "text": "巡查前发现的井盖缺失", "grid": "G01"})
    assert before.status_code == 302 and "/cases/HD-" in before.location

    assert 'id="patrol-link"' not in grid.get("/intake/patrol").get_data(as_text=True)
    page = grid.get("/patrol").get_data(as_text=True)
    assert 'id="start-patrol"' in page and 'id="open-patrol"' not in page
    assert grid.post("/patrol/start").status_code == 302
    (patrol,) = _patrols(core)
    assert (patrol.worker, patrol.grid, patrol.day, patrol.finished_at) == ("grid", "G01", date(2026, 11, 2), None)
    assert 'id="open-patrol"' in grid.get("/patrol").get_data(as_text=True)

    for _ in range(3):
        assert grid.post(f"/patrol/{patrol.id}/visit").status_code == 302
    assert 'id="patrol-link"' in grid.get("/intake/patrol").get_data(as_text=True)  # the form says so
    filed = grid.post("/intake/patrol", data={"type": "report", "text": "楼道堆放杂物堵塞消防通道", "grid": "G01",
                                              "category": "城市管理"})
    assert filed.status_code == 302 and filed.location.endswith("/patrol")  # back to the patrol log
    links = _links(core)
    assert len(links) == 1 and links[0].patrol_id == patrol.id
    log_page = grid.get("/patrol").get_data(as_text=True)
    assert links[0].number in log_page and "已受理" in log_page  # the flash names the case

    clock.move_to(at(2026, 11, 2, 11, 30))
    done = grid.post(f"/patrol/{patrol.id}/finish", data={"households": "12", "residents_updated": "5",
                                                          "residents_added": "2", "residents_removed": "",
                                                          "note": "重点查看消防通道"})
    assert done.status_code == 302
    (patrol,) = _patrols(core)
    assert (patrol.households, patrol.residents_updated, patrol.residents_added, patrol.residents_removed) == \
        (12, 5, 2, 0)
    assert patrol.finished_at is not None and patrol.note == "重点查看消防通道"
    # A report after the patrol ended is not linked to it.
    grid.post("/intake/patrol", data={"type": "report", "text": "收工路上看到的路灯不亮", "grid": "G01"})
    assert len(_links(core)) == 1
    assert [r.changes["patrol"] for r in _audit(core, "patrol_start")] == [patrol.id]
    assert _audit(core, "patrol_finish")[0].changes["households"] == 12
    assert len(_audit(core, "patrol_visit")) == 3
    detail = grid.get(f"/patrol/{patrol.id}").get_data(as_text=True)
    assert links[0].number in detail and "12" in detail
    # The 督查组 opens the patrol and the report behind it (read-only).
    inspector = login("inspector")
    assert links[0].number in inspector.get(f"/patrol/{patrol.id}").get_data(as_text=True)
    assert inspector.get(f"/cases/{links[0].number}").status_code == 200


def test_report_with_a_photo_still_carries_it_when_linked(core, login):
    """The camera input of 网格上报 keeps working from a patrol: the photo and the link commit together."""
    from io import BytesIO

    from PIL import Image

    from app.attachments.models import Attachment
    grid = login("grid")
    grid.post("/patrol/start")
    buffer = BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    response = grid.post("/intake/patrol", content_type="multipart/form-data", data={
        "type": "report", "text": "违章搭建，附现场照片", "grid": "G01",
        "attachments": (BytesIO(buffer.getvalue()), "photo.jpg")})
    assert response.status_code == 302 and response.location.endswith("/patrol")
    with core.db.read() as session:
        assert session.scalar(select(Attachment.id)) is not None
    assert len(_links(core)) == 1


@pytest.mark.parametrize("field, value", [("households", "-1"), ("residents_updated", "9" * 5000),
                                          ("residents_added", "abc"), ("households", "5001"),
                                          ("residents_removed", "1.5")])
def test_bad_counts_are_refused_at_their_field_and_change_nothing(core, login, field, value):
    grid = login("grid")
    grid.post("/patrol/start")
    (patrol,) = _patrols(core)
    response = grid.post(f"/patrol/{patrol.id}/finish", data={field: value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "须为 0 到 5000 的整数" in html and f'id="{field}"' in html
    (patrol,) = _patrols(core)
    assert patrol.finished_at is None and getattr(patrol, field) == 0
    assert _audit(core, "patrol_finish") == []


def test_bad_patrol_actions_get_clear_4xx(core, login):
    grid, grid2 = login("grid"), login("grid2")
    # Finishing a patrol never started.
    missing = grid.post("/patrol/99999/finish", data={"households": "1"})
    assert missing.status_code == 404 and "没有这次巡查" in missing.get_data(as_text=True)
    assert grid.post("/patrol/start").status_code == 302
    # Two open patrols.
    second = grid.post("/patrol/start")
    assert second.status_code == 409 and "已有一次巡查正在进行" in second.get_data(as_text=True)
    assert len(_patrols(core)) == 1
    (patrol,) = _patrols(core)
    # Another worker's patrol.
    assert grid2.post(f"/patrol/{patrol.id}/finish", data={}).status_code == 403
    assert grid2.post(f"/patrol/{patrol.id}/visit").status_code == 403
    assert grid2.get(f"/patrol/{patrol.id}").status_code == 403
    # An overlong note.
    long_note = grid.post(f"/patrol/{patrol.id}/finish", data={"note": "字" * 501})
    assert long_note.status_code == 400 and "备注最多 500 字" in long_note.get_data(as_text=True)
    assert grid.post(f"/patrol/{patrol.id}/finish", data={}).status_code == 302
    # Finished twice.
    again = grid.post(f"/patrol/{patrol.id}/finish", data={})
    assert again.status_code == 409 and "已于" in again.get_data(as_text=True)
    assert grid.post(f"/patrol/{patrol.id}/visit").status_code == 409
    assert len(_audit(core, "patrol_finish")) == 1


def test_a_worker_without_a_grid_cannot_start(core):
    from app.auth.services import create_user
    from app.errors import Invalid
    from app.patrol.services import start_patrol
    with core.db.unit_of_work() as session:
        create_user(session, "nogrid", "x" * 12, ["grid_worker"], "无网格网格员", None, None)
    with pytest.raises(Invalid, match="未分配网格"):
        start_patrol(core, "nogrid")


def test_two_starts_at_once_open_one_patrol(core):
    """The partial unique index holds when two tabs start together."""
    from app.errors import Conflict
    from app.patrol.services import start_patrol
    from tests.conftest import race
    results = race(lambda i: start_patrol(core, "grid"), n=2)
    oks = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(oks) == 1 and len(errors) == 1 and isinstance(errors[0], Conflict), results
    assert len(_patrols(core)) == 1


def _patrol_on(core, clock, worker, start, end=None, households=0):
    from app.patrol.services import finish_patrol, start_patrol
    clock.move_to(start)
    patrol = start_patrol(core, worker)
    if end is not None:
        clock.move_to(end)
        finish_patrol(core, patrol["id"], worker, {"households": str(households)})
    return patrol["id"]


def test_missing_days_across_a_weekend_and_a_holiday(core, login, clock):
    """Mon 10-26 .. Mon 11-02 (today). Wed 10-28 is made a holiday and Sat 10-31 a make-up working day
    (调休) through the calendar service. G01 (worker grid) patrols Mon 10-26 and Thu 10-29:
    missing are Tue 10-27, Fri 10-30 and the make-up Saturday 10-31; not the holiday, not Sunday 11-01,
    not today. G02 (grid2) never patrols: 10-26, 27, 29, 30, 31 missing. G03 has no grid worker: no flags."""
    core.calendar.add_override("2026-10-28", "holiday", "test holiday")
    core.calendar.add_override("2026-10-31", "workday", "调休上班")
    _patrol_on(core, clock, "grid", at(2026, 10, 26, 9), at(2026, 10, 26, 11), 4)
    _patrol_on(core, clock, "grid", at(2026, 10, 29, 9), at(2026, 10, 29, 11), 6)
    clock.move_to(at(2026, 11, 2, 10))
    from app.patrol.services import overview, patrol_summary
    with core.db.read() as session:
        data = overview(session, date(2026, 10, 26), date(2026, 11, 2))
        summary = patrol_summary(session, "G01", date(2026, 10, 26), date(2026, 11, 2))
    rows = {r["grid"]: r for r in data["rows"]}
    missing = {g: [c["day"] for c in r["cells"] if c["missing"]] for g, r in rows.items()}
    # The demo organisation has 40 grids; only G01 and G02 have a grid worker, the rest are never flagged.
    assert {g: days for g, days in missing.items() if days} == {
        "G01": ["2026-10-27", "2026-10-30", "2026-10-31"],
        "G02": ["2026-10-26", "2026-10-27", "2026-10-29", "2026-10-30", "2026-10-31"]}
    assert missing["G03"] == []
    kinds = {d["day"]: d["kind"] for d in data["days"]}
    assert kinds["2026-10-28"] == "rest" and kinds["2026-11-01"] == "rest" and kinds["2026-10-31"] == "workday"
    assert rows["G01"]["patrol_days"] == 2 and rows["G01"]["missing"] == 3
    assert summary["missing_days"] == missing["G01"]
    assert (summary["patrols"], summary["patrol_days"], summary["households"], summary["workdays"]) == (2, 2, 10, 5)
    assert summary["last_patrol"]["worker"] == "grid"

    # The page: the inspector sees the red cells and opens a day's patrols.
    inspector = login("inspector")
    html = inspector.get("/patrol/overview?from=2026-10-26&to=2026-11-02").get_data(as_text=True)
    assert html.count('missing" data-day') == 8
    day = inspector.get("/patrol/overview?from=2026-10-26&to=2026-11-02&grid=G01&day=2026-10-29")
    assert day.status_code == 200 and 'id="day-patrols"' in day.get_data(as_text=True)


@pytest.mark.parametrize("query", ["from=2026-11-05&to=2026-11-01", "from=nope", "from=2026-01-01&to=2026-11-01",
                                   "grid=G99", "page=0", "page=x", "page=2", "page=" + "9" * 50])
def test_overview_bad_ranges(login, query):
    response = login("inspector").get(f"/patrol/overview?{query}")
    assert response.status_code in (400, 404)
    assert "Traceback" not in response.get_data(as_text=True)


def test_overview_pages_through_the_grids(core, login, monkeypatch):
    """A sub-district with a thousand grids reads them a page at a time (here two grids a page)."""
    from app.patrol import services
    monkeypatch.setattr(services, "GRIDS_PER_PAGE", 2)
    inspector = login("inspector")
    first = inspector.get("/patrol/overview").get_data(as_text=True)
    second = inspector.get("/patrol/overview?page=2").get_data(as_text=True)
    assert 'data-grid="G01"' in first and 'data-grid="G02"' in first and 'data-grid="G03"' not in first
    assert 'data-grid="G03"' in second and 'data-grid="G01"' not in second
    from sqlalchemy import func, select

    from app.org.models import Grid
    with core.db.read() as session:
        grids = session.scalar(select(func.count()).select_from(Grid))
    assert 'id="overview-pages"' in first and f"共 {grids} 个网格" in first
    assert inspector.get(f"/patrol/overview?page={(grids + 1) // 2 + 1}").status_code == 404


def test_spot_check_is_recorded_audited_and_once(core, login, clock):
    patrol_id = _patrol_on(core, clock, "grid", at(2026, 11, 2, 8), None)
    inspector = login("inspector")
    early = inspector.post(f"/patrol/{patrol_id}/check", data={"result": "pass"})
    assert early.status_code == 409 and "巡查尚未结束" in early.get_data(as_text=True)
    login("grid").post(f"/patrol/{patrol_id}/finish", data={"households": "3"})
    bad = inspector.post(f"/patrol/{patrol_id}/check", data={"result": "maybe"})
    assert bad.status_code == 400 and "请选择抽查结果" in bad.get_data(as_text=True)
    no_reason = inspector.post(f"/patrol/{patrol_id}/check", data={"result": "fail", "note": " "})
    assert no_reason.status_code == 400 and "不合格须写明原因" in no_reason.get_data(as_text=True)
    assert _audit(core, "patrol_spot_check") == []
    ok = inspector.post(f"/patrol/{patrol_id}/check", data={"result": "fail", "note": "入户登记无居民签字"})
    assert ok.status_code == 302
    twice = inspector.post(f"/patrol/{patrol_id}/check", data={"result": "pass"})
    assert twice.status_code == 409
    (row,) = _audit(core, "patrol_spot_check")
    assert row.actor == "inspector" and row.changes["result"] == "fail" and row.changes["worker"] == "grid"
    assert "不合格" in inspector.get(f"/patrol/{patrol_id}").get_data(as_text=True)
    assert "不合格" in login("grid").get("/patrol").get_data(as_text=True)  # the worker sees the verdict
    # Only the 督查组 records spot checks.
    assert login("viewer").post(f"/patrol/{patrol_id}/check", data={"result": "pass"}).status_code == 403
    assert login("grid").post(f"/patrol/{patrol_id}/check", data={"result": "pass"}).status_code == 403


def _hand_built_month(core, driver, clock):
    """November 2026 up to Sat 11-07 10:00, for worker ``grid`` (G01).

    Patrols: Mon 11-02 (10 households), Tue 11-03 twice (4 + 6), Thu 11-05 (0); Fri 11-06 started and
    never finished (does not count). Reports filed by ``grid`` on the 网格上报 channel: r1 (11-02,
    dispatched: valid), r2 (11-03, refused), r3 (11-03, merged into r1), r4 (11-05, still at 派单:
    pending), r5 (11-06, dispatched: valid); plus one grid report of October and one phone case in G01,
    which do not count. Spot checks: 11-02 合格, the first 11-03 patrol 不合格, 11-05 合格."""
    from app.patrol.services import record_spot_check

    def report(when, text):
        clock.move_to(when)
        return driver.register(channel="grid", type="投诉", text=text, grid="G01", user="grid")

    october = report(at(2026, 10, 30, 9), "十月的上报")
    driver.dispatch(october)
    p1 = _patrol_on(core, clock, "grid", at(2026, 11, 2, 8), at(2026, 11, 2, 11), 10)
    r1 = report(at(2026, 11, 2, 12), "井盖缺失")
    driver.dispatch(r1)
    p2 = _patrol_on(core, clock, "grid", at(2026, 11, 3, 8), at(2026, 11, 3, 10), 4)
    _patrol_on(core, clock, "grid", at(2026, 11, 3, 14), at(2026, 11, 3, 16), 6)
    r2 = report(at(2026, 11, 3, 17), "不属实的上报")
    driver.do(r2, "dispatch", "dispatcher", decision="refuse", refuse_reason="现场核查不属实")
    r3 = report(at(2026, 11, 3, 17, 30), "井盖缺失（重复）")
    driver.do(r3, "dispatch", "dispatcher", decision="merge_duplicate", duplicate_of=r1)
    p4 = _patrol_on(core, clock, "grid", at(2026, 11, 5, 8), at(2026, 11, 5, 9), 0)
    report(at(2026, 11, 5, 10), "待派单的上报")
    _patrol_on(core, clock, "grid", at(2026, 11, 6, 8), None)
    r5 = report(at(2026, 11, 6, 9), "路灯不亮")
    driver.dispatch(r5)
    clock.move_to(at(2026, 11, 6, 12))
    driver.register(channel="phone", text="G01 的电话投诉", grid="G01")
    record_spot_check(core, p1, "inspector", "pass")
    record_spot_check(core, p2, "inspector", "fail", "走访记录不实")
    record_spot_check(core, p4, "inspector", "pass")
    clock.move_to(at(2026, 11, 7, 10))


def test_grid_assessment_of_a_hand_built_month(core, driver, clock, login):
    from app.patrol.assessment import grid_scores
    from app.patrol.services import patrol_summary
    _hand_built_month(core, driver, clock)
    calendar = core.calendar.current()
    # Working days of November before today (Sat 11-07): Mon 11-02 .. Fri 11-06 (no holiday in them).
    assert [d for d in range(1, 7) if calendar.is_workday(date(2026, 11, d))] == [2, 3, 4, 5, 6]
    with core.db.read() as session:
        result = grid_scores(core, session, "2026-11")
        summary = patrol_summary(session, "G01", date(2026, 11, 1), date(2026, 11, 7))
    rows = {r["worker"]: r for r in result["rows"]}
    # filed 5 (r1..r5); valid 2 (r1, r5: dispatched, not refused or merged; r4 still waits);
    # patrol days 3 (11-02, 11-03, 11-05: the 11-06 patrol is unfinished); households 10+4+6+0 = 20;
    # missing 2 (11-04, 11-06 among the five working days); spot checks 2 合格, 1 不合格.
    assert rows["grid"]["figures"] == {"report_filed": 5, "report_valid": 2, "patrol_day": 3, "household": 20,
                                       "missing_day": 2, "spot_check_pass": 2, "spot_check_fail": 1}
    # grid_scoring.dmn: 1 per report, +2 per valid one, 2 per patrol day (under 20 days), 0.2 per household,
    # -3 per missing day, +1 per 合格, -5 per 不合格: 5 + 4 + 6 + 4 - 6 + 2 - 5 = 10.
    assert rows["grid"]["points"] == {"report_filed": 5, "report_valid": 4, "patrol_day": 6, "household": 4,
                                      "missing_day": -6, "spot_check_pass": 2, "spot_check_fail": -5}
    assert rows["grid"]["score"] == 10
    # grid2 did nothing: five missing working days, -15; ranked below.
    assert rows["grid2"]["figures"]["missing_day"] == 5 and rows["grid2"]["score"] == -15
    assert [r["worker"] for r in result["rows"]][:2] == ["grid", "grid2"] and rows["grid"]["rank"] == 1
    assert result["rules_version"] == 1
    # The map's figures for G01 over the same days (the unfinished 11-06 patrol is a patrol all the same).
    assert (summary["patrols"], summary["patrol_days"], summary["households"], summary["reports"]) == (5, 4, 20, 0)
    assert summary["spot_checks"] == {"pass": 2, "fail": 1} and summary["missing_days"] == ["2026-11-04"]

    # The ranking page shows the same.
    html = login("inspector").get("/patrol/ranking?month=2026-11").get_data(as_text=True)
    assert 'data-worker="grid"' in html and "<strong>10</strong>" in html

    # The rules are the deployed table: 0.5 per household from version 2 on gives 10 - 4 + 10 = 16.
    version = deploy_variant(core, "rules/grid_scoring.dmn",
                             '<outputEntry id="grid_scoring_rule_5_points"><text>0.2</text>',
                             '<outputEntry id="grid_scoring_rule_5_points"><text>0.5</text>')
    with core.db.read() as session:
        again = grid_scores(core, session, "2026-11")
    row = next(r for r in again["rows"] if r["worker"] == "grid")
    assert row["score"] == 16 and again["rules_version"] == version


def test_patrol_score_cli(core, driver, clock, database_url):
    from tests.test_cli import run
    _hand_built_month(core, driver, clock)
    rows = {r["worker"]: r for r in run("patrol", "score", "2026-11", url=database_url)["rows"]}
    assert rows["grid"]["score"] == 10 and rows["grid"]["figures"]["household"] == 20
    assert run("patrol", "score", "2026-13", url=database_url, expect_ok=False).startswith("error:")
    summary = run("patrol", "summary", "G01", "--from", "2026-11-01", "--to", "2026-11-07", url=database_url)
    assert summary["households"] == 20
    assert run("patrol", "summary", "G01", "--from", "x", "--to", "2026-11-07", url=database_url,
               expect_ok=False).startswith("error:")


def test_roles(core, login):
    """Grid workers: the log; the 督查组 (and leaders, the center, admins): overview and ranking."""
    expected = {"/patrol": {"grid": 200, "grid2": 200, "inspector": 403, "viewer": 403, "handler": 403,
                            "dispatcher": 403, "admin": 403, None: 302},
                "/patrol/overview": {"grid": 403, "inspector": 200, "viewer": 200, "dispatcher": 200, "admin": 200,
                                     "handler": 403, "operator": 403, None: 302},
                "/patrol/ranking": {"grid": 403, "inspector": 200, "viewer": 200, "handler": 403, None: 302}}
    for url, cells in expected.items():
        for user, status in cells.items():
            assert login(user).get(url).status_code == status, (url, user)
    for user in ("inspector", "viewer", "handler", "dispatcher"):
        assert login(user).post("/patrol/start").status_code == 403, user


@pytest.mark.parametrize("user", ["grid", "inspector"])
def test_hostile_forms_on_the_patrol_posts(core, app, login, clock, user):
    """The sweep of tests/test_hostile_requests.py posts as roles that get 403 here; this one posts as the
    roles that reach the code, on an open and on a finished patrol."""
    from tests.test_hostile_requests import SCRIPT, _check
    open_id = _patrol_on(core, clock, "grid", at(2026, 11, 2, 8), None)
    client = login(user)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("patrol.") and "POST" in r.methods]
    assert len(rules) == 4
    for value in (SCRIPT, "9" * 5000, "-1", "\x00"):
        form = {name: value for name in ("households", "residents_updated", "residents_added", "residents_removed",
                                         "note", "result")}
        for rule in rules:
            path = rule.rule.replace("<int:patrol_id>", str(open_id))
            _check(client.post(path, data=form), f"{user} POST {path} {value[:10]!r}")
    (patrol,) = _patrols(core)
    # Nothing hostile was taken: still open, no typed count; only the form-less 走访 +1 taps counted.
    assert patrol.finished_at is None and patrol.households == (4 if user == "grid" else 0)
    assert (patrol.residents_updated, patrol.note) == (0, "")


def test_demo_patrols(core, clock):
    """Four weeks of past patrols through the services: the overview has days for both workers, grid2's
    skipped working days are flagged, reports are linked (the older ones closed), and it runs once."""
    from app.cases.models import Case
    from app.patrol.demo import seed_patrols
    from app.patrol.models import PatrolReport, SpotCheck
    from app.patrol.services import overview
    made = seed_patrols(core)
    assert made > 20 and seed_patrols(core) == 0
    with core.db.read() as session:
        data = overview(session, date(2026, 10, 12), date(2026, 11, 1))
        statuses = session.scalars(select(Case.status).join(PatrolReport, PatrolReport.case_id == Case.id)).all()
        checks = session.scalars(select(SpotCheck.result)).all()
    rows = {r["grid"]: r for r in data["rows"]}
    assert rows["G01"]["missing"] == 0 and rows["G01"]["patrol_days"] > 10
    assert rows["G02"]["missing"] > 0 and rows["G02"]["patrol_days"] > 5
    assert "closed" in statuses and len(statuses) >= 5
    assert "pass" in checks and "fail" in checks
    assert all(p.finished_at is not None for p in _patrols(core))
