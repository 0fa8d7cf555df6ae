"""Editing single nodes of the territory tree on /org: add a child, rename, move (level order,
no cycle), a grid's counts. Every edit is audited; bad input is refused at its field and writes
nothing (the tree exports the same cells as before)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.cases.models import AuditEntry
from app.errors import Forbidden, Invalid, NotFound
from app.org import edits, services
from app.org.exchange import workbook_cells
from app.org.models import Grid, OrgUnit
from tests.test_org import original  # noqa: F401  (fixture: the seeded tree, put back afterwards)

EDIT_ACTIONS = ("org_node_add", "org_node_rename", "org_node_move", "org_grid_counts")


def _audit(core, action: str) -> list[AuditEntry]:
    with core.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _run(core, fn, *args, **kw):
    with core.db.unit_of_work() as session:
        return fn(session, *args, **kw)


def test_add_rename_move_and_counts_write_the_tree_and_audit(core, original):
    added = _run(core, edits.add_child, "admin", parent="G01", code="G01-W3", name="第一网格三号微网格")
    assert added == {"code": "G01-W3", "name": "第一网格三号微网格", "level": "micro_grid", "parent": "G01"}
    _run(core, edits.add_child, "admin", parent="G01-W3", code="G01-W3-Z1", name="三号微网格一组")
    _run(core, edits.rename, "admin", "C02", "光明新村社区")
    _run(core, edits.move, "admin", "G02", "C02")
    _run(core, edits.set_counts, "admin", "G02", "812", " 2045 ")
    with core.db.read() as session:
        units = {u.code: u for u in session.scalars(select(OrgUnit).where(
            OrgUnit.code.in_(["G01-W3", "G01-W3-Z1", "C02", "G02"])))}
        assert (units["G01-W3-Z1"].level, units["G01-W3-Z1"].parent_code) == ("resident_group", "G01-W3")
        assert units["C02"].name == "光明新村社区" and units["G02"].parent_code == "C02"
        grids = {g.code: g for g in session.scalars(select(Grid).where(Grid.code.in_(["G02", "G03"])))}
        # a grid row follows its node: the moved grid and the renamed community's grids
        assert grids["G02"].community == grids["G03"].community == "光明新村社区"
        assert (grids["G02"].households, grids["G02"].residents) == (812, 2045)
        assert grids["G02"].geometry  # the boundary stays
    assert [a.changes for a in _audit(core, "org_node_add")][0] == {
        "code": "G01-W3", "name": "第一网格三号微网格", "level": "micro_grid", "parent": "G01"}
    assert _audit(core, "org_node_rename")[-1].changes == {"code": "C02", "name": ["光明社区", "光明新村社区"]}
    assert _audit(core, "org_node_move")[-1].changes == {"code": "G02", "parent": ["C01", "C02"]}
    counts = _audit(core, "org_grid_counts")[-1]
    assert counts.actor == "admin" and counts.changes["households"][1] == 812
    # the exchanged file says the same, and the import's own check accepts it
    dry = services.import_xlsx(core, services.export_xlsx(core), actor="admin")
    assert set(dry["counts"].values()) == {0}
    # blank clears a count; an unchanged value writes no audit row
    _run(core, edits.set_counts, "admin", "G02", "", "2045")
    _run(core, edits.set_counts, "admin", "G02", "", "2045")
    assert len(_audit(core, "org_grid_counts")) == 2


BAD = {
    "duplicate code": (edits.add_child, dict(parent="G01", code="G02", name="重复"), "code", "编码 G02 已存在"),
    "code of an unplaced grid": (edits.add_child, dict(parent="G01", code="GX", name="临时"), "code", "已存在"),
    "empty code": (edits.add_child, dict(parent="G01", code="  ", name="空"), "code", "请填写编码"),
    "code with a space": (edits.add_child, dict(parent="G01", code="G01 W9", name="空格"), "code", "不能含空格"),
    "over-long code": (edits.add_child, dict(parent="G01", code="W" * 51, name="长"), "code", "编码最多 50 位"),
    "over-long name": (edits.add_child, dict(parent="G01", code="G01-W9", name="名" * 101), "name", "名称最多 100 个字"),
    "control characters": (edits.add_child, dict(parent="G01", code="G01-W9", name="甲\x00乙"), "name", "控制字符"),
    "unknown parent": (edits.add_child, dict(parent="C99", code="G99", name="新网格"), "parent", "上级节点 C99 不存在"),
    "under the last level": (edits.add_child, dict(parent="G01-W1-Z1", code="Z9", name="下级"), "parent",
                             "居民小组是最末一级"),
    "rename to nothing": (edits.rename, dict(code="G01", name=""), "name", "请填写名称"),
    "move under the wrong level": (edits.move, dict(code="G01", parent="HD"), "parent",
                                   "网格只能放在社区之下，HD是街道"),
    "move under itself": (edits.move, dict(code="G01", parent="G01"), "parent", "不能移到自身或其下级之下"),
    "move under its descendant": (edits.move, dict(code="G01", parent="G01-W1"), "parent", "不能移到自身或其下级之下"),
    "move the sub-district": (edits.move, dict(code="HD", parent="C01"), "parent", "街道是最上一级"),
    "move under an unknown parent": (edits.move, dict(code="G01", parent="C77"), "parent", "上级节点 C77 不存在"),
    "negative count": (edits.set_counts, dict(code="G01", households="-3", residents="10"), "households", "应为 0 到"),
    "huge count": (edits.set_counts, dict(code="G01", households="10", residents="10000001"), "residents", "应为 0 到"),
    "fraction": (edits.set_counts, dict(code="G01", households="1.5", residents="10"), "households", "整数"),
    "text count": (edits.set_counts, dict(code="G01", households="many", residents="10"), "households", "整数"),
    "counts of a community": (edits.set_counts, dict(code="C01", households="1", residents="1"), "_form",
                              "只有网格记录户数和人口"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_edits_are_refused_at_the_field_and_write_nothing(core, original, kind):
    fn, kw, field, message = BAD[kind]
    if kind == "code of an unplaced grid":
        with core.db.unit_of_work() as session:
            session.add(Grid(code="GX", name="临时网格", community=""))
    before = workbook_cells(services.export_xlsx(core))
    with pytest.raises(Invalid) as caught:
        with core.db.unit_of_work() as session:
            fn(session, "admin", **kw)
    assert any(f == field and message in m for f, m in caught.value.fields), caught.value.fields
    assert workbook_cells(services.export_xlsx(core)) == before
    assert not any(_audit(core, action) for action in EDIT_ACTIONS)


def test_unknown_nodes_and_non_admins_are_refused(core, original):
    with pytest.raises(NotFound):
        _run(core, edits.rename, "admin", "NOPE", "无")
    with pytest.raises(NotFound):
        _run(core, edits.set_counts, "admin", "NOPE", "1", "1")
    for user in ("dispatcher", "grid", "leader"):
        with pytest.raises(Forbidden):
            _run(core, edits.rename, user, "G01", "第一网格（改）")
    assert not any(_audit(core, action) for action in EDIT_ACTIONS)


def test_org_page_edits_with_errors_at_the_field(login, core, original):
    admin = login("admin")
    html = admin.get("/org?node=G01").get_data(as_text=True)
    assert 'id="org-edit"' in html and 'id="org-counts"' in html and 'id="org-add"' in html
    assert '<option value="C02"' in html  # the move offers the communities
    bad = admin.post("/org/nodes", data={"parent": "G01", "code": "G02", "name": "重复的微网格"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="add-code-error"' in page and "编码 G02 已存在" in page
    assert 'value="重复的微网格"' in page  # what was typed is kept
    bad = admin.post("/org/nodes/G01/counts", data={"households": "-1", "residents": "99999999999"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="counts-households-error"' in page and 'id="counts-residents-error"' in page
    bad = admin.post("/org/nodes/G01/move", data={"parent": "G02-W1"})
    assert bad.status_code == 400 and 'id="move-parent-error"' in bad.get_data(as_text=True)
    assert admin.post("/org/nodes/NOPE/rename", data={"name": "无"}).status_code == 404
    assert not any(_audit(core, action) for action in EDIT_ACTIONS)

    done = admin.post("/org/nodes", data={"parent": "G01", "code": "G01-W3", "name": "第一网格三号微网格"})
    assert done.status_code == 303 and "node=G01" in done.location
    assert admin.post("/org/nodes/G01/counts", data={"households": "300", "residents": "900"}).status_code == 303
    assert admin.post("/org/nodes/G01-W3/rename", data={"name": "三号微网格"}).status_code == 303
    html = admin.get("/org").get_data(as_text=True)
    assert "三号微网格" in html and "<td>300</td>" in html
    assert [a.source for a in _audit(core, "org_node_add")] == ["web"]
    for user in ("dispatcher", "grid_pro"):
        client = login(user)
        assert client.post("/org/nodes", data={"parent": "G01", "code": "X", "name": "甲"}).status_code == 403
        assert client.post("/org/nodes/G01/rename", data={"name": "甲"}).status_code == 403


def test_the_edit_forms_need_a_csrf_token(core, original):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, core=core)  # CSRF on, as in production
    client = app.test_client()
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": "admin", "password": "bihuan123",
                                       "csrf_token": token}).status_code == 302
    page = client.get("/org?node=G01").get_data(as_text=True)
    assert page.count('method="post"') == page.count('name="csrf_token"')
    assert client.post("/org/nodes/G01/rename", data={"name": "第一网格（改）"}).status_code == 400
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/org/nodes/G01/rename", data={"name": "第一网格（改）", "csrf_token": token}).status_code == 303
    assert [a.changes["name"] for a in _audit(core, "org_node_rename")] == [["第一网格", "第一网格（改）"]]
