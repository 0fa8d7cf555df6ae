"""The volunteer pages: /v/ for volunteers (their own session kind), /volunteers for organisers and the
office. Volunteers see nothing of staff pages; staff sessions do not open /v/; phones are masked."""
from __future__ import annotations

import re
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from app.cases.models import AuditEntry
from app.volunteers import ledger
from app.volunteers.models import Signup
from tests.conftest import at
from tests.volunteer_helpers import PASSWORD, activity, check, reward, volunteer


def phone_client(app, phone: str):
    client = app.test_client()
    response = client.post("/v/login", data={"phone": phone, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def test_volunteer_login_is_its_own_session_and_staff_pages_refuse_it(app, core):
    volunteer(core, "13800003001")
    client = app.test_client()
    wrong = client.post("/v/login", data={"phone": "13800003001", "password": "nope"})
    assert wrong.status_code == 401 and "手机号或密码不正确" in wrong.get_data(as_text=True)
    client = phone_client(app, "13800003001")
    assert client.get("/v/").status_code == 200
    for staff_page in ("/tasks", "/cases/search", "/volunteers/", "/volunteers/activities", "/dashboard"):
        response = client.get(staff_page)
        assert response.status_code == 302 and "/login" in response.headers["Location"], staff_page
        assert "/v/login" not in response.headers["Location"]


def test_staff_session_does_not_open_volunteer_pages(login):
    client = login("volunteer_admin")
    response = client.get("/v/points")
    assert response.status_code == 302 and "/v/login" in response.headers["Location"]


def test_register_sign_up_and_errors_keep_the_form(app, core):
    act = activity(core, at(2026, 11, 3, 10), at(2026, 11, 3, 12))
    client = app.test_client()
    bad = client.post("/v/register", data={"name": "王五", "phone": "123", "password": "x", "community": "和平社区"})
    assert bad.status_code == 400 and "11 位手机号" in bad.get_data(as_text=True)
    assert 'value="王五"' in bad.get_data(as_text=True)
    ok = client.post("/v/register", data={"name": "王五", "phone": "13800003002", "password": "Zhiyuan#2026",
                                          "community": "和平社区"})
    assert ok.status_code == 302
    again = client.post("/v/register", data={"name": "王五", "phone": "13800003002", "password": "Zhiyuan#2026",
                                             "community": "和平社区"})
    assert again.status_code == 409
    home = client.get("/v/").get_data(as_text=True)
    assert "社区服务志愿活动" in home
    client.post(f"/v/activities/{act}/signup")
    assert "已报名" in client.get("/v/").get_data(as_text=True)
    client.post(f"/v/activities/{act}/signup")
    with client.session_transaction() as session:
        flashes = session.get("_flashes", [])
    assert any("已经报名" in message for _c, message in flashes)


def test_qr_page_link_checks_in_once_and_organiser_confirms(app, core, login, clock):
    vid = volunteer(core, "13800003003")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 11))
    organiser = login("organiser")
    page = organiser.get(f"/volunteers/activities/{act}/qr/in").get_data(as_text=True)
    assert "data:image/png;base64," in page
    link = re.search(r'href="(http://localhost/v/a/\d+/check/in\?t=[^"]+)"', page).group(1).replace("&amp;", "&")
    phone = phone_client(app, "13800003003")
    path = link.replace("http://localhost", "")
    assert "确认签到" in phone.get(path).get_data(as_text=True)
    token = path.split("t=")[1]
    done = phone.post(path.split("?")[0], data={"t": token})
    assert done.status_code == 200 and "签到成功" in done.get_data(as_text=True)
    twice = phone.post(path.split("?")[0], data={"t": token})
    assert twice.status_code == 409 and "不能重复签到" in twice.get_data(as_text=True)
    forged = phone.post(path.split("?")[0], data={"t": token[:-2] + "xx"})
    assert forged.status_code == 400 and "二维码无效" in forged.get_data(as_text=True)
    roster = organiser.get(f"/volunteers/activities/{act}").get_data(as_text=True)
    assert "138****3003" in roster and "13800003003" not in roster  # masked for organisers
    with core.db.read() as session:
        signup = session.scalars(select(Signup).where(Signup.volunteer_id == vid)).one()
    clock.move_to(at(2026, 11, 2, 11, 0))
    organiser.post(f"/volunteers/signups/{signup.id}/confirm", data={"back": f"/volunteers/activities/{act}"})
    with core.db.read() as session:
        assert ledger.balance(session, vid) == 1.0
    assert ">1<" in phone.get("/v/points").get_data(as_text=True)


def test_other_community_organiser_is_refused(app, core, login):
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 11), community="光明社区", staff=_office())
    response = login("organiser").get(f"/volunteers/activities/{act}")
    assert response.status_code == 403


def _office():
    from tests.volunteer_helpers import OFFICE
    return OFFICE


def test_office_reveals_a_phone_only_with_an_audit_row(core, login):
    vid = volunteer(core, "13800003004")
    office = login("volunteer_admin")
    masked = office.get(f"/volunteers/people/{vid}").get_data(as_text=True)
    assert "138****3004" in masked and "13800003004" not in masked
    shown = office.get(f"/volunteers/people/{vid}?reveal=1").get_data(as_text=True)
    assert "13800003004" in shown
    with core.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "volunteer_reveal")).all()
    assert [(r.actor, r.changes["volunteer"]) for r in rows] == [("volunteer_admin", vid)]
    organiser = login("organiser")
    assert "13800003004" not in organiser.get(f"/volunteers/people/{vid}?reveal=1").get_data(as_text=True)


