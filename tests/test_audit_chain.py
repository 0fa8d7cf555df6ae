"""The audit log is tamper-evident: a hash chain per case that `bihuan audit verify` recomputes, and
triggers that refuse UPDATE and DELETE (issue 14)."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit import chain, guard
from app.cases.models import AuditEntry
import json
import subprocess

from tests.test_cli import BIHUAN, cli_env, run


def url_of(core) -> str:
    return core.db.engine.url.render_as_string(hide_password=False)


def loop(driver) -> str:
    number = driver.register(category="城市管理")
    driver.dispatch(number)
    driver.sign(number)
    driver.reply(number)
    return number


def test_rows_written_anywhere_are_chained_per_case(core, driver):
    first, second = loop(driver), loop(driver)
    with core.db.read() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        result = chain.verify(session)
    keys = [chain.partition(r.case_id, r.actor) for r in rows]
    assert result == {"ok": True, "checked": len(rows), "partitions": len(set(keys))}
    by_case: dict = {}
    for row, key in zip(rows, keys):
        assert row.prev_hash == by_case.get(key, chain.GENESIS)
        assert row.row_hash == chain.row_hash(row.prev_hash, row)
        by_case[key] = row.row_hash
    assert len(by_case) >= 2 and first != second


def test_the_database_refuses_update_and_delete(core, driver):
    loop(driver)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError) as refused:
            with core.db.unit_of_work() as session:
                session.execute(text(statement))
        assert "append-only" in str(refused.value)
    with core.db.read() as session:
        assert chain.verify(session)["ok"]


def _tamper(core, statement: str, **params) -> None:
    """What an attacker with the database's owner rights would do: switch the guard off, change, switch on."""
    dialect = core.db.engine.dialect.name
    with core.db.unit_of_work() as session:
        for sql in guard.statements(dialect, install=False):
            session.execute(text(sql))
        session.execute(text(statement), params)
        for sql in guard.statements(dialect, install=True):
            session.execute(text(sql))


def test_verify_finds_a_changed_row(core, driver):
    number = loop(driver)
    with core.db.read() as session:
        target = session.scalars(select(AuditEntry).where(AuditEntry.case_id.is_not(None))
                                 .order_by(AuditEntry.id).offset(1)).first()
    _tamper(core, "UPDATE audit_log SET actor = 'someone_else' WHERE id = :id", id=target.id)
    proc = subprocess.run([BIHUAN, "audit", "verify"], capture_output=True, text=True, env=cli_env(url_of(core)),
                          timeout=120)
    assert proc.returncode == 3, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is False and result["first_broken"]["id"] == target.id
    assert result["first_broken"]["kind"] == "content" and number


def test_verify_finds_a_removed_row(core, driver):
    loop(driver)
    with core.db.read() as session:
        ids = session.scalars(select(AuditEntry.id).where(AuditEntry.case_id.is_not(None))
                              .order_by(AuditEntry.id)).all()
    _tamper(core, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    with core.db.read() as session:
        result = chain.verify(session)
    assert not result["ok"] and result["first_broken"]["id"] == ids[2]
    assert result["first_broken"]["kind"] == "link"


def test_verify_on_a_clean_log_via_the_cli(core, driver):
    loop(driver)
    result = run("audit", "verify", url=url_of(core))
    assert result["ok"] is True and result["checked"] > 0


def test_concurrent_writers_on_one_case_keep_one_chain(core, driver):
    from tests.conftest import race
    number = loop(driver)

    def reveal(i):
        return core.cases.show(number, viewer="dispatcher", reveal_reporter=True)

    outcomes = race(reveal, n=4)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    with core.db.read() as session:
        assert chain.verify(session)["ok"]


def test_admins_see_who_saw_whose_personal_data(core, driver, login):
    number = driver.register(reporter_phone="13912345678")
    other = driver.register(reporter_phone="13900000000")
    core.cases.show(number, viewer="dispatcher", reveal_reporter=True)
    core.cases.show(other, viewer="operator", reveal_reporter=True)
    admin = login("admin")
    html = admin.get("/admin/access-log").get_data(as_text=True)
    assert number in html and other in html and "dispatcher" in html and "查看报告人" in html
    assert "13912345678" not in html
    only = admin.get("/admin/access-log?actor=dispatcher").get_data(as_text=True)
    assert number in only and other not in only
    assert admin.get("/admin/access-log?before=" + "9" * 40).status_code == 200
    assert login("dispatcher").get("/admin/access-log").status_code == 403


def test_the_chain_tail_is_one_step_down_an_index(core, driver):
    """Every action reads its case's last audit row. Without the (case_id, id) index PostgreSQL walked
    the primary key backwards at a million cases (1.3 s a case, 2.8 s for a new one): the plan must
    name the index, on both databases."""
    loop(driver)
    with core.db.read() as session:
        statement = chain.tail_statement(("case", 1)).compile(session.get_bind(),
                                                              compile_kwargs={"literal_binds": True})
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be read whole
            plan = " ".join(r[0] for r in session.execute(text(f"EXPLAIN {statement}")))
        else:
            plan = " ".join(str(r) for r in session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    assert "ix_audit_log_case_id_id" in plan, plan


def test_one_sweep_chains_many_cases_in_one_flush(core, driver, clock):
    """A timer sweep commits its chunk's audit rows in one flush: the partitions are locked and
    their tails read together (one statement each on PostgreSQL). Each case already has rows,
    so a wrong tail, or one case's tail given to another, breaks the chain."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    numbers = [driver.register(type="咨询") for _ in range(4)]
    for number in numbers:
        driver.dispatch(number)
    clock.move_to(datetime(2026, 11, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert driver.fire() == 4
    with core.db.read() as session:
        assert chain.verify(session)["ok"]
        timer_rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "timer")).all()
        assert len({row.case_id for row in timer_rows}) == 4
        for row in timer_rows:
            earlier = session.scalars(select(AuditEntry).where(AuditEntry.case_id == row.case_id,
                                                               AuditEntry.id < row.id)
                                      .order_by(AuditEntry.id.desc()).limit(1)).one()
            assert row.prev_hash == earlier.row_hash


def test_the_batched_tails_are_index_steps_too(core, driver):
    """A sweep's flush reads all its cases' tails in one statement (PostgreSQL only): each must
    still be one step down (case_id, id), not a walk of the log."""
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("the batched tail read is PostgreSQL's; SQLite reads each tail with tail_statement")
    loop(driver)
    with core.db.read() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be read whole
        statement = chain._TAILS_MANY.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = " ".join(r[0] for r in session.execute(text("EXPLAIN " + str(statement).replace(
            "CAST(%(keys)s AS integer[])", "ARRAY[1, 2, 3]"))))
    assert "ix_audit_log_case_id_id" in plan, plan
