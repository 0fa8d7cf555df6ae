"""Volunteer figures on the leaders' dashboard and in the weekly 专报: a hand-built week (2026-W45,
2026-11-02..08) whose figures are counted by hand, read back from the page, the .docx and the .xlsx; a
report stored before the section existed still renders, without it."""
from __future__ import annotations

import io
import re

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from app.reports.dashboard import volunteer_figures
from app.reports.report_models import Report
from app.reports.weekly_store import render_all, weekly_report
from app.volunteers import ledger, redemption, reports
from tests.conftest import at
from tests.volunteer_helpers import OFFICE, activity, check, confirm, reward, volunteer

# W45 counted by hand: A registered in W44, B and C in W45 (D in W46); one activity held in W45 (2 h,
# A and B served: 4 h, 2 + 2 points); 60 points credited to A by hand; A redeemed 50 points (worth 60
# yuan), handed over in W45; 1 point of B's expired. Outside W45: 5 points in W44, an activity in W46.
W45 = {"registered_total": 3, "registered": 2, "active": 2, "activities": 1, "hours": 4.0, "issued": 64.0,
       "redeemed": 50.0, "expired": 1.0, "money": 60.0}


def _week(core, clock) -> dict:
    clock.move_to(at(2026, 10, 28, 9, 0))
    a = volunteer(core, "13800005001")
    with core.db.unit_of_work() as session:
        ledger.post(session, a, 5, "service", earned_year=2026, confirmed_by="organiser")  # W44
    clock.move_to(at(2026, 11, 2, 9, 0))
    b = volunteer(core, "13800005002")
    volunteer(core, "13800005003")
    held = activity(core, at(2026, 11, 3, 10, 0), at(2026, 11, 3, 12, 0))
    activity(core, at(2026, 11, 10, 10, 0), at(2026, 11, 10, 12, 0))  # W46
    clock.move_to(at(2026, 11, 3, 10, 0))
    sa, sb = check(core, a, held, "in"), check(core, b, held, "in")
    clock.move_to(at(2026, 11, 3, 12, 0))
    check(core, a, held, "out")
    check(core, b, held, "out")
    assert confirm(core, sa) == 2.0 and confirm(core, sb) == 2.0
    with core.db.unit_of_work() as session:
        ledger.post(session, a, 60, "service", earned_year=2026, confirmed_by="volunteer_admin")
        ledger.post(session, b, -1, "expiry", confirmed_by="scheduler")
    rid = reward(core, 50, 3)
    applied = redemption.apply(core, a, rid)
    redemption.complete(core, OFFICE, applied["id"], {"decision": "approve"})
    assert redemption.complete(core, OFFICE, applied["id"], {"handover_note": "已领取"})["status"] == "handed_over"
    clock.move_to(at(2026, 11, 9, 8, 0))
    volunteer(core, "13800005004")  # W46
    return {"a": a, "b": b}


def test_summary_equals_the_hand_count_and_the_office_totals(core, clock):
    _week(core, clock)
    lo, hi = reports.bounds(at(2026, 11, 2).date(), at(2026, 11, 8).date())
    with core.db.read() as session:
        mine = reports.summary(session, lo, hi)
        office = reports.totals(session, at(2026, 11, 2).date(), at(2026, 11, 8).date())["total"]
    assert mine == W45
    # The same definitions as the office's own statistics page (/volunteers), ungrouped.
    assert {k: office[k] for k in W45 if k in office} == {k: v for k, v in W45.items() if k in office}


def test_dashboard_shows_this_month_and_last(core, clock, login):
    _week(core, clock)
    with core.db.read() as session:
        figures = volunteer_figures(session, at(2026, 11, 9).date())
    assert {k: figures["this"][k] for k in W45} == {**W45, "registered_total": 4, "registered": 3}
    assert {k: figures["last"][k] for k in W45} == {"registered_total": 1, "registered": 1, "active": 0,
                                                   "activities": 0, "hours": 0.0, "issued": 5.0, "redeemed": 0.0,
                                                   "expired": 0.0, "money": 0.0}
    page = login("leader").get("/dashboard").get_data(as_text=True)
    card = page.split('<section class="card" id="volunteers">', 1)[1].split("</section>", 1)[0]
    row = re.search(r'<tr data-figure="issued">(.*?)</tr>', card, flags=re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["64", "5"]  # the leader sees no link to the office page
    office = login("volunteer_admin")
    assert office.get("/dashboard").status_code == 403  # the office is not among the dashboard's readers


def test_weekly_report_page_docx_and_xlsx_show_the_figures(core, clock, login):
    _week(core, clock)
    result = weekly_report(core, "2026-W45", actor="test")
    assert result["stored"] and result["figures"]["volunteers"] == W45
    page = login("viewer").get("/reports/weekly/2026-W45").get_data(as_text=True)
    body = page.split('<table id="volunteers">', 1)[1].split("</table>", 1)[0]
    on_page = dict(re.findall(r'<tr data-key="(\w+)">.*?data-field="value">([^<]*)<', body, flags=re.S))
    assert on_page == {k: f"{v:g}" for k, v in W45.items()}

    doc = Document(io.BytesIO(login("viewer").get("/reports/weekly/2026-W45/docx").data))
    assert "六、志愿服务" in [p.text for p in doc.paragraphs]
    assert any("本周新注册2人" in p.text and "服务时长4小时" in p.text for p in doc.paragraphs)
    table = next(t for t in doc.tables if [c.text for c in t.rows[0].cells] == ["项目", "本周"])
    in_doc = {r.cells[0].text: r.cells[1].text for r in table.rows[1:]}
    assert in_doc == {reports.SUMMARY[k]: str(v) for k, v in W45.items()}

    book = load_workbook(io.BytesIO(login("viewer").get("/reports/weekly/2026-W45/xlsx").data))
    sheet = {r[0].value: r[1].value for r in book["志愿服务"].iter_rows(min_row=3)}
    assert sheet == {reports.SUMMARY[k]: v for k, v in W45.items()}


def test_a_report_stored_before_the_section_still_renders(core, clock, login):
    clock.move_to(at(2026, 11, 9, 8, 0))
    weekly_report(core, "2026-W45", actor="test")
    with core.db.unit_of_work() as session:  # as filed before 志愿服务 was added: no section, files without it
        row = session.scalars(select(Report).where(Report.period == "2026-W45")).one()
        figures = {k: v for k, v in row.figures.items() if k != "volunteers"}
        files = render_all(figures)
        row.figures, row.html, row.docx, row.xlsx = figures, files["html"], files["docx"], files["xlsx"]
    viewer = login("viewer")
    page = viewer.get("/reports/weekly/2026-W45")
    assert page.status_code == 200 and "志愿服务" not in page.get_data(as_text=True)
    assert "志愿服务" not in viewer.get("/reports/weekly/2026-W45/html").get_data(as_text=True)
    doc = Document(io.BytesIO(viewer.get("/reports/weekly/2026-W45/docx").data))
    assert not any("志愿服务" in p.text for p in doc.paragraphs)
    assert "志愿服务" not in load_workbook(io.BytesIO(viewer.get("/reports/weekly/2026-W45/xlsx").data)).sheetnames
