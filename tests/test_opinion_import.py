"""Online opinion (网络舆情) import: the spreadsheet's rows become ``online`` cases through the case
service; dry run; bad rows by row number and nothing imported; re-import skips by URL; hostile files."""
from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.cases.models import Case
from app.errors import Invalid
from app.feeds.opinion import import_opinion

HEADER = ["来源网站", "链接", "标题", "内容", "发布时间", "地点"]
ROWS = [
    ["本地论坛", "https://bbs.example.cn/t/1001", "幸福路路灯坏了", "幸福路一到晚上一片漆黑", datetime(2026, 11, 1, 20, 15), "幸福路"],
    ["微博", "https://weibo.example.com/p/2002#comments", "小区垃圾无人清运", "已经三天没人收垃圾", "2026-11-01 09:30", "和平小区"],
    ["抖音", "http://v.example.com/v/3003", "", "夜间施工噪音", "2026/10/31 23:00", ""],
]


def workbook(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def count(core) -> int:
    with core.db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_dry_run_shows_what_would_happen_and_writes_nothing(core):
    report = import_opinion(core, workbook(ROWS), user="operator", apply=False)
    assert report.dry_run and report.rows == 3 and not report.errors
    assert [r.row for r in report.to_import] == [2, 3, 4] and report.registered == []
    assert count(core) == 0


def test_apply_registers_online_cases_on_the_lifecycle(core, driver):
    report = import_opinion(core, workbook(ROWS), user="operator", apply=True)
    assert [r["row"] for r in report.registered] == [2, 3, 4] and not report.skipped
    case = driver.show(report.registered[0]["number"])
    assert case["channel"] == "online" and case["type"] == "complaint" and case["address"] == "幸福路"
    assert "幸福路路灯坏了" in case["text"] and "https://bbs.example.cn/t/1001" in case["text"]
    assert "2026-11-01 20:15" in case["text"] and "本地论坛" in case["text"]
    assert driver.ready(case["number"]) == ["dispatch"]
    assert case["history"][0]["actor"] == "operator"
    with core.db.read() as session:
        stored = session.scalars(select(Case).where(Case.number == case["number"])).one()
        assert (stored.external_source, stored.external_id) == ("opinion", "https://bbs.example.cn/t/1001")
        # the fragment is not part of the post's identity
        assert session.scalar(select(Case.external_id).where(Case.number == report.registered[1]["number"])) \
            == "https://weibo.example.com/p/2002"


def test_reimport_skips_rows_already_imported_and_repeats_in_the_file(core):
    import_opinion(core, workbook(ROWS[:2]), user="operator", apply=True)
    again = ROWS + [["微博", "HTTPS://WEIBO.EXAMPLE.COM/p/2002", "同一帖子", "转发", "2026-11-01 10:00", ""],
                    ["论坛", "http://v.example.com/v/3003", "又一次", "重复", "2026-11-01 11:00", ""]]
    report = import_opinion(core, workbook(again), user="operator", apply=True)
    assert [r["row"] for r in report.registered] == [4]
    reasons = {s["row"]: s["reason"] for s in report.skipped}
    assert reasons == {2: "already imported", 3: "already imported", 5: "already imported", 6: "same URL as row 4"}
    assert count(core) == 3
    assert import_opinion(core, workbook(again), user="operator", apply=True).registered == []
    assert count(core) == 3


def test_bad_rows_are_reported_by_number_and_nothing_is_imported(core):
    rows = ROWS + [["论坛", "ftp://x.example/1", "标题", "内容", "2026-11-01 10:00", ""],
                   ["论坛", "https://ok.example/2", "", "", "2026-11-01 10:00", ""],
                   ["论坛", "https://ok.example/3", "标题", "内容", "昨天", ""],
                   ["论坛", "https://ok.example/4", "标题", "内容", "2031-01-01 10:00", ""]]
    report = import_opinion(core, workbook(rows), user="operator", apply=True)
    assert [e["row"] for e in report.errors] == [5, 6, 7, 8]
    assert "链接" in report.errors[0]["message"] and "标题 and 内容" in report.errors[1]["message"]
    assert "发布时间" in report.errors[2]["message"] and "out of range" in report.errors[3]["message"]
    assert report.registered == [] and count(core) == 0


def test_a_row_the_case_service_refuses_rolls_the_whole_file_back(core, monkeypatch):
    """Rows 2 and 3 are registered inside the transaction, the service refuses row 4: none stays."""
    from app.feeds.opinion import OpinionRow
    real = OpinionRow.case_text
    monkeypatch.setattr(OpinionRow, "case_text", lambda self: "" if self.row == 4 else real(self))
    with pytest.raises(Invalid, match="row 4: text is required"):
        import_opinion(core, workbook(ROWS), user="operator", apply=True)
    assert count(core) == 0
    with pytest.raises(Invalid, match="may not register"):
        import_opinion(core, workbook(ROWS), user="viewer", apply=True)
    assert count(core) == 0


def test_english_headers_and_optional_type_and_category(core, driver):
    header = ["source", "url", "title", "content", "posted_at", "location", "type", "category"]
    rows = [["forum", "https://en.example/1", "Street light", "Dark at night", "2026-11-01 20:00", "Xingfu Rd",
             "建议", "城市管理"]]
    report = import_opinion(core, workbook(rows, header), user="operator", apply=True)
    case = driver.show(report.registered[0]["number"])
    assert case["type"] == "suggestion" and case["category"] == "城市管理"


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"date,kind\n2026-01-01,holiday\n", "not an .xlsx"),
    (b"PK\x03\x04" + b"\x00" * 100, "damaged"),
])
def test_broken_files_are_refused_clearly(core, content, fragment):
    with pytest.raises(Invalid, match=fragment):
        import_opinion(core, content, user="operator", apply=False)


