"""台账 filtered by 协办单位 (a unit's parts in 联动处置) and by 责任人 (the person a case is down to now:
its lead handler task's assignee, else who replied), through the real engine: keyset pages and the
department scope hold, the person is recorded by the reply itself, and bad input is a clear 400."""
from __future__ import annotations

import importlib.util

import pytest
from sqlalchemy import select, text, update

from app.cases.models import Case
from app.reports import ledger
from app.tasks.claims import claim
from tests.conftest import at
from tests.test_joint_disposal import joint_dispatch


@pytest.fixture
def made(driver, clock):
    """food: a 食品安全 report in G01, sent straight to grid_pro (直接责任人), still open.
    claimed: a chengguan case handler claimed, signed and replied (replied_by handler), then sent back
    for 重办 by the center's verification: the new 办理 is in the pool, so it is still handler's.
    pool: a chengguan case nobody claimed. joint: chengguan leads, community_building and police co-handle."""
    out = {}
    clock.move_to(at(2026, 11, 2, 9))
    out["food"] = driver.register(channel="grid", type="举报", text="农贸市场摊位售卖过期熟食", grid="G01",
                                  category="食品安全", user="grid")
    driver.dispatch(out["food"], category="食品安全")
    clock.move_to(at(2026, 11, 2, 10))
    out["claimed"] = driver.register(text="人行道井盖缺失")
    driver.dispatch(out["claimed"])
    claim(driver.core, driver.task(out["claimed"], "sign_for")["id"], user="handler")
    driver.sign(out["claimed"])
    driver.reply(out["claimed"])
    clock.move_to(at(2026, 11, 2, 11))
    out["pool"] = driver.register(text="路灯不亮")
    driver.dispatch(out["pool"])
    clock.move_to(at(2026, 11, 2, 12))
    out["joint"] = driver.register(text="河道垃圾堆积需联合清理")
    joint_dispatch(driver, out["joint"], co=["community_building", "police"])
    return out


def _numbers(core, args, user=None, limit=50):
    """Every row of the filter, walking keyset pages of ``limit``."""
    with core.db.read() as session:
        f = ledger.parse_filter(session, args)
        scope = None
        if user:
            from app.auth.services import find_user
            from app.cases.visibility import case_scope
            scope = case_scope(find_user(session, user))
        seen, after = [], None
        while True:
            result = ledger.page(session, f, scope=scope, after=after, limit=limit)
            seen += [r["number"] for r in result["rows"]]
            after = result["next"]
            if not after:
                return seen


def test_the_reply_records_who_replied(core, made):
    with core.db.read() as session:
        replied_by = dict(session.execute(select(Case.number, Case.replied_by)).all())
    assert replied_by == {made["claimed"]: "handler", made["food"]: None, made["pool"]: None, made["joint"]: None}


def test_filter_by_co_handling_unit(core, made, login):
    assert _numbers(core, {"co_handler": "police"}) == [made["joint"]]
    assert _numbers(core, {"co_handler": "community_building"}) == [made["joint"]]
    assert _numbers(core, {"co_handler": "emergency"}) == []
    # The lead is not its own co-handler.
    assert _numbers(core, {"co_handler": "chengguan"}) == []
    page = login("viewer").get("/ledgers?co_handler=police").get_data(as_text=True)
    assert made["joint"] in page and made["pool"] not in page
    assert 'option value="police" selected' in page
    # Scope holds: community_building's handler sees the joint case (its part) and nothing of chengguan.
    assert _numbers(core, {"co_handler": "community_building"}, user="handler2") == [made["joint"]]
    assert _numbers(core, {"co_handler": "police"}, user="handler2") == [made["joint"]]
    assert _numbers(core, {}, user="handler2") == [made["joint"]]


