"""The weekly 调度研判 专报: the Monday 08:00 job (not before, exactly once across schedulers, catch-up after
downtime), the stored report that never changes, and the .docx/.xlsx read back equal to the page."""
from __future__ import annotations

import io
import re
import threading
from datetime import datetime

import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.reports.jobruns import WEEKLY_JOB, weekly_job
from app.reports.kpis import compute_kpis
from app.reports.periods import parse_week
from app.reports.report_models import JobRun, Report
from app.reports.weekly_store import weekly_report
from app.scheduler import build_scheduler
from tests.conftest import CST, at, race
from tests.test_cli import run
from tests.test_scheduler import wait_for


def _stored(core) -> list[str]:
    with core.db.read() as session:
        return list(session.scalars(select(Report.period).order_by(Report.period)))


def _runs(core) -> list[str]:
    with core.db.read() as session:
        return list(session.scalars(select(JobRun.period).where(JobRun.job == WEEKLY_JOB).order_by(JobRun.period)))


def test_the_job_fires_on_monday_0800_shanghai_and_not_before(core, clock):
    clock.move_to(at(2026, 11, 9, 7, 59))
    # A first start files only the latest week already due: at 07:59 that is still W44, not W45.
    assert weekly_job(core) == ["2026-W44"]
    assert weekly_job(core) == []
    clock.move_to(at(2026, 11, 9, 8, 0))
    assert weekly_job(core) == ["2026-W45"]
    assert weekly_job(core) == [] and _stored(core) == ["2026-W44", "2026-W45"]


