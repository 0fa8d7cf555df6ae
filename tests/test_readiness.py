"""/readyz: database reachable, schema at the migrations' head, a recent scheduler heartbeat; and the
admin page's table of schedulers."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from app.migrate import head_revision
from app.scheduler import sweep
from app.scheduling.claims import scheduler_id
from workflows.clock import utcnow


def test_ready_only_with_a_recent_scheduler_heartbeat(login, core, clock):
    anonymous = login(None)
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["scheduler"] == {"ok": False, "error": "no scheduler has swept yet"}

    sweep(core)  # a sweep that fired nothing still beats
    response = anonymous.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ready"

    clock.move_to(utcnow() + timedelta(seconds=61))  # default limit: max(60 s, 3 sweep intervals)
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    assert "heartbeat is 61 s old (limit 60 s)" in response.get_json()["checks"]["scheduler"]["error"]


def test_not_ready_when_migrations_are_behind(login, core):
    sweep(core)
    head = head_revision(core.db.url)
    with core.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0024'"))
    try:
        response = login(None).get("/readyz")
    finally:
        with core.db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert response.status_code == 503
    check = response.get_json()["checks"]["migrations"]
    assert check["ok"] is False and f"at revision 0024, expected {head}" in check["error"]
    assert login(None).get("/readyz").status_code == 200


def test_admin_sees_each_schedulers_heartbeat(login, core, driver, clock):
    numbers = [driver.register() for _ in range(2)]
    for number in numbers:
        driver.dispatch(number)
    from tests.conftest import at
    clock.move_to(at(2026, 11, 4, 9, 0))
    assert sweep(core) == 2
    page = login("admin").get("/admin/schedulers")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = html[html.index(f'data-scheduler="{scheduler_id()}"'):]
    row = row[:row.index("</tr>")]
    assert ">2<" in row and "运行中" in row
    assert login("dispatcher").get("/admin/schedulers").status_code == 403
