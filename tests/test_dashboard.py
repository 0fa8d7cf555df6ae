"""The leaders' dashboard reads rollups that equal kpis.py's definitions, and the rollups kept in
the case transactions equal a rebuild from the cases and the audit log. Cases are driven through
the real engine with time travel (tests/conftest.py Driver, clock)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.reports.dashboard import dashboard, month_kpis, _sums
from app.reports.kpis import compute_kpis
from app.reports.rollup_models import DailyRollup, TaskDwell
from app.reports.rollups import rebuild
from tests.conftest import at


def _table(core, model):
    """The rows, without buckets whose counts all went back to zero (a rebuild never writes those)."""
    with core.db.read() as session:
        cols = model.__table__.columns.keys()
        rows = [tuple(getattr(r, c) for c in cols) for r in session.scalars(select(model))]
    return sorted(r for r in rows if any(v for v in r if isinstance(v, int)))


@pytest.fixture
def month_of_cases(driver, clock):
    """Cases of late October and November 2026 in most shapes the KPIs tell apart."""
    clock.move_to(at(2026, 10, 20, 9))
    on_time = driver.register(); driver.dispatch(on_time); driver.sign(on_time)
    late = driver.register(); driver.dispatch(late, difficulty="simple"); driver.sign(late)
    redo = driver.register(type="咨询"); driver.dispatch(redo); driver.sign(redo)
    refused = driver.register(text="不属于本街道")
    driver.do(refused, "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
    returned = driver.register(); driver.dispatch(returned)
    driver.do(returned, "sign_for", "handler", decision="return", return_reason="非本部门职责")
    clock.move_to(at(2026, 10, 22, 15))
    driver.reply(on_time)
    driver.do(on_time, "verify", "dispatcher", verify_result="passed")
    driver.do(on_time, "follow_up", "dispatcher", satisfaction="satisfied")
    driver.reply(redo)
    driver.do(redo, "verify", "dispatcher", verify_result="passed")
    driver.do(redo, "follow_up", "dispatcher", satisfaction="unsatisfied")
    clock.move_to(at(2026, 11, 3, 10))
    driver.fire()  # the late case's deadline passed: escalation
    driver.reply(late)
    driver.reply(redo, text="重新处理")
    driver.do(redo, "verify", "dispatcher", verify_result="passed")
    driver.do(redo, "follow_up", "dispatcher", satisfaction="mostly_satisfied")
    pending = driver.register(); driver.dispatch(pending)  # due later in November, undecided now
    clock.move_to(at(2026, 11, 5, 10))
    return {"late": late, "pending": pending}


def test_dashboard_month_figures_equal_compute_kpis(core, month_of_cases, clock):
    from workflows.clock import utcnow
    now = utcnow()
    with core.db.read() as session:
        mine = month_kpis(session, now.date(), now)
        for part in ("this", "last"):
            start, end = mine[part]["from"], mine[part]["to"]
            theirs = compute_kpis(session, start=start, end=end)["total"]
            for key in ("on_time_reply_rate", "satisfaction_rate", "closure_rate"):
                assert (mine[part][key]["num"], mine[part][key]["den"]) == (
                    theirs[f"{key}_num"], theirs[f"{key}_den"]), (part, key)
                assert mine[part][key]["value"] == theirs[key]
        # and per department over a range that reaches into the future (undecided cases subtracted)
        start, end = date(2026, 10, 1), date(2026, 12, 31)
        per = _sums(session, start, end, now, by="department")
        theirs = {r["key"]: r for r in compute_kpis(session, start=start, end=end, by="department")["rows"]}
        for code, row in theirs.items():
            got = per.get(code or "", {})
            assert (got.get("due_reply_on_time", 0), got.get("due_reply", 0)) == (
                row["on_time_reply_rate_num"], row["on_time_reply_rate_den"]), code
            assert (got.get("due_closed", 0), got.get("due", 0)) == (row["closure_rate_num"], row["closure_rate_den"])
    # Something was counted at all (a vacuous equality would prove nothing).
    assert mine["last"]["satisfaction_rate"]["den"] + mine["this"]["satisfaction_rate"]["den"] >= 2
    assert mine["last"]["on_time_reply_rate"]["den"] >= 1


def test_rollups_kept_in_the_transactions_equal_a_rebuild(core, month_of_cases):
    daily, dwell = _table(core, DailyRollup), _table(core, TaskDwell)
    assert daily and dwell
    with core.db.unit_of_work() as session:
        rebuild(session)
    assert _table(core, DailyRollup) == daily
    # Dwell rebuilt from the audit log sees completed tasks; the live hook also counts tasks the
    # engine withdrew (an 催办 cancelled by the department's reply), which leave no audit row.
    assert {r[1] for r in _table(core, TaskDwell)} <= {r[1] for r in dwell}
    assert {"dispatch", "sign_for", "handle", "verify", "follow_up"} <= {r[1] for r in dwell}


def test_dashboard_page_links_every_figure_to_the_ledger(core, month_of_cases, login):
    leader = login("leader")
    page = leader.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="fig-overdue" href="/ledgers?overdue=1"' in html
    assert "kpi=on_time_reply_rate&amp;part=den" in html
    assert "vendor/echarts/echarts.min.js" in html and "js/dashboard.js" in html
    with core.db.read() as session:
        from workflows.clock import utcnow
        data = dashboard(session, utcnow())
    from app.reports.ledger import count, parse_filter
    with core.db.read() as session:  # the same rows as the ledger the figure links to
        assert data["today"]["overdue"]["value"] == count(session, parse_filter(session, {"overdue": "1"}))
        assert data["today"]["tiers"][0]["value"] == count(session, parse_filter(session, {"tier": "1"}))
    assert login("handler").get("/dashboard").status_code == 403


def test_overdue_and_heatmap(core, driver, clock, login):
    clock.move_to(at(2026, 11, 2, 9))
    number = driver.register(); driver.dispatch(number, difficulty="simple")
    clock.move_to(at(2026, 12, 10, 9))
    driver.fire()
    with core.db.read() as session:
        from workflows.clock import utcnow
        data = dashboard(session, utcnow())
    assert data["today"]["overdue"]["value"] == 1
    assert data["overdue_cases"][0]["number"] == number
    leader = login("leader")
    body = leader.get("/dashboard/heatmap/1/data?from=2026-11-01&to=2026-12-10").get_json()
    assert body["nodes"]["sign_for"]["open"] == 1
    assert body["nodes"]["dispatch"]["exits"] == 1
    listed = leader.get("/dashboard/heatmap/cases?node=sign_for&version=1").get_json()
    assert [c["number"] for c in listed["cases"]] == [number]
    assert leader.get("/dashboard/heatmap/1/data?all=1").get_json()["nodes"]["sign_for"]["open"] == 1
    designer = login("designer")
    assert designer.get("/dashboard/heatmap/1").status_code == 200
    assert designer.get("/dashboard").status_code == 403
    assert 'href="/dashboard/heatmap/1"' in designer.get("/designer").get_data(as_text=True)
    assert leader.get("/dashboard/heatmap/1/data?from=2026-13-01").status_code == 400
    assert leader.get("/dashboard/heatmap?from=2026-12-10&to=2026-01-01").status_code == 400


def test_history_generator_open_cases_are_workable(core, driver, clock):
    from app.reports.history_writer import generate
    from app.reports.kpis import compute_kpis as kpis
    result = generate(core, cases=120, months=2, open_limit=15)
    assert result["created"] == 120 and result["open"] >= 1
    assert generate(core, cases=120, months=2, if_empty=True)["created"] == 0
    # The bulk rows' audit hash chain starts at each new case without a tail lookup, and holds.
    from app.audit.chain import verify
    with core.db.read() as session:
        checked = verify(session)
    assert checked["ok"] and checked["checked"] > 120, checked
    daily = _table(core, DailyRollup)
    with core.db.unit_of_work() as session:
        rebuild(session)
    assert _table(core, DailyRollup) == daily
    from workflows.clock import utcnow
    now = utcnow()
    with core.db.read() as session:
        mine = month_kpis(session, now.date(), now)["last"]
        theirs = kpis(session, start=mine["from"], end=mine["to"])["total"]
    for key in ("on_time_reply_rate", "satisfaction_rate", "closure_rate"):
        assert (mine[key]["num"], mine[key]["den"]) == (theirs[f"{key}_num"], theirs[f"{key}_den"])
    # An open case is a real engine case: its next task completes.
    with core.db.read() as session:
        from app.cases.models import Case, ReadyTask
        number = session.scalar(select(Case.number).join(ReadyTask, ReadyTask.case_id == Case.id)
                                .where(ReadyTask.bpmn_id == "verify").limit(1))
    if number:
        driver.do(number, "verify", "dispatcher", verify_result="passed")


def test_history_generator_names_who_replied_so_person_kpis_have_data(core, clock):
    """The bulk-inserted cases carry 责任人 (replied_by) as the engine would write it: the
    department's handler account that completed 办理 with 答复, and nobody on a case never replied."""
    from app.cases.models import Case
    from app.reports.history_writer import generate, handler_account
    from app.reports.kpis import compute_kpis
    generate(core, cases=120, months=2, open_limit=5)
    with core.db.read() as session:
        rows = session.execute(select(Case.replied_at, Case.replied_by, Case.department)).all()
        replied = [r for r in rows if r.replied_at is not None]
        assert replied and all(r.replied_by == handler_account(r.department) for r in replied)
        assert all(r.replied_by is None for r in rows if r.replied_at is None)
        first = min(r.replied_at for r in replied).date()
        last = max(r.replied_at for r in replied).date()
        people = {k for k in (r["key"] for r in compute_kpis(session, start=first, end=last, by="person")["rows"])}
    assert {handler_account(r.department) for r in replied} <= people