def test_the_cron_trigger_fires_at_0800_under_time_travel(core, clock):
    clock.move_to(at(2026, 11, 16, 7, 0))
    assert weekly_job(core) == ["2026-W45"]
    with time_machine.travel(datetime(2026, 11, 16, 7, 59, 57, tzinfo=CST), tick=True):
        scheduler = build_scheduler(core, blocking=False, seconds=3600)
        fired = []
        scheduler.add_listener(lambda e: fired.append(e) if e.job_id == "weekly_report" else None,
                               EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.start()
        try:
            assert wait_for(lambda: len(fired) >= 1)  # the start-up catch-up: nothing due yet
            assert _stored(core) == ["2026-W45"]
            assert wait_for(lambda: "2026-W46" in _stored(core), seconds=30)
        finally:
            scheduler.shutdown(wait=True)
    with core.db.read() as session:
        ran_at = session.scalar(select(JobRun.ran_at).where(JobRun.period == "2026-W46"))
    assert ran_at >= at(2026, 11, 16, 8, 0)
    assert all(e.exception is None for e in fired)


def test_exactly_once_with_two_schedulers(core, clock):
    clock.move_to(at(2026, 11, 9, 8, 0))
    results = race(lambda _i: weekly_job(core), n=2)
    assert all(kind == "ok" for kind, _ in results), results
    assert sorted(sum((value for _, value in results), [])) == ["2026-W45"]
    assert _runs(core) == ["2026-W45"] and _stored(core) == ["2026-W45"]

    # Two real scheduler processes' worth of schedulers, both catching up W46 when they start.
    with time_machine.travel(datetime(2026, 11, 16, 9, 0, tzinfo=CST), tick=True):
        done: list = []
        lock = threading.Lock()
        schedulers = [build_scheduler(core, blocking=False, seconds=3600) for _ in range(2)]
        for s in schedulers:
            s.add_listener(lambda e: (lock.acquire(), done.append(e), lock.release())
                           if e.job_id == "weekly_report" else None, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
            s.start()
        try:
            assert wait_for(lambda: len(done) >= 2, seconds=60)
        finally:
            for s in schedulers:
                s.shutdown(wait=True)
    assert all(e.exception is None for e in done)
    assert sorted(e.retval == ["2026-W46"] for e in done) == [False, True]
    assert _runs(core) == ["2026-W45", "2026-W46"] and _stored(core) == ["2026-W45", "2026-W46"]


def test_catches_up_missed_weeks_after_downtime(core, clock):
    clock.move_to(at(2026, 11, 9, 8, 0))
    assert weekly_job(core) == ["2026-W45"]
    clock.move_to(at(2026, 11, 30, 9, 30))  # down for three Mondays
    assert weekly_job(core) == ["2026-W46", "2026-W47", "2026-W48"]
    assert _runs(core) == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]


# -- content -------------------------------------------------------------------------------------
def _week_45(driver, clock) -> dict:
    """Cases of W45 (2026-11-02..08) and one of W44 that is long overdue by the end of W45."""
    n = {}
    clock.move_to(at(2026, 10, 26, 10, 0))
    n["late"] = driver.register(type="咨询", channel="platform", text="W44 路面塌陷")  # due 10-28: 7 wd late by 11-09
    driver.dispatch(n["late"])
    driver.sign(n["late"])
    clock.move_to(at(2026, 11, 2, 10, 0))
    n["complex"] = driver.register(channel="online", text="网络反映 工地扬尘", category="城市管理")
    driver.dispatch(n["complex"], difficulty="complex")
    for i in range(3):  # the same phone three times in the week: a repeat
        n[f"phone{i}"] = driver.register(channel="phone", text=f"噪音扰民 第{i + 1}次", reporter_phone="13900001111")
    driver.dispatch(n["phone0"])
    driver.sign(n["phone0"])
    driver.reply(n["phone0"])  # on time
    n["web"] = driver.register(channel="web", type="咨询", text="咨询办事流程")
    driver.dispatch(n["web"])
    driver.sign(n["web"])
    clock.move_to(at(2026, 11, 6, 10, 0))
    driver.reply(n["web"])  # due 11-04: late
    driver.do(n["web"], "verify", "dispatcher", verify_result="passed")
    driver.do(n["web"], "follow_up", "dispatcher", satisfaction="satisfied")
    return n


def _page_table(html: str, table_id: str) -> dict[str, dict[str, str]]:
    body = html.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for key, row in re.findall(r'<tr data-key="([\w-]+)">(.*?)</tr>', body, flags=re.S):
        rows[key] = {f: v.strip() for f, v in re.findall(r'data-field="(\w+)">(?:<a [^>]*>)?([^<]*)', row)}
    return rows


def test_docx_and_xlsx_read_back_equal_the_page(core, driver, clock, login):
    n = _week_45(driver, clock)
    clock.move_to(at(2026, 11, 9, 8, 0))
    assert weekly_job(core) == ["2026-W45"]
    figures = weekly_report(core, "2026-W45", actor="test")["figures"]
    phone = next(r for r in figures["channels"] if r["key"] == "phone")
    assert (phone["new"], phone["closed"], phone["open"]) == (3, 0, 3)
    web = next(r for r in figures["channels"] if r["key"] == "web")
    assert (web["new"], web["closed"], web["open"], web["on_time_reply_rate"]) == (1, 1, 0, 0.0)
    assert figures["total"]["new"] == 5 and figures["total"]["prev"]["new"] == 1
    # The on-time reply rate is the KPI definition's, over the same days.
    with core.db.read() as session:
        kpis = compute_kpis(session, start=parse_week("2026-W45").first, end=parse_week("2026-W45").last, by="channel")
    assert figures["total"]["on_time_reply_rate"] == kpis["total"]["on_time_reply_rate"]
    reasons = {it["number"]: it["reasons"] for it in figures["key_items"]}
    assert reasons[n["late"]] == ["overdue_5"] and reasons[n["complex"]] == ["complex"]
    assert all(reasons[n[f"phone{i}"]] == ["repeat_phone"] for i in range(3))
    assert figures["repeats"] == [{"kind": "phone", "value": "139****1111", "count": 3,
                                   "numbers": [n["phone0"], n["phone1"], n["phone2"]]}]

    page = login("viewer").get("/reports/weekly/2026-W45").get_data(as_text=True)
    on_page = _page_table(page, "channels")
    doc = Document(io.BytesIO(login("viewer").get("/reports/weekly/2026-W45/docx").data))
    channels = doc.tables[0]
    assert [c.text for c in channels.rows[0].cells][:6] == ["渠道", "新增", "办结", "在办", "超期", "按期回复率"]
    for row, figure in zip(channels.rows[1:], figures["channels"] + [figures["total"]]):
        cells = [c.text for c in row.cells]
        assert cells[0] == figure["label"]
        page_row = on_page[figure["key"]]
        assert cells[1:5] == [page_row[f] for f in ("new", "closed", "open", "overdue")]
        assert cells[1:5] == [str(figure[f]) for f in ("new", "closed", "open", "overdue")]
        assert cells[5] == page_row["on_time_reply_rate"]
    paragraphs = [p for p in doc.paragraphs if p.text]
    assert paragraphs[0].text == "街道社会治理联动指挥中心" and str(paragraphs[0].runs[0].font.color.rgb) == "E60012"
    assert "调度专报〔2026〕45号" in [p.text for p in paragraphs]
    headings = [p.text for p in paragraphs if re.match(r"^[一二三四五]、", p.text)]
    assert headings == ["一、总体情况", "二、重点难点事项", "三、问题分类趋势", "四、部门办理与考核计分", "五、上次调度事项进展"]
    assert paragraphs[0].runs[0]._element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "方正小标宋简体"
    departments_page = _page_table(page, "departments")
    for row in doc.tables[2].rows[1:]:
        cells = [c.text for c in row.cells]
        figure = next(d for d in figures["departments"] if d["label"] == cells[0])
        assert cells[1] == departments_page[figure["key"]]["received"] == str(figure["received"])
        assert cells[5] == departments_page[figure["key"]]["score"] == str(figure["score"])

    book = load_workbook(io.BytesIO(login("viewer").get("/reports/weekly/2026-W45/xlsx").data))
    items = book["重点难点事项"]
    assert [c.value for c in items[2]][:3] == ["案件编号", "渠道", "类型"]
    numbers = [r[0].value for r in items.iter_rows(min_row=3)]
    assert numbers == [it["number"] for it in figures["key_items"]]
    late_row = next(r for r in items.iter_rows(min_row=3) if r[0].value == n["late"])
    assert isinstance(late_row[6].value, datetime) and late_row[7].value == 7
    sheet = {r[0].value: [c.value for c in r] for r in book["分渠道情况"].iter_rows(min_row=3)}
    for figure in figures["channels"]:
        assert sheet[figure["label"]][1:5] == [int(on_page[figure["key"]][f]) for f in ("new", "closed", "open", "overdue")]
        assert sheet[figure["label"]][5] == figure["on_time_reply_rate"]


def test_a_stored_report_never_changes(core, driver, clock, login):
    _week_45(driver, clock)
    clock.move_to(at(2026, 11, 9, 8, 0))
    weekly_job(core)
    with core.db.read() as session:
        before = session.scalars(select(Report).where(Report.period == "2026-W45")).one()
        docx_before, figures_before = before.docx, before.figures
    clock.move_to(at(2026, 11, 4, 9, 0))  # a late registration dated inside W45
    driver.register(channel="platform", text="补录")
    clock.move_to(at(2026, 11, 10, 9, 0))
    result = weekly_report(core, "2026-W45", actor="someone")
    assert result["stored"] and result["figures"] == figures_before and result["files"]["docx"] == docx_before
    with core.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1
    # W46's "last meeting" items are W45's stored key items that are still open
    w46 = weekly_report(core, "2026-W46", actor="test")["figures"]
    assert {f["number"] for f in w46["follow_ups"]} <= {it["number"] for it in figures_before["key_items"]}
    assert w46["follow_ups"]


def test_the_cli_and_pages(core, driver, clock, login, database_url, tmp_path):
    _week_45(driver, clock)
    clock.move_to(at(2026, 11, 10, 9, 0))
    out = tmp_path / "w45.xlsx"
    result = run("report", "weekly", "--week", "2026-W45", "--format", "xlsx", "--out", str(out), url=database_url)
    assert result["stored"] and result["period"] == "2026-W45" and result["total"]["new"] == 5
    assert load_workbook(out)["重点难点事项"]["A1"].value.startswith("附件")
    assert run("report", "weekly", url=database_url)["period"] == "2026-W45"  # default: last week
    draft = run("report", "weekly", "--week", "2026-W46", url=database_url)
    assert draft["stored"] is False
    for args, words in ((("--week", "2026-W54"), "没有这个周次"), (("--week", "2026-45"), "YYYY-Www"),
                        (("--week", "2026-W50"), "尚未开始"), (("--format", "docx"), "--out"),
                        (("--week", "2026-W45", "--format", "pdf", "--out", "x"), "pdf")):
        assert words in run("report", "weekly", *args, url=database_url, expect_ok=False)
    viewer = login("viewer")
    listing = viewer.get("/reports/weekly").get_data(as_text=True)
    assert "2026-W45" in listing and "调度专报〔2026〕45号" in listing
    assert viewer.get("/reports/weekly/2026-W46").status_code == 200  # the running week: a draft
    assert "草稿" in viewer.get("/reports/weekly/2026-W46").get_data(as_text=True)
    assert viewer.get("/reports/weekly/2026-W99").status_code == 400
    assert viewer.get("/reports/weekly/lookup?week=bad").status_code == 400
    assert viewer.get("/reports/weekly/2026-W45/html").data.startswith(b"<!doctype html>")
    assert login("handler").get("/reports/weekly").status_code == 403
    assert _stored(core) == ["2026-W45"]  # the draft was never filed
