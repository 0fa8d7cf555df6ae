"""A volunteer on a phone (390×844): signs up, checks in by opening the organiser's QR link, is
confirmed, sees the points and redeems an item that the office approves and hands over."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.browser.conftest import screenshot
from tests.conftest import at
from tests.volunteer_helpers import activity, reward, volunteer

PHONE = (390, 844)
DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"


def _qr_link(page, base: str, activity_id: int, action: str) -> str:
    page.goto(f"{base}/volunteers/activities/{activity_id}")
    page.click(f"#qr-{action}")
    assert page.locator("#qr-image").is_visible()
    return page.get_attribute("#qr-link", "href")


def test_volunteer_signs_up_checks_in_is_confirmed_and_redeems(new_page, live_server, core, frozen_clock):
    frozen_clock.move_to(at(2026, 11, 2, 9, 30))
    volunteer(core, "13800000001", name="张志愿")
    act = activity(core, at(2026, 11, 2, 10, 0), at(2026, 11, 2, 12, 0), type="general")
    reward(core, 1, 3, "理发服务券", 20)

    phone = new_page(viewport=PHONE)
    phone.goto(f"{live_server}/v/login")
    phone.fill("input[name=phone]", "13800000001")
    phone.fill("input[name=password]", "bihuan123")
    phone.click("button[type=submit]")
    card = phone.locator(f"[data-activity='{act}']")
    card.locator("button", has_text="报名").click()
    assert "已报名" in phone.locator(f"[data-activity='{act}']").inner_text()
    screenshot(phone, "volunteer_phone_activities")

    organiser = new_page("organiser")
    frozen_clock.move_to(at(2026, 11, 2, 10, 0))
    link = _qr_link(organiser, live_server, act, "in")
    screenshot(organiser, "volunteer_qr")
    assert "/v/a/" in link and "t=" in link
    phone.goto(link)
    phone.click("button.big-button")
    assert "签到成功" in phone.locator(".flash").inner_text()

    frozen_clock.move_to(at(2026, 11, 2, 11, 30))
    phone.goto(_qr_link(organiser, live_server, act, "out"))
    phone.click("button.big-button")
    assert "签退成功" in phone.locator(".flash").inner_text()

    organiser.goto(f"{live_server}/volunteers/activities/{act}")
    organiser.click("#roster button:has-text('确认出勤')")
    assert "1.5 小时" in organiser.locator("#roster").inner_text()

    phone.goto(f"{live_server}/v/points")
    assert phone.locator("#balance").inner_text() == "1.5"  # 1.5 h of general service × 1 point
    screenshot(phone, "volunteer_phone_points")

    phone.goto(f"{live_server}/v/rewards")
    phone.locator("[data-reward] button", has_text="申请兑换").first.click()
    assert "待审批" in phone.locator("#my-redemptions").inner_text()
    assert phone.locator("#balance").inner_text() == "0.5"

    office = new_page("volunteer_admin")
    office.goto(f"{live_server}/volunteers/redemptions")
    office.locator("#redemptions [data-redemption] button", has_text="提交").click()
    office.locator("#redemptions [data-redemption] button", has_text="核销").click()

    office.goto(f"{live_server}/volunteers/?from=2026-11-01&to=2026-11-30")
    assert office.locator("[data-figure='redeemed'] strong").inner_text() == "1"
    screenshot(office, "volunteer_totals")

    phone.goto(f"{live_server}/v/rewards")
    assert "已核销" in phone.locator("#my-redemptions").inner_text()
    shot = screenshot(phone, "volunteer_phone_redeemed")
    DOCS_IMG.mkdir(exist_ok=True)
    shutil.copyfile(shot, DOCS_IMG / "volunteer_phone.png")