def test_filter_by_person(core, driver, made, login, clock):
    # grid_pro holds the food report (sent straight to them); handler replied to the claimed case.
    assert _numbers(core, {"person": "grid_pro"}) == [made["food"]]
    assert _numbers(core, {"person": "handler"}) == [made["claimed"]]
    assert _numbers(core, {"person": "handler2"}) == []
    # Claiming the pool case makes it handler's too: newest first, walked one row a page.
    claim(core, driver.task(made["pool"], "sign_for")["id"], user="handler")
    assert _numbers(core, {"person": "handler"}, limit=1) == [made["pool"], made["claimed"]]
    # With combined filters and another sort the keyset still walks every row once.
    assert _numbers(core, {"person": "handler", "sort": "number", "order": "asc"}, limit=1) == sorted(
        [made["pool"], made["claimed"]])
    # The claimed case is sent back for 重办 (verification fails); its new 办理 waits in the pool, so
    # it stays down to who replied. When someone else claims the 办理, it is theirs.
    driver.do(made["claimed"], "verify", "dispatcher", verify_result="failed", verify_note="现场仍未处置")
    assert "handle" in driver.ready(made["claimed"])
    assert _numbers(core, {"person": "handler"}) == [made["pool"], made["claimed"]]
    from app.auth.services import create_user
    with core.db.unit_of_work() as session:
        create_user(session, "handler_b", "pw-12345678", ["handler"], "城管中队小王", "chengguan")
    claim(core, driver.task(made["claimed"], "handle")["id"], user="handler_b")
    assert _numbers(core, {"person": "handler"}) == [made["pool"]]
    assert _numbers(core, {"person": "handler_b"}) == [made["claimed"]]
    # Department scope holds: handler2 (community_building) is shown none of chengguan's cases.
    assert _numbers(core, {"person": "handler_b"}, user="handler2") == []
    page = login("viewer").get("/ledgers?person=grid_pro").get_data(as_text=True)
    assert made["food"] in page and made["claimed"] not in page and 'value="grid_pro"' in page


def test_person_filter_walks_the_person_s_rows_not_every_case(core, made):
    """The plan starts from the person's ready tasks and replies (indexed), not from every case."""
    with core.db.read() as session:
        f = ledger.parse_filter(session, {"person": "handler"})
        compiled = ledger.query(f).limit(51).compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        dialect = session.get_bind().dialect.name
        plan = "\n".join(str(r) for r in session.execute(text(
            ("EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN ") + str(compiled))).all())
    if dialect == "sqlite":
        assert "ix_cases_replied_by_registered_at" in plan and "ix_ready_tasks_assignee" in plan, plan
    else:
        assert "ix_cases_replied_by_registered_at" in plan or "Seq Scan on cases" in plan, plan  # a tiny table


@pytest.mark.parametrize("query, message", [
    ("person=nobody", "unknown person"),
    ("co_handler=nowhere", "unknown co-handling unit"),
    ("person=%00", "unknown person"),
    ("co_handler=" + "x" * 300, "unknown co-handling unit"),
    ("person=grid%00pro&co_handler=police", "unknown person"),
])
def test_bad_person_or_unit_is_a_clear_400(login, query, message):
    for url in (f"/ledgers?{query}", f"/ledgers/export.csv?{query}"):
        response = login("viewer").get(url)
        assert response.status_code == 400, (url, response.status_code)
        assert message in response.get_data(as_text=True)


def test_export_and_cli_take_the_same_filters(core, made, tmp_path, database_url):
    from tests.test_cli import run
    out = tmp_path / "mine.csv"
    assert run("ledger", "export", "--person", "handler", "--format", "csv", "--out", str(out),
               url=database_url)["rows"] == 1
    body = out.read_text(encoding="utf-8-sig")
    assert made["claimed"] in body and made["pool"] not in body
    with core.db.read() as session:  # the .xlsx title row names the filter
        assert ledger.parse_filter(session, {"person": "handler", "co_handler": "police"}).describe() == \
            "协办单位：派出所；责任人：城管中队小张"
    line = run("ledger", "export", "--co-handler", "nowhere", "--format", "csv", "--out", str(out),
               url=database_url, expect_ok=False)
    assert "unknown co-handling unit" in line


def test_migration_fills_replied_by_from_the_audit_log(core, made):
    """0036 on an existing database: the reply's author comes back from the audit log."""
    spec = importlib.util.spec_from_file_location("m0036", "migrations/versions/0036_replied_by_unit_active.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with core.db.unit_of_work() as session:
        session.execute(update(Case).values(replied_by=None))
    with core.db.unit_of_work() as session:
        session.execute(text(migration.BACKFILL))
    with core.db.read() as session:
        assert session.scalar(select(Case.replied_by).where(Case.number == made["claimed"])) == "handler"
        assert session.scalar(select(Case.replied_by).where(Case.number == made["pool"])) is None
