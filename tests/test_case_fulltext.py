"""The case search's full-text index (app/cases/fulltext.py): SQLite FTS5 trigram / PostgreSQL pg_trgm,
kept in the case's own transaction, and the bounded scan for fragments too short to look up."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from app.cases import fulltext
from app.cases.models import Case
from app.cases.search import Criteria, search_cases
from app.web.access import WebUser

VIEWER = WebUser(1, "viewer", "viewer", {"viewer"})
GRID = WebUser(4, "grid", "g", {"grid_worker"}, None, "G01")


def search(core, q, user=VIEWER, **more):
    with core.db.read() as session:
        result = search_cases(session, user, Criteria(q=q, **more))
        return [r.number for r in result.rows], result.note


def test_the_index_exists_on_this_database(core):
    with core.db.read() as session:
        if session.get_bind().dialect.name == "sqlite":
            names = set(session.scalars(text("SELECT name FROM sqlite_master WHERE name LIKE 'cases_fts%'")))
            assert {"cases_fts", "cases_fts_insert", "cases_fts_update", "cases_fts_delete"} <= names
            plan = " ".join(str(row) for row in session.execute(
                text("EXPLAIN QUERY PLAN SELECT rowid FROM cases_fts WHERE cases_fts MATCH '\"路灯不亮\"'")))
            assert "VIRTUAL TABLE INDEX" in plan
        else:
            indexes = dict(session.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases'"
                " AND schemaname = current_schema()")).all())
            for name in fulltext.TRGM_INDEXES:
                assert "gin_trgm_ops" in indexes[name]


def test_three_characters_or_more_find_text_and_address_anywhere_in_them(driver, core):
    lamp = driver.register(text="小区门口路灯不亮已经一周", address="幸福路12号")
    noise = driver.register(text="夜间施工噪音扰民", address="和平街8号幸福小区")
    assert search(core, "路灯不亮") == ([lamp], "")
    assert search(core, "灯不亮已")[0] == [lamp]
    assert search(core, "幸福路")[0] == [lamp]  # the address
    assert search(core, "幸福小区")[0] == [noise]
    assert search(core, "12号")[0] == [lamp]
    assert search(core, "路灯亮")[0] == []  # a substring, not a bag of characters
    assert search(core, "无此内容")[0] == []


def test_wildcards_and_quotes_are_plain_characters(driver, core):
    odd = driver.register(text='标语写着"50%_完成"字样')
    driver.register(text="标语写着500完成字样")
    assert search(core, '"50%_')[0] == [odd]
    assert search(core, "50%")[0] == [odd]
    assert search(core, '""""')[0] == []
    assert search(core, "%_完")[0] == [odd]
    assert search(core, "5_%")[0] == []


def test_the_index_follows_the_case_in_its_own_transaction(driver, core):
    number = driver.register(text="井盖缺失有安全隐患")
    with pytest.raises(RuntimeError):
        with core.db.unit_of_work() as session:
            session.execute(update(Case).where(Case.number == number).values(text="广告牌松动"))
            assert search_cases(session, VIEWER, Criteria(q="广告牌松")).rows  # seen inside the transaction
            raise RuntimeError("rolled back")
    assert search(core, "广告牌松")[0] == []
    assert search(core, "井盖缺失")[0] == [number]
    with core.db.unit_of_work() as session:
        session.execute(update(Case).where(Case.number == number).values(text="广告牌松动", address="光明街"))
    assert search(core, "井盖缺失")[0] == []
    assert search(core, "广告牌松")[0] == [number]
    assert search(core, "光明街")[0] == [number]


def test_short_fragments_scan_only_the_newest_cases_and_say_so(driver, core, clock, monkeypatch):
    monkeypatch.setattr(fulltext, "SHORT_SCAN_LIMIT", 2)
    old = driver.register(text="路灯不亮")
    clock.shift(60)
    newer = driver.register(text="路灯闪烁")
    clock.shift(60)
    driver.register(text="噪音扰民")
    numbers, note = search(core, "路灯")
    assert numbers == [newer]  # the old one is beyond the newest two
    assert "2" in note and "三个字" in note
    assert search(core, "路灯不") == ([old], "")  # three characters search every case
    assert search(core, "路灯", channel="phone")[0] == [newer]


