"""On a phone (390×844) the grid worker starts a patrol, counts a household, files a report from it on
the 网格上报 page, comes back to the log and finishes the patrol with the counts; the 督查组 then
sees the day on its overview."""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from tests.browser.conftest import screenshot

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE = (390, 844)


def test_grid_worker_patrols_on_a_phone(core, clock, new_page, live_server):
    from app.patrol.models import Patrol, PatrolReport
    page = new_page("grid", viewport=PHONE)
    page.goto(f"{live_server}/patrol")
    page.click("#start-patrol")
    page.wait_for_selector("#open-patrol")
    page.click("#visit-plus")
    page.wait_for_selector("#open-patrol")
    assert page.inner_text("#households-now").strip() == "1"

    page.click("#file-report")
    page.wait_for_url("**/intake/patrol")
    page.check("input[name=type][value=report]")
    page.fill("#text", "和平路12号楼下窨井盖破损，存在行人跌落隐患。")
    page.fill("#address", "和平路12号")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/patrol")
    page.wait_for_selector("#open-reports li")
    with core.db.read() as session:
        (patrol,) = session.scalars(select(Patrol)).all()
        assert session.scalar(select(PatrolReport.patrol_id)) == patrol.id

    page.fill("#households", "8")
    page.fill("#residents_updated", "3")
    page.fill("#note", "重点查看消防通道")
    # The page fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    shot = screenshot(page, "patrol_phone")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, DOCS_IMG / "patrol_phone.png")
    page.click("#finish-patrol")
    page.wait_for_selector("#start-patrol")
    page.wait_for_selector("#patrol-list li")
    with core.db.read() as session:
        (patrol,) = session.scalars(select(Patrol)).all()
        assert (patrol.households, patrol.residents_updated) == (8, 3) and patrol.finished_at is not None

    inspector = new_page("inspector")
    inspector.goto(f"{live_server}/patrol/overview")
    inspector.wait_for_selector("#patrol-overview tr[data-grid=G01] a")
    screenshot(inspector, "patrol_overview")
