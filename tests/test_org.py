"""The territory tree and the 1+1+N teams: export → import → export round trip, the dry run, each
kind of bad file (rejected with row and reason, nothing written), the CLI and the /org pages."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.cases.models import AuditEntry
from app.org import services
from app.org.exchange import ImportRejected, TEAM_SHEET, TREE_SHEET, workbook_cells
from app.org.models import Grid, GridTeamMember, OrgUnit


@pytest.fixture
def original(core):
    """The seeded organisation, put back after the test (the org tables are kept between tests)."""
    content = services.export_xlsx(core)
    yield content
    services.import_xlsx(core, content, actor="admin", apply=True)
    assert workbook_cells(services.export_xlsx(core)) == workbook_cells(content)


def _edit(content: bytes, fn) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    fn(wb[TREE_SHEET], wb[TEAM_SHEET])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _row_of(ws, code: str) -> int:
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == code)


def test_export_import_export_gives_the_same_content(core, original):
    cells = workbook_cells(original)
    assert cells[TREE_SHEET][0] == ["编码", "名称", "层级", "上级编码", "户数", "人口", "边界GeoJSON"]
    assert cells[TEAM_SHEET][0] == ["网格编码", "职务", "用户名", "姓名", "部门编码", "专业领域"]
    codes = [row[0] for row in cells[TREE_SHEET][1:]]
    assert codes[0] == "HD" and {"G01", "G02", "G03"} <= set(codes) and len(codes) == 211
    assert ["G01", "专业网格员", "grid_pro", "市场监管所专业网格员小刘", "market_supervision", "食品安全"] in cells[TEAM_SHEET]
    dry = services.import_xlsx(core, original, actor="admin")
    assert dry["applied"] is False and set(dry["counts"].values()) == {0}
    applied = services.import_xlsx(core, original, actor="admin", apply=True)
    assert applied["applied"] is True
    assert workbook_cells(services.export_xlsx(core)) == cells


def test_dry_run_lists_changes_and_apply_writes_them(core, original):
    def change(tree, teams):
        tree.cell(_row_of(tree, "G02"), 2).value = "第二网格（新）"
        tree.delete_rows(_row_of(tree, "G40-W2-Z1"))
        tree.append(["G03-W3", "第三网格三号微网格", "微网格", "G03", None, None, None])
        teams.append(["G02", "网格长", "grid", None, None, None])
    content = _edit(original, change)
    dry = services.import_xlsx(core, content, actor="admin")
    assert (dry["added"], dry["changed"], dry["removed"]) == (["G03-W3"], ["G02"], ["G40-W2-Z1"])
    assert dry["members_added"] == ["G02 网格长 grid"] and dry["members_removed"] == []
    with core.db.read() as session:  # the dry run wrote nothing
        assert session.scalar(select(OrgUnit).where(OrgUnit.code == "G03-W3")) is None
        assert session.scalar(select(Grid.name).where(Grid.code == "G02")) == "第二网格"
    services.import_xlsx(core, content, actor="admin", apply=True)
    with core.db.read() as session:
        assert session.scalar(select(OrgUnit.parent_code).where(OrgUnit.code == "G03-W3")) == "G03"
        assert session.scalar(select(Grid.name).where(Grid.code == "G02")) == "第二网格（新）"
        assert session.scalar(select(OrgUnit).where(OrgUnit.code == "G40-W2-Z1")) is None
        assert session.scalar(select(func.count()).select_from(GridTeamMember)
                              .where(GridTeamMember.grid == "G02", GridTeamMember.role == "grid_leader")) == 1
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "org_import")).all()
        assert len(audit) == 1 and audit[0].changes["added"] == ["G03-W3"]


def _bad(**kw):
    return kw


BAD_CASES = {
    "duplicate code": (lambda t, m: t.append(["G01", "重复", "网格", "C01", None, None, None]),
                       "duplicate code 'G01' (first on row"),
    "unknown parent": (lambda t, m: t.append(["G99", "第九十九网格", "网格", "C77", None, None, None]),
                       "unknown parent 'C77'"),
    "cycle": (lambda t, m: (t.append(["X1", "甲", "社区", "X2", None, None, None]),
                            t.append(["X2", "乙", "社区", "X1", None, None, None])), "is a cycle"),
    "wrong level": (lambda t, m: t.append(["X3", "丙", "居民小组", "C01", None, None, None]),
                    "cannot sit under a 社区"),
    "bad GeoJSON text": (lambda t, m: setattr(t.cell(_row_of(t, "G01"), 7), "value", "{not json"),
                         "bad GeoJSON: boundary is not valid JSON"),
    "GeoJSON not a polygon": (lambda t, m: setattr(t.cell(_row_of(t, "G01"), 7), "value",
                                                   '{"type":"Point","coordinates":[120.1,35.9]}'),
                              "must be a GeoJSON Polygon or MultiPolygon"),
    "GeoJSON open ring": (lambda t, m: setattr(t.cell(_row_of(t, "G01"), 7), "value", json.dumps(
        {"type": "Polygon", "coordinates": [[[120.1, 35.9], [120.2, 35.9], [120.2, 36.0], [120.1, 36.0]]]})),
                          "closed rings"),
    "negative households": (lambda t, m: setattr(t.cell(_row_of(t, "G01"), 5), "value", -3),
                            "户数 '-3' is not a whole number"),
    "unknown level": (lambda t, m: setattr(t.cell(_row_of(t, "G01"), 3), "value", "片区"), "unknown 层级 '片区'"),
    "unknown user": (lambda t, m: m.append(["G01", "网格长", "nobody", None, None, None]), "unknown user 'nobody'"),
    "team grid not a grid": (lambda t, m: m.append(["C01", "网格长", "grid", None, None, None]),
                             "'C01' is not a 网格 of the tree"),
    "professional without field": (lambda t, m: m.append(["G02", "专业网格员", "grid_pro", None, "market_supervision", None]),
                                   "needs 部门编码 and 专业领域"),
    "second grid worker": (lambda t, m: m.append(["G01", "专职网格员", "handler", None, None, None]),
                           "already has a 专职网格员"),
    "bad header": (lambda t, m: setattr(t.cell(1, 1), "value", "代码"), "header must be 编码"),
}


@pytest.mark.parametrize("kind", sorted(BAD_CASES))
def test_bad_rows_are_rejected_with_row_and_reason(core, original, kind):
    change, reason = BAD_CASES[kind]
    content = _edit(original, change)
    with pytest.raises(ImportRejected) as caught:
        services.import_xlsx(core, content, actor="admin", apply=True)
    assert any(reason in e["reason"] for e in caught.value.errors), caught.value.errors
    assert all(e["row"] for e in caught.value.errors if e["sheet"]), "every row error names its row"
    assert workbook_cells(services.export_xlsx(core)) == workbook_cells(original)  # nothing written


def test_removing_a_grid_that_cases_name_is_refused(core, driver, original):
    driver.register(grid="G03", text="楼道堆放杂物")
    content = _edit(original, lambda t, m: [t.delete_rows(_row_of(t, code)) for code in
                                           ("G03-W2-Z1", "G03-W2", "G03-W1-Z1", "G03-W1", "G03")])
    with pytest.raises(ImportRejected) as caught:
        services.import_xlsx(core, content, actor="admin", apply=True)
    assert "grid 'G03' cannot be removed: 1 cases and 0 users name it" in str(caught.value)


def _big_workbook(rows: int) -> bytes:
    """A real .xlsx whose tree sheet has ``rows`` data rows, its XML written directly (openpyxl
    would take a minute to write them)."""
    wb = Workbook()
    wb.active.title = TREE_SHEET
    wb.active.append(["编码", "名称", "层级", "上级编码", "户数", "人口", "边界GeoJSON"])
    wb.active.append(["HD", "黄岛街道", "街道"])
    small = io.BytesIO()
    wb.save(small)
    def cell(ref, text):
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'
    header = "".join(cell(f"{c}1", t) for c, t in zip("ABCDEFG", ["编码", "名称", "层级", "上级编码", "户数", "人口",
                                                                   "边界GeoJSON"]))
    body = [f'<row r="1">{header}</row>', f'<row r="2">{cell("A2", "HD")}{cell("B2", "黄岛街道")}{cell("C2", "街道")}</row>']
    body += [f'<row r="{i}">{cell(f"A{i}", f"N{i}")}{cell(f"B{i}", "组")}{cell(f"C{i}", "社区")}{cell(f"D{i}", "HD")}</row>'
             for i in range(3, rows + 3)]
    xml = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
           'spreadsheetml/2006/main"><sheetData>' + "".join(body) + "</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = xml.encode() if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename)
            dst.writestr(item.filename, data)
    return out.getvalue()


def test_more_than_100_000_rows_is_refused(core, original):
    with pytest.raises(ImportRejected) as caught:
        services.import_xlsx(core, _big_workbook(100_000), actor="admin")
    assert caught.value.errors == [{"sheet": TREE_SHEET, "row": 100_002,
                                    "reason": "more than 100 000 rows: split the file"}]
    # Under the limit the rows are read and checked (here: the grids the file leaves out are in use).
    with pytest.raises(ImportRejected) as caught:
        services.import_xlsx(core, _big_workbook(50), actor="admin")
    assert "rows" not in str(caught.value) and "cannot be removed" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"not a spreadsheet", b"PK\x03\x04broken zip"], ids=["empty", "text", "zip"])
def test_broken_files_are_refused(core, content):
    with pytest.raises(ImportRejected) as caught:
        services.import_xlsx(core, content, actor="admin")
    assert "not a readable .xlsx file" in caught.value.errors[0]["reason"]


def test_a_zip_that_is_not_a_workbook_and_a_missing_sheet(core):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ImportRejected, match="not a readable .xlsx file"):
        services.import_xlsx(core, out.getvalue(), actor="admin")
    wb = Workbook()
    wb.active.title = "Sheet"
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(ImportRejected, match="the sheet '组织架构' is missing"):
        services.import_xlsx(core, out.getvalue(), actor="admin")


def test_only_an_admin_imports(core, original):
    from app.errors import Forbidden
    with pytest.raises(Forbidden):
        services.import_xlsx(core, original, actor="dispatcher", apply=True)


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "app.cli_main", *args], capture_output=True, text=True, env=env)


def test_cli_export_and_dry_run_import(core, original, tmp_path, database_url):
    import os
    env = {**os.environ, "BIHUAN_DATABASE_URL": database_url}
    bihuan = [sys.executable, "-c", "from app.cli import main; main()"]
    path = tmp_path / "org.xlsx"
    done = subprocess.run(bihuan + ["org", "export", str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"]["grid"] == 40
    done = subprocess.run(bihuan + ["org", "import", str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"] is False
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_edit(original, BAD_CASES["unknown parent"][0]))
    done = subprocess.run(bihuan + ["org", "import", str(bad), "--apply"], capture_output=True, text=True, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: import rejected, nothing written: 组织架构 row 213: unknown parent 'C77'")
    assert len(done.stderr.strip().splitlines()) == 1


def test_org_pages(login, original):
    admin = login("admin")
    page = admin.get("/org")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "黄岛街道" in html and "第一网格" in html and "专业网格员·市场监管所专业网格员小刘" in html
    export = admin.get("/org/export.xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    assert workbook_cells(export.data) == workbook_cells(original)
    dry = admin.post("/org/import", data={"file": (io.BytesIO(original), "org.xlsx")},
                     content_type="multipart/form-data")
    assert dry.status_code == 200 and "试运行" in dry.get_data(as_text=True)
    bad = admin.post("/org/import", data={"file": (io.BytesIO(b"junk"), "org.xlsx"), "apply": "1"},
                     content_type="multipart/form-data")
    assert bad.status_code == 400 and "not a readable .xlsx file" in bad.get_data(as_text=True)
    empty = admin.post("/org/import", data={}, content_type="multipart/form-data")
    assert empty.status_code == 400
    for user in ("dispatcher", "viewer", "handler", "grid", "grid_pro"):
        client = login(user)
        assert client.get("/org").status_code == 403
        assert client.get("/org/export.xlsx").status_code == 403
        assert client.post("/org/import", data={}).status_code == 403
    assert login(None).get("/org").status_code in (302, 401)


def test_a_grid_outside_the_tree_is_removed_only_when_unused(core, driver, original):
    with core.db.unit_of_work() as session:
        session.add(Grid(code="GX", name="临时网格", community=""))
    try:
        number = driver.register(grid="GX", text="临时网格里的诉求")
        with pytest.raises(ImportRejected, match="grid 'GX' cannot be removed: 1 cases"):
            services.import_xlsx(core, original, actor="admin", apply=True)
        assert number
    finally:
        from app.cases.models import Case
        with core.db.unit_of_work() as session:
            session.execute(Case.__table__.update().where(Case.grid == "GX").values(grid=None))
    dry = services.import_xlsx(core, original, actor="admin")
    assert dry["removed"] == ["GX"]
    services.import_xlsx(core, original, actor="admin", apply=True)
    with core.db.read() as session:
        assert session.scalar(select(Grid).where(Grid.code == "GX")) is None