def test_redeem_from_the_phone_and_approve_at_the_office(app, core, login):
    vid = volunteer(core, "13800003005")
    with core.db.unit_of_work() as session:
        ledger.post(session, vid, 30, "service", earned_year=2026)
    rid = reward(core, 20, 1, "洗衣液", 25)
    phone = phone_client(app, "13800003005")
    phone.post(f"/v/rewards/{rid}/redeem", data={"quantity": "1"})
    assert "待审批" in phone.get("/v/rewards").get_data(as_text=True)
    phone.post(f"/v/rewards/{rid}/redeem", data={"quantity": "1"})  # over the balance, and the quarter's one
    office = login("volunteer_admin")
    page = office.get("/volunteers/redemptions").get_data(as_text=True)
    rid_ = re.search(r'data-redemption="(\d+)"', page).group(1)
    office.post(f"/volunteers/redemptions/{rid_}", data={"decision": "approve"})
    office.post(f"/volunteers/redemptions/{rid_}", data={"step": "handover", "handover_note": "已领取"})
    assert "已核销" in phone.get("/v/rewards").get_data(as_text=True)
    with core.db.read() as session:
        assert ledger.balance(session, vid) == 10


def test_totals_page_and_xlsx_export(core, login, clock):
    vid = volunteer(core, "13800003006")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 11), type="emergency")
    signup = check(core, vid, act)
    clock.move_to(at(2026, 11, 2, 11))
    from tests.volunteer_helpers import confirm
    confirm(core, signup)
    office = login("volunteer_admin")
    page = office.get("/volunteers/?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert re.search(r'data-figure="issued"><strong>1.5<', page)
    assert re.search(r'data-figure="hours"><strong>1<', page)
    bad = office.get("/volunteers/?from=2026-13-01")
    assert bad.status_code == 400
    export = office.get("/volunteers/export.xlsx?from=2026-11-01&to=2026-11-30")
    book = load_workbook(BytesIO(export.data))
    assert book.sheetnames == ["总计", "按社区", "按服务队", "光荣榜"]
    rows = list(book["按社区"].iter_rows(values_only=True))
    hepping = [r for r in rows if r[0] == "和平社区"][0]
    assert hepping[1:6] == (1, 1, 0, 1, 1)  # registered, active, teams, activities, hours
    assert list(book["光荣榜"].iter_rows(values_only=True))[1][1] == "李**"


def test_garbage_input_gets_a_clear_answer_never_a_500(app, core, login):
    vid = volunteer(core, "13800003007")
    act = activity(core, at(2026, 11, 2, 10), at(2026, 11, 2, 11))
    office, phone = login("volunteer_admin"), phone_client(app, "13800003007")
    staff_posts = [
        ("/volunteers/activities", {"title": "x" * 500, "type": "nope", "place": "", "community": "火星",
                                    "starts_at": "yesterday", "ends_at": "2026-13-45T99:99", "capacity": "-1"}),
        ("/volunteers/activities", {"title": "巡逻", "type": "patrol", "place": "路口", "community": "和平社区",
                                    "starts_at": "2026-11-02T12:00", "ends_at": "2026-11-02T10:00", "capacity": "5"}),
        ("/volunteers/signups/999999/confirm", {}), ("/volunteers/signups/999999/rate", {"rating": "bogus"}),
        ("/volunteers/redemptions/999999", {"decision": "approve"}),
        ("/volunteers/rewards", {"name": "", "kind": "gold", "points_price": "NaN", "stock": "x"}),
        ("/volunteers/rewards", {"id": "999999", "name": "米", "kind": "goods", "points_price": "5", "stock": "1"}),
        ("/volunteers/teams", {"name": "", "community": "火星"}),
        ("/volunteers/ledger/999999/reverse", {"note": ""}),
        (f"/volunteers/activities/{act}/qr/renew", {}),
    ]
    for url, data in staff_posts:
        assert office.post(url, data=data).status_code in (302, 400, 403, 404, 409), url
    for url in ("/volunteers/?from=x&to=y", f"/volunteers/activities/{act}/qr/sideways", "/volunteers/people/999999",
                "/volunteers/activities/999999", "/volunteers/export.xlsx?from=2026-12-01&to=2026-01-01"):
        assert office.get(url).status_code in (400, 404), url
    for url, data in ((f"/v/a/{act}/check/in", {"t": "." * 5000}), ("/v/a/999999/check/in", {"t": "x"}),
                      (f"/v/a/{act}/check/up", {"t": "x"}), ("/v/rewards/999999/redeem", {"quantity": "abc"}),
                      ("/v/activities/999999/signup", {}), ("/v/teams", {"team_id": "999999"})):
        assert phone.post(url, data=data).status_code in (302, 400, 404, 409), url
    with core.db.read() as session:
        assert ledger.balance(session, vid) == 0
        assert session.scalars(select(Signup)).all() == []


def test_demo_data_small_and_the_demo_volunteer_logs_in(app, core):
    from app.volunteers.demo import seed_volunteers
    from app.volunteers.models import Redemption
    result = seed_volunteers(core, volunteers=40, teams=10, activities=20)
    assert result["created"] and result["signups"] == result["ledger_entries"] > 0
    assert seed_volunteers(core, volunteers=40, teams=10, activities=20) == {"created": False}
    client = phone_client(app, "13800000001")
    page = client.get("/v/").get_data(as_text=True)
    assert "张志愿" in page, page[page.find("balance"):page.find("balance") + 300]
    with core.db.read() as session:
        # Every demo balance is the sum of its entries and none is negative; redemptions are real runs' state.
        from sqlalchemy import func
        from app.volunteers.models import LedgerEntry
        lowest = session.execute(select(func.sum(LedgerEntry.points)).group_by(LedgerEntry.volunteer_id)).scalars().all()
        assert min(lowest) >= 0
        assert all(r.status == "handed_over" and r.state for r in session.scalars(select(Redemption)))
