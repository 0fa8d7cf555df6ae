"""Backup and restore round trips, the consistency check, archiving closed cases (issue 11)."""
from __future__ import annotations

import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import make_url

from app.cases.models import Case, ReadyTask, WorkflowInstance
from app.errors import BihuanError, Invalid
from app.operations import backup as ops_backup
from app.operations.archive import archive_closed, parse_cutoff
from app.operations.check import check
from app.operations.models import ArchivedState
from app.supervision.models import SupervisionItem
from tests.conftest import at
from tests.test_cli import BIHUAN, cli_env, run
from tests.test_notifications import close_case

PHONE = "13712345678"


def url_of(core) -> str:
    return core.db.engine.url.render_as_string(hide_password=False)


def numbers(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text("SELECT number FROM cases")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def fresh_database(core):
    """An empty database of the same kind: a new SQLite file, or a new PostgreSQL database (dropped after)."""
    url = make_url(url_of(core))
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{core.db.engine.url.database}.restore-{uuid.uuid4().hex[:8]}"
        return
    name = f"bihuan_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def backup_text(url: str, file) -> bytes:
    """What the backup holds, readable: the SQLite file itself, or pg_restore's SQL of the dump
    (the custom format is compressed, so a plaintext search of the file would prove nothing)."""
    if url.startswith("sqlite"):
        return file.read_bytes()
    return subprocess.run(["pg_restore", "-f", "-", str(file)], capture_output=True, check=True).stdout


def test_backup_and_restore_round_trip(core, driver, fresh_database, tmp_path):
    url = url_of(core)
    first = driver.register(reporter_phone=PHONE, reporter_name="王五")
    driver.dispatch(first)
    second = driver.register(text="楼道堆放杂物")
    file = tmp_path / "bihuan.backup"
    result = run("backup", str(file), url=url)
    assert result["bytes"] == file.stat().st_size > 0
    dumped = backup_text(url, file)
    assert first.encode() in dumped  # the cases are in it ...
    assert PHONE.encode() not in dumped and "王五".encode() not in dumped  # ... their reporters encrypted
    # a second backup never overwrites the first
    assert "exists" in run("backup", str(file), url=url, expect_ok=False)

    # into an empty database: no --force needed, and everything is there
    run("restore", str(file), url=fresh_database)
    assert numbers(fresh_database) == sorted([first, second])
    assert run("check", url=fresh_database) == []

    # a database with data is refused, and left as it was
    driver.register(text="第三件")
    message = run("restore", str(file), url=url, expect_ok=False)
    assert "not empty" in message and "--force" in message
    assert len(numbers(url)) == 3
    # with --force it is replaced by the backup's content
    run("restore", str(file), "--force", url=url)
    assert numbers(url) == sorted([first, second])
    restored = driver.show(first)
    assert restored["status"] == "dispatched"
    assert core.cases.show(first, viewer="dispatcher", reveal_reporter=True)["reporter_phone"] == PHONE


def test_restore_refuses_a_file_that_is_not_a_backup(core, tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    message = run("restore", str(bogus), "--force", url=url_of(core), expect_ok=False)
    assert "is not a" in message
    assert "no backup file" in run("restore", str(tmp_path / "missing"), url=url_of(core), expect_ok=False)


def test_pg_dump_older_than_the_server_is_named(core, tmp_path):
    if core.db.engine.dialect.name != "postgresql":
        pytest.skip("pg_dump is for PostgreSQL")
    with core.db.engine.connect() as conn:
        server = int(conn.execute(text("SHOW server_version")).scalar().split(".")[0])
    # the installed client meets the server here ...
    assert ops_backup._check_versions(url_of(core), "pg_dump").startswith(str(server))
    # ... an older client (a stand-in that answers --version like pg_dump 9.6) is refused, both named
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    with pytest.raises(BihuanError, match=f"version 9 but the server is PostgreSQL {server}"):
        ops_backup._check_versions(url_of(core), str(old))


# -- bihuan check --------------------------------------------------------------------------------
def _escalated_case(driver, clock):
    number = driver.register()
    driver.dispatch(number)
    clock.move_to(at(2026, 11, 5, 10, 0))  # sign-for deadline passed: tier 1
    driver.fire()
    assert driver.show(number)["supervision_tier"] >= 1
    return number


def test_check_is_clean_on_a_consistent_database(core, driver, clock):
    _escalated_case(driver, clock)
    done = driver.register(type="咨询")
    driver.dispatch(done)
    driver.sign(done)
    close_case(driver, done)
    driver.register()
    assert list(check(core)) == []
    assert run("check", url=url_of(core)) == []


def test_check_finds_corrupted_rows(core, driver, clock):
    escalated = _escalated_case(driver, clock)
    other = driver.register()
    orphaned = driver.register()
    with core.db.unit_of_work() as session:
        ids = dict(session.execute(select(Case.number, Case.id)).all())
        # a ready task whose engine task is gone
        session.add(ReadyTask(id=str(uuid.uuid4()), case_id=ids[other], bpmn_id="sign_for", name="签收",
                              role="handler", created_at=at(2026, 11, 5, 10, 0)))
        # a case status disagreeing with the engine
        session.execute(update(Case).where(Case.id == ids[other]).values(status="closed"))
        # an open supervision item whose escalation the engine does not run
        item = session.scalars(select(SupervisionItem).where(SupervisionItem.case_id == ids[escalated])).first()
        session.add(SupervisionItem(case_id=ids[orphaned], run_key=str(uuid.uuid4()), tier=1, reason="delay",
                                    status="open", opened_at=item.opened_at, records=[]))
        # a ready task the engine has, missing from the table
        session.execute(delete(ReadyTask).where(ReadyTask.case_id == ids[escalated], ReadyTask.bpmn_id == "sign_for"))
    findings = list(check(core, batch=10))
    kinds = {(f["case"], f["check"], f.get("column")) for f in findings}
    assert kinds == {(other, "ready_task_orphan", None), (other, "column_differs", "status"),
                     (orphaned, "supervision_item_orphan", None), (escalated, "ready_task_missing", None)}
    proc = subprocess.run([BIHUAN, "check"], capture_output=True, text=True, env=cli_env(url_of(core)), timeout=120)
    assert proc.returncode == 2 and "4 finding(s)" in proc.stderr
    assert {f["check"] for f in __import__("json").loads(proc.stdout)} == {k for _, k, _ in kinds}


def test_check_finds_an_escalation_gone_from_the_engine(core, driver, clock):
    """The engine's escalation ends (核实销号) but the item stays open: the item is reported."""
    escalated = _escalated_case(driver, clock)
    with core.db.unit_of_work() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == escalated))
        key = session.scalar(select(SupervisionItem.run_key).where(SupervisionItem.case_id == case_id))
        # the item now names an escalation the engine never ran
        session.execute(update(SupervisionItem).where(SupervisionItem.case_id == case_id)
                        .values(run_key=str(uuid.uuid4())))
    found = {(f["check"]) for f in check(core)}
    assert found == {"supervision_item_orphan", "supervision_item_missing"}, key


