"""Importing a year's official holiday schedule: CSV, GBK CSV, .xlsx, pasted text; every bad input
is refused with its line, and nothing is written. Real database, the real CLI and web routes."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from app.calendar.importing import MAX_BYTES, import_schedule, parse_schedule
from app.calendar.models import CalendarOverride, CalendarYear
from app.cases.models import AuditEntry
from app.errors import Invalid
from tests.test_cli import run

SCHEDULE = "日期,类型,说明\n2100-01-01,休,元旦\n2100-02-07,班,春节调休\n2100-02-08,休,春节\n2100-02-09,holiday,春节\n"


def calendar_rows(core) -> list[tuple]:
    with core.db.read() as session:
        return [(r.day, r.workday, r.source) for r in session.scalars(select(CalendarOverride)
                                                                     .order_by(CalendarOverride.day))]


def calendar_audit(core) -> list[AuditEntry]:
    with core.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("calendar_%"))))


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_csv_import_makes_the_year_complete(core):
    assert core.calendar.current().coverage(2100) is None
    summary = import_schedule(core, SCHEDULE.encode(), note="国办发明电〔2099〕1号", actor="admin")
    assert (summary["year"], summary["holidays"], summary["workdays"]) == (2100, 3, 1)
    cal = core.calendar.current()
    assert cal.coverage(2100) == "imported"
    assert cal.is_workday(date(2100, 2, 7)) and not cal.is_workday(date(2100, 2, 9))
    assert cal.is_workday(date(2100, 2, 10))  # not listed: a plain Wednesday
    [entry] = calendar_audit(core)
    assert entry.action == "calendar_import" and entry.changes["note"] == "国办发明电〔2099〕1号"
    with core.db.read() as session:
        assert session.get(CalendarYear, 2100).status == "official"


def test_an_xlsx_with_real_dates_and_a_gbk_csv_read_the_same(core):
    book = xlsx([["日期", "类型", "说明"], [datetime(2100, 1, 1), "休", "元旦"], [date(2100, 2, 7), "班", None]])
    assert [(r.day, r.workday) for r in parse_schedule(book)] == [(date(2100, 1, 1), False), (date(2100, 2, 7), True)]
    gbk = "2100/1/1,休息日,元旦\n2100.2.7,工作日,调休\n".encode("gbk")
    assert [(r.day, r.workday, r.note) for r in parse_schedule(gbk)] == [
        (date(2100, 1, 1), False, "元旦"), (date(2100, 2, 7), True, "调休")]


def test_the_import_replaces_the_years_corrections_and_its_provisional_status(core):
    core.calendar.set_provisional(2100, True)
    core.calendar.add_override("2100-03-01", "holiday", "临时", actor="admin")
    summary = import_schedule(core, SCHEDULE.encode(), actor="admin")
    assert summary["was"] == "provisional" and summary["replaced_overrides"] == [{"date": "2100-03-01",
                                                                                   "kind": "holiday"}]
    assert (date(2100, 3, 1), False, "override") not in calendar_rows(core)
    assert core.calendar.current().coverage(2100) == "imported"


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"2100-01-01,maybe,?\n", "line 1: 'maybe' is neither holiday"),
    (b"2100-01-01,holiday\n2100-13-01,holiday\n", "line 2: '2100-13-01' is not a date"),
    (b"2100-02-03,workday,x\n", "line 1: 2100-02-03 is a Wednesday"),
    (b"2100-01-02,holiday\n2100-01-02,workday\n", "line 2: 2100-01-02 is listed twice"),
    (b"date,kind\n", "lists no days"),
    (b"\x00\x01\x02binary", "not a CSV"),
    (b"PK\x03\x04 not really a zip", ".xlsx file cannot be read"),
    (b"x" * (MAX_BYTES + 1), "larger than"),
    (("2100-01-01,holiday\n" * 1001).encode(), "more than 1000 rows"),
    (b"2099-12-31,holiday\n2100-01-01,holiday\n2100-01-02,holiday\n", "rows in 2099 can only correct a known year"),
])
def test_bad_files_are_refused_with_the_reason_and_change_nothing(core, content, message):
    before = calendar_rows(core)
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace(".", r"\.")):
        import_schedule(core, content, actor="admin")
    assert calendar_rows(core) == before and calendar_audit(core) == []
    assert core.calendar.current().coverage(2100) is None


def test_every_bad_line_is_listed_at_once(core):
    with pytest.raises(Invalid) as excinfo:
        import_schedule(core, b"2100-01-01,holiday\nnope,holiday\n2100-01-05,sometimes\n", actor="admin")
    assert [field for field, _ in excinfo.value.fields] == ["line 2", "line 3"]


def test_the_cli_imports_a_file_and_reports_status(core, database_url, tmp_path):
    path = tmp_path / "2100.xlsx"
    path.write_bytes(xlsx([["2100-01-01", "休", "元旦"], ["2100-02-07", "班", "调休"]]))
    result = run("calendar", "import", str(path), "--note", "test", url=database_url)
    assert result["year"] == 2100 and result["holidays"] == 1 and result["workdays"] == 1
    assert result["recomputed"] == {"cases": 0, "changed": 0, "unchanged": 0, "closed": 0, "retry": []}
    status = run("calendar", "status", url=database_url)
    assert {"year": 2100, "coverage": "imported", "provisional_deadlines": 0} in status["years"]
    bad = tmp_path / "bad.csv"
    bad.write_text("2100-02-03,班\n", encoding="utf-8")
    assert "a make-up working day" in run("calendar", "import", str(bad), url=database_url, expect_ok=False)


def test_the_admin_page_imports_an_upload_or_pasted_text(login, core):
    admin = login("admin")
    response = admin.post("/admin/calendar/import", data={"text": SCHEDULE, "year": "", "note": "粘贴"})
    assert response.status_code == 302
    assert core.calendar.current().coverage(2100) == "imported"
    page = admin.get("/admin/calendar").get_data(as_text=True)
    row = page.split('data-year="2100"', 1)[1].split("</tr>", 1)[0]
    assert "官方（已导入）" in row

    upload = {"file": (io.BytesIO(xlsx([["2101-01-03", "休", "元旦"]])), "2101.xlsx"), "year": "2101", "note": ""}
    assert admin.post("/admin/calendar/import", data=upload, content_type="multipart/form-data").status_code == 302
    assert core.calendar.current().coverage(2101) == "imported"


def test_the_admin_page_shows_bad_lines_keeps_the_text_and_writes_nothing(login, core):
    admin = login("admin")
    before = calendar_rows(core)
    response = admin.post("/admin/calendar/import", data={"text": "2100-01-01,休\n2100-02-03,班\n", "year": "",
                                                          "note": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "line 2: 2100-02-03 is a Wednesday" in html
    assert "2100-02-03,班" in html  # what was pasted stays in the box
    assert calendar_rows(core) == before and calendar_audit(core) == []
    assert login("dispatcher").post("/admin/calendar/import", data={"text": SCHEDULE}).status_code == 403


def test_the_admin_switches_a_provisional_year_on_and_off(login, core):
    admin = login("admin")
    assert admin.post("/admin/calendar/2100/provisional", data={"state": "on"}).status_code == 302
    assert core.calendar.current().coverage(2100) == "provisional"
    assert admin.post("/admin/calendar/2100/provisional", data={"state": "off"}).status_code == 302
    assert core.calendar.current().coverage(2100) is None
    response = admin.post("/admin/calendar/2026/provisional", data={"state": "on"}, follow_redirects=True)
    assert "2026 年已有官方安排" in response.get_data(as_text=True)
    assert [e.action for e in calendar_audit(core)] == ["calendar_provisional_on", "calendar_provisional_off"]