def test_a_workbook_part_with_a_doctype_is_refused_before_parsing(core):
    """An XXE / billion-laughs payload inside a real workbook's shared strings."""
    source = zipfile.ZipFile(io.BytesIO(workbook(ROWS)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                data = data.replace(b"?>", b"?>" + doctype, 1) if data.startswith(b"<?xml") else doctype + data
            archive.writestr(item, data)
    with pytest.raises(Invalid, match="DTD"):
        import_opinion(core, out.getvalue(), user="operator", apply=False)


def test_a_header_without_the_needed_columns_is_refused(core):
    with pytest.raises(Invalid, match="链接"):
        import_opinion(core, workbook(ROWS, ["来源网站", "标题", "内容", "发布时间", "地点", "x"]), user="operator",
                       apply=False)


def test_zip_bombs_oversize_and_too_many_rows_are_refused(core, monkeypatch):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (60 * 1024 * 1024))
    with pytest.raises(Invalid, match="zip bomb"):
        import_opinion(core, bomb.getvalue(), user="operator", apply=False)
    with pytest.raises(Invalid, match="larger than"):
        import_opinion(core, b"PK\x03\x04" + b"\x00" * (5 * 1024 * 1024 + 1), user="operator", apply=False)
    monkeypatch.setattr("app.feeds.opinion.MAX_ROWS", 5)
    many = [["论坛", f"https://ok.example/{i}", "标题", "内容", "2026-11-01 10:00", ""] for i in range(6)]
    with pytest.raises(Invalid, match="more than 5 data rows"):
        import_opinion(core, workbook(many), user="operator", apply=False)
    assert count(core) == 0


# -- the page ------------------------------------------------------------------------------------------
def _upload(client, content: bytes, apply: bool):
    return client.post("/feeds/opinion", data={"apply": "1" if apply else "0",
                                               "file": (io.BytesIO(content), "opinion.xlsx")},
                       content_type="multipart/form-data")


def test_the_import_page_dry_run_then_import(login, core):
    client = login("operator")
    page = client.get("/feeds/opinion")
    assert page.status_code == 200 and "来源网站" in page.get_data(as_text=True)
    body = _upload(client, workbook(ROWS), apply=False).get_data(as_text=True)
    assert "预检结果" in body and "bbs.example.cn/t/1001" in body and count(core) == 0
    body = _upload(client, workbook(ROWS), apply=True).get_data(as_text=True)
    assert "导入完成" in body and count(core) == 3 and "HD-" in body
    body = _upload(client, workbook(ROWS), apply=True).get_data(as_text=True)
    assert "already imported" in body and count(core) == 3


def test_the_import_page_names_bad_rows(login, core):
    response = _upload(login("operator"), workbook(ROWS + [["x", "not a url", "t", "c", "2026-11-01", ""]]), True)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "有错误行，未导入任何数据" in body and "<td>5</td>" in body
    assert count(core) == 0
    response = _upload(login("operator"), b"not a workbook", True)
    assert response.status_code == 400 and "文件无法导入" in response.get_data(as_text=True)


@pytest.mark.parametrize("user, status", [("operator", 200), ("admin", 200), ("dispatcher", 403), ("handler", 403),
                                          ("viewer", 403), ("grid", 403), (None, 302)])
def test_who_may_open_the_import_page(login, user, status):
    assert login(user).get("/feeds/opinion").status_code == status


# -- the command line ----------------------------------------------------------------------------------
def _cli(database_url, *args):
    from tests.test_cli import BIHUAN, cli_env
    return subprocess.run([BIHUAN, *args], capture_output=True, text=True, env=cli_env(database_url), timeout=120)


def test_cli_dry_run_apply_and_bad_rows(core, database_url, tmp_path):
    good = tmp_path / "opinion.xlsx"
    good.write_bytes(workbook(ROWS))
    dry = _cli(database_url, "import", "opinion", str(good))
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True and count(core) == 0
    done = _cli(database_url, "import", "opinion", str(good), "--apply", "--user", "operator")
    assert done.returncode == 0 and json.loads(done.stdout)["imported"] == 3 and count(core) == 3
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook([["x", "https://new.example/1", "t", "c", "not a date", ""]]))
    failed = _cli(database_url, "import", "opinion", str(bad), "--apply")
    assert failed.returncode == 1 and failed.stderr.startswith("error: 1 bad row(s) (first: row 2")
    assert len(failed.stderr.strip().splitlines()) == 1 and count(core) == 3
    missing = _cli(database_url, "import", "opinion", str(tmp_path / "nope.xlsx"))
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: no such file: {tmp_path / 'nope.xlsx'}"