# -- bihuan archive ------------------------------------------------------------------------------
def test_archive_moves_closed_states_and_the_case_page_still_shows_them(core, driver, clock, login):
    closed = driver.register(type="咨询", reporter_phone=PHONE)
    driver.dispatch(closed)
    driver.sign(closed)
    close_case(driver, closed)
    still_open = driver.register()
    clock.move_to(at(2026, 11, 20, 10, 0))
    kpi_before = run("kpi", "--from", "2026-11-01", "--to", "2026-11-30", url=url_of(core))

    result = archive_closed(core, parse_cutoff("2026-11-10"))
    assert result["archived"] == 1
    with core.db.read() as session:
        rows = dict(session.execute(select(Case.number, WorkflowInstance.state)
                                    .join(WorkflowInstance, WorkflowInstance.case_id == Case.id)).all())
        archived = session.scalars(select(ArchivedState)).all()
    assert rows[closed] == b"" and rows[still_open] != b""
    assert len(archived) == 1 and archived[0].state
    # twice is nothing more
    assert archive_closed(core, parse_cutoff("2026-11-10"))["archived"] == 0

    client = login("dispatcher")
    page = client.get(f"/cases/{closed}")
    assert page.status_code == 200 and closed in page.get_data(as_text=True)
    diagram = client.get(f"/cases/{closed}/diagram")
    assert diagram.status_code == 200
    assert "follow_up" in diagram.get_json()["completed"]
    assert driver.show(closed)["status"] == "closed"
    assert run("kpi", "--from", "2026-11-01", "--to", "2026-11-30", url=url_of(core)) == kpi_before
    assert list(check(core)) == []


def test_archive_refuses_bad_dates(core):
    with pytest.raises(Invalid, match="YYYY-MM-DD"):
        parse_cutoff("2026-02-30")
    assert "future" in run("archive", "--closed-before", "2030-01-01", url=url_of(core), expect_ok=False)