def test_short_fragment_note_is_on_the_page_and_translated(login, driver, clock):
    driver.register(text="路灯不亮")
    body = login("viewer").get("/cases/search?q=路灯").get_data(as_text=True)
    assert "少于三个字的内容只在最新的 5,000 件工单中查找" in body
    client = login("viewer")
    client.get("/lang/en")
    english = client.get("/cases/search?q=路灯").get_data(as_text=True)
    assert "newest 5,000 cases" in english
    assert "search-note" not in login("viewer").get("/cases/search?q=路灯不亮").get_data(as_text=True)


@pytest.mark.parametrize("q", ["井盖缺失", "井盖"])  # through the index and through the bounded scan
def test_grid_workers_search_only_their_grid_and_their_reports(driver, core, login, clock, q):
    own_grid = driver.register(text="井盖缺失G01", grid="G01")
    reported = driver.register(channel="grid", text="井盖缺失自报", grid="G01", user="grid")
    elsewhere = driver.register(text="井盖缺失G02", grid="G02")
    no_grid = driver.register(text="井盖缺失无网格")
    numbers = set(search(core, q, user=GRID)[0])
    assert numbers == {own_grid, reported}
    body = login("grid").get(f"/cases/search?q={q}").get_data(as_text=True)
    assert own_grid in body and reported in body
    assert elsewhere not in body and no_grid not in body


def test_newest_window_first_gives_the_same_pages_as_the_index(driver, core, clock, monkeypatch):
    """PostgreSQL looks for an indexed fragment in the newest cases first (search.RECENT_WINDOW) and
    asks the trigram index only when they do not fill the page. Every page must be the one the index
    alone gives: a full page from the window, a short one from the index (older matches included)."""
    from app.cases import search as search_module
    monkeypatch.setattr(search_module, "PAGE_SIZE", 2)
    monkeypatch.setattr(search_module, "RECENT_WINDOW", 4)
    texts = ["路灯不亮一", "噪音扰民", "路灯不亮二", "路灯不亮三", "井盖缺失", "路灯不亮四", "路灯不亮五", "占道经营"]
    made = []
    for body in texts:
        made.append(driver.register(text=body))
        clock.shift(60)
    lamps = [n for n, body in zip(made, texts) if "路灯" in body][::-1]  # newest first

    def pages(window: bool):
        monkeypatch.setattr(search_module, "_newest_first", lambda session, criteria: window)
        out = []
        with core.db.read() as session:
            for page in (1, 2, 3):
                result = search_cases(session, VIEWER, Criteria(q="路灯不亮"), page=page)
                out.append(([r.number for r in result.rows], result.has_next))
        return out

    expected = [(lamps[0:2], True), (lamps[2:4], True), (lamps[4:5], False)]
    assert pages(False) == expected
    assert pages(True) == expected  # page 1 from the window; pages 2-3 need the older cases
    monkeypatch.setattr(search_module, "RECENT_WINDOW", 1)  # the window holds no match at all
    assert pages(True) == expected


def test_a_handlers_short_fragment_scans_each_part_of_its_scope_down_its_own_index(driver, core, clock,
                                                                                    monkeypatch):
    """A handler sees the department's cases and the ones it co-handles. The bounded scan takes the
    newest SHORT_SCAN_LIMIT of each part, then the newest of those: as one OR, the database read and
    sorted every case of the department (half a second at 1 000 000 cases, bench/worklist.py)."""
    from app.cases import search as search_module
    from app.joint.models import CoHandler
    monkeypatch.setattr(fulltext, "SHORT_SCAN_LIMIT", 2)
    handler = WebUser(2, "handler", "handler", {"handler"}, "chengguan")
    own = []
    for n in range(3):
        own.append(driver.register(text=f"路灯坏了{n}"))
        driver.dispatch(own[-1], department="chengguan")
        clock.shift(60)
    other = driver.register(text="路灯坏了，由派出所主办")
    driver.dispatch(other, department="police")
    with core.db.unit_of_work() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == other))
        session.add(CoHandler(case_id=case_id, unit="chengguan", status="dispatched"))
    assert search(core, "路灯", user=handler)[0] == [other, own[2]]
    assert search(core, "路灯坏", user=handler)[0] == [other, *own[::-1]]  # the index: every case
    assert search(core, "路灯", user=WebUser(3, "p", "p", {"handler"}, "police"))[0] == [other]
    if core.db.engine.dialect.name == "sqlite":
        with core.db.read() as session:
            query = search_module.build_query(session, handler, Criteria(q="路灯"))
            compiled = query.compile(session.connection())
            plan = " | ".join(str(row[3]) for row in session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[k] for k in compiled.positiontup)))
        assert "MULTI-INDEX OR" not in plan, plan
        assert "ix_cases_department_registered_at (department=?)" in plan, plan
