"""台账: filters, keyset pages, department scope, and the .xlsx/.csv exports (real files read back)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import datetime

import pytest
from openpyxl import load_workbook

from app.reports import exports, ledger
from tests.conftest import at, audit_rows
from tests.test_cli import BIHUAN

HEADERS = ["案件编号", "登记时间", "来源渠道", "类型", "难度", "问题类别", "诉求摘要", "地址", "网格", "承办部门",
           "办结时限", "状态", "剩余工作日", "督办层级", "满意度", "办结时间", "联系电话"]


@pytest.fixture
def cases(driver, clock):
    """Nine cases on 11-02..11-04: complaints of each difficulty for both departments, an inquiry
    left overdue, a refused one. Returns {name: number}."""
    made = {}
    for i, (name, type_, category, difficulty, channel) in enumerate((
            ("c_simple", "投诉", "城市管理", "simple", "phone"), ("c_normal", "投诉", "城市管理", "normal", "grid"),
            ("c_complex", "投诉", "城市管理", "complex", "phone"), ("b_normal", "投诉", "物业管理", "normal", "phone"),
            ("b_complex", "投诉", "物业管理", "complex", "online"), ("c_inquiry", "咨询", "城市管理", "normal", "phone"),
            ("c_inquiry2", "咨询", "城市管理", "normal", "web"), ("b_help", "求助", "物业管理", "normal", "platform"))):
        clock.move_to(at(2026, 11, 2 + i % 3, 9, i))
        made[name] = driver.register(type=type_, channel=channel, category=category, text=f"{name} 路灯不亮",
                                     reporter_phone=f"1390000{i:04d}", address=f"幸福路{i}号",
                                     grid="G01" if i % 2 else None)
        driver.dispatch(made[name], category=category, difficulty=difficulty)
    made["refused"] = driver.register(type="投诉", text="不属于本街道", reporter_phone="13911112222")
    driver.do(made["refused"], "dispatch", "dispatcher", decision="refuse", refuse_reason="不属于受理范围")
    # c_inquiry: signed, due 11-06 (2 working days from 11-04); c_inquiry2 never signed for, due 11-04:
    # both still owe their reply on 11-10 -> overdue.
    driver.sign(made["c_inquiry"])
    clock.move_to(at(2026, 11, 10, 10, 0))
    return made


def test_filters_pages_and_scope(core, cases, login):
    viewer = login("viewer")
    page = viewer.get("/ledgers?type=投诉&difficulty=complex").get_data(as_text=True)
    assert cases["c_complex"] in page and cases["b_complex"] in page and cases["c_normal"] not in page
    assert "投诉台账 · 复杂" in page
    # overdue only: the two inquiries (2 working days) are past due on 11-10, signed for or not; the
    # complaints (15 or 20 working days) are not. Working days left are negative (red).
    page = viewer.get("/ledgers?overdue=1").get_data(as_text=True)
    assert cases["c_inquiry"] in page and cases["c_inquiry2"] in page and cases["c_normal"] not in page
    assert 'class="days negative"' in page
    # a handler sees only their department, whatever department they ask for
    handler = login("handler2")
    page = handler.get("/ledgers?type=投诉").get_data(as_text=True)
    assert cases["b_normal"] in page and cases["c_normal"] not in page
    page = handler.get("/ledgers?department=chengguan").get_data(as_text=True)
    assert cases["c_normal"] not in page
    # keyset pages of 3 over all nine cases, newest first: no row twice, none missed
    with core.db.read() as session:
        f = ledger.parse_filter(session, {})
        seen, after = [], None
        while True:
            result = ledger.page(session, f, after=after, limit=3)
            seen += [r["number"] for r in result["rows"]]
            after = result["next"]
            if not after:
                break
        assert sorted(seen) == sorted(cases.values()) and len(seen) == len(set(seen)) == 9
        times = [r["registered_at"] for r in ledger.page(session, f, limit=20)["rows"]]
        assert times == sorted(times, reverse=True)
        # sort by deadline ascending lists only the cases that have one (the refused case has none)
        f = ledger.parse_filter(session, {"sort": "deadline", "order": "asc"})
        rows = ledger.page(session, f, limit=20)["rows"]
        assert cases["refused"] not in [r["number"] for r in rows] and len(rows) == 8
        assert [r["deadline"] for r in rows] == sorted(r["deadline"] for r in rows)


@pytest.mark.parametrize("url, message", [
    ("/ledgers?from=2026-02-30&to=2026-03-01", "invalid from date"),
    ("/ledgers?from=2026-03-01&to=2026-02-01", "before it starts"),
    ("/ledgers?from=2019-01-01&to=2026-01-01", "longer than 5 years"),
    ("/ledgers?from=2026-03-01", "both"),
    ("/ledgers?department=nowhere", "unknown department"),
    ("/ledgers?channel=fax", "unknown channel"),
    ("/ledgers?tier=7", "tier"),
    ("/ledgers?kpi=happiness&from=2026-01-01&to=2026-01-31", "unknown KPI"),
    ("/ledgers?kpi=redo_rate", "range"),
    ("/ledgers?after=%%%", "cursor"),
    ("/ledgers/export.xlsx?department=nowhere", "unknown department"),
    ("/ledgers/export.pdf", "xlsx"),
    ("/kpis?from=2026-13-01&to=2026-12-01", "invalid from date"),
    ("/kpis?by=street", "street"),
])
def test_bad_input_is_a_clear_400(login, url, message):
    response = login("viewer").get(url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def _rows_of(core, args, user=None):
    with core.db.read() as session:
        f = ledger.parse_filter(session, args)
        scope = None
        if user:
            from app.auth.services import find_user
            from app.cases.visibility import case_scope
            scope = case_scope(find_user(session, user))
        return [c.number for batch in ledger.iter_cases(session, f, scope) for c in batch]


def test_xlsx_export_rows_headers_dates_and_masking(core, cases, login):
    response = login("viewer").get("/ledgers/export.xlsx?type=投诉")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(response.data))
    # one sheet per difficulty, in the office's order
    assert wb.sheetnames == ["简单", "一般", "复杂"]
    numbers = []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][0].startswith("投诉台账") and "导出时间：2026-11-10 10:00" in rows[0][0]
        assert list(rows[1]) == HEADERS
        assert ws.freeze_panes == "A3"
        for row in rows[2:]:
            record = dict(zip(HEADERS, row))
            numbers.append(record["案件编号"])
            assert record["难度"] == ws.title
            # real Excel dates in Shanghai wall-clock time, not strings
            assert isinstance(record["登记时间"], datetime)
            assert isinstance(record["办结时限"], datetime) or record["状态"] == "不予受理"  # refused: no deadline
            assert record["联系电话"].startswith("139") and "****" in record["联系电话"]
    # exactly the filter's rows, in its order within each sheet (refused complaint has difficulty normal)
    assert sorted(numbers) == sorted(_rows_of(core, {"type": "投诉"}))
    assert cases["c_inquiry"] not in numbers and cases["refused"] in numbers
    simple = list(wb["简单"].iter_rows(min_row=3, values_only=True))
    assert simple[0][0] == cases["c_simple"] and simple[0][1] == datetime(2026, 11, 2, 9, 0)
    # a viewer may not unmask: no audit row for the export
    assert not [r for r in _export_audits(core)]


def _export_audits(core):
    from sqlalchemy import select

    from app.cases.models import AuditEntry
    with core.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "ledger_export_unmasked")))


def test_unmasked_export_is_audited_and_csv_opens_in_excel(core, cases, login):
    # the dispatcher calls residents back: phones unmasked, and the export is written to the audit log
    response = login("dispatcher").get("/ledgers/export.csv?channel=phone")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8 Chinese
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    body = [dict(zip(HEADERS, r)) for r in rows[1:]]
    assert [r["案件编号"] for r in body] == _rows_of(core, {"channel": "phone"})
    assert all("****" not in r["联系电话"] for r in body) and body[0]["登记时间"].startswith("2026-11-")
    audits = _export_audits(core)
    assert len(audits) == 1
    assert audits[0].actor == "dispatcher" and audits[0].changes["rows"] == len(body)
    assert audits[0].changes["filter"] == {"channel": "phone"} and audits[0].changes["format"] == "csv"
    # a handler's export holds only their department's rows
    response = login("handler2").get("/ledgers/export.csv")
    numbers = [r[0] for r in csv.reader(io.StringIO(response.data.decode("utf-8-sig")))][1:]
    assert sorted(numbers) == sorted(cases[k] for k in ("b_normal", "b_complex", "b_help"))


def test_export_refuses_more_rows_than_a_sheet_holds(core, cases, monkeypatch):
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 5)  # 9 rows > 5 - 2 header rows
    from app.errors import Invalid
    with pytest.raises(Invalid, match="more than a spreadsheet holds"):
        exports.export_ledger(core, args={}, fmt="xlsx", out=io.BytesIO())
    exports.export_ledger(core, args={"type": "咨询"}, fmt="xlsx", out=io.BytesIO())  # 2 rows fit


def test_cli_ledger_export(core, cases, tmp_path):
    env = {**os.environ, "BIHUAN_TESTING": "1", "BIHUAN_TEST_NOW": at(2026, 11, 10, 10, 0).isoformat()}

    def run(*args):
        return subprocess.run([BIHUAN, "ledger", "export", *args], capture_output=True, text=True, env=env,
                              timeout=120)
    out = tmp_path / "complaints.xlsx"
    result = run("--type", "投诉", "--department", "chengguan", "--format", "xlsx", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"rows": 3, "out": str(out)}  # c_simple, c_normal, c_complex
    wb = load_workbook(out)
    assert sum(ws.max_row - 2 for ws in wb.worksheets) == 3
    out = tmp_path / "overdue.csv"
    result = run("--overdue", "--format", "csv", "--out", str(out))
    assert json.loads(result.stdout)["rows"] == 2
    assert cases["c_inquiry"] in out.read_text(encoding="utf-8-sig")
    for args, message in ((("--department", "nowhere", "--format", "csv", "--out", str(out)), "unknown department"),
                          (("--format", "pdf", "--out", str(out)), "unknown format"),
                          (("--from", "2026-01-01", "--format", "csv", "--out", str(out)), "both"),
                          (("--format", "csv", "--out", "/no/such/dir/x.csv"), "cannot write")):
        result = run(*args)
        assert result.returncode == 1 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_audit_rows_helper_untouched(core, cases):
    # exports never write per-case audit rows: the case timeline stays the workflow's
    assert [r.action for r in audit_rows(core, cases["c_simple"])] == ["register", "complete"]


def test_a_handlers_pages_merge_their_department_and_co_handled_cases(core, cases, driver, clock, monkeypatch):
    """A handler's scope is two parts (their department; the 联动处置 cases they co-handle), each paged
    down its own index and merged (ledger._fetch). Every page, and the export, must hold exactly what
    the one-OR query gives, in the same order."""
    from app.auth.services import find_user
    from app.cases.visibility import case_scope, case_scope_parts
    from tests.test_joint_disposal import joint_dispatch
    joint = []
    for i in range(3):  # chengguan leads, community_building (handler2's department) co-handles
        clock.move_to(at(2026, 11, 3, 11, i))
        joint.append(driver.register(type="投诉", text=f"联动{i} 违章搭建", category="城市管理"))
        joint_dispatch(driver, joint[-1], co=["community_building", "police"])
    clock.move_to(at(2026, 11, 10, 10, 0))
    with core.db.read() as session:
        me = find_user(session, "handler2")
        assert len(case_scope_parts(me)) == 2
        for args in ({}, {"sort": "number", "order": "asc"}, {"type": "投诉"}):
            f = ledger.parse_filter(session, args)
            for scope in (case_scope_parts(me), case_scope(me)):
                seen, after = [], None
                while True:
                    result = ledger.page(session, f, scope=scope, after=after, limit=2)
                    seen.append([r["number"] for r in result["rows"]])
                    after = result["next"]
                    if after is None:
                        break
                if isinstance(scope, list):
                    merged = seen
                else:
                    assert merged == seen, args
            flat = [n for page in merged for n in page]
            assert set(joint) <= set(flat) and cases["b_normal"] in flat and cases["c_normal"] not in flat
            assert len(flat) == len(set(flat))
        # The export's keyset batches, merged the same way, equal the one-OR query's rows.
        f = ledger.parse_filter(session, {})
        streamed = [r.number for batch in ledger.iter_cases(session, f, case_scope_parts(me), batch=2) for r in batch]
        assert streamed == _rows_of(core, {}, user="handler2") and set(joint) <= set(streamed)
