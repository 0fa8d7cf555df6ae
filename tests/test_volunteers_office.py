"""The volunteer office's editing: which community an organiser serves, the federation and its teams, and a
volunteer's one-time password reset (expiry, reuse, racing, sessions ended). Audited, CSRF-protected."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from app import create_app
from app.auth.models import User
from app.cases.models import AuditEntry
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.volunteers import accounts, office, password_reset
from app.volunteers.demo import assign_demo_organisers
from app.volunteers.models import Organiser, ResetCode, Team, Volunteer
from tests.conftest import at, race
from tests.test_volunteers_web import phone_client
from tests.volunteer_helpers import OFFICE, ORGANISER, OTHER_ORGANISER, PASSWORD, activity, volunteer

NEW_PASSWORD = "Zhiyuan#2027"


@pytest.fixture
def demo_scopes(core):
    """These tests move the demo organiser to other communities: put them back for the next test."""
    yield
    with core.db.unit_of_work() as session:
        session.execute(delete(Organiser))
        assign_demo_organisers(session)


def audits(core, action: str) -> list[AuditEntry]:
    with core.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def user_id(core, username: str) -> int:
    with core.db.read() as session:
        return session.scalar(select(User.id).where(User.username == username))


# -- organisers' communities ----------------------------------------------------------------------------
def test_office_assigns_an_organisers_community_and_it_takes_effect(core, login, demo_scopes):
    here = activity(core, at(2026, 11, 3, 10), at(2026, 11, 3, 11))
    there = activity(core, at(2026, 11, 3, 10), at(2026, 11, 3, 11), community="光明社区", staff=OFFICE)
    organiser, office_client = login("organiser"), login("volunteer_admin")
    page = office_client.get("/volunteers/organisers").get_data(as_text=True)
    assert re.search(r'data-user="organiser">.*?data-field="community">和平社区<', page, flags=re.S)
    assert page.count('method="post"') == page.count('name="csrf_token"') > 0
    assert organiser.get("/volunteers/organisers").status_code == 403
    assert organiser.post(f"/volunteers/organisers/{user_id(core, 'organiser')}", data={"community": "光明社区"}
                          ).status_code == 403
    assert organiser.get(f"/volunteers/activities/{here}").status_code == 200
    assert organiser.get(f"/volunteers/activities/{there}").status_code == 403

    office_client.post(f"/volunteers/organisers/{user_id(core, 'organiser')}", data={"community": "光明社区"})
    assert organiser.get(f"/volunteers/activities/{there}").status_code == 200  # the next page already
    assert organiser.get(f"/volunteers/activities/{here}").status_code == 403
    assert [(a.actor, a.changes) for a in audits(core, "volunteer_organiser_scope")] == [
        ("volunteer_admin", {"user": "organiser", "community": ["和平社区", "光明社区"]})]

    office_client.post(f"/volunteers/organisers/{user_id(core, 'organiser')}", data={"community": ""})
    assert organiser.get(f"/volunteers/activities/{there}").status_code == 403  # no community: nothing
    assert "未分配社区" in office_client.get("/volunteers/organisers").get_data(as_text=True)
    assert len(audits(core, "volunteer_organiser_scope")) == 2


def test_bad_scope_assignments_are_refused_and_change_nothing(core, demo_scopes):
    with core.db.unit_of_work() as session:
        with pytest.raises(Invalid, match="请选择社区"):
            office.set_organiser_scope(session, OFFICE, user_id(core, "organiser"), "火星社区")
        with pytest.raises(Invalid, match="不是志愿服务组织者"):
            office.set_organiser_scope(session, OFFICE, user_id(core, "handler"), "和平社区")
        with pytest.raises(NotFound):
            office.set_organiser_scope(session, OFFICE, 10 ** 6, "和平社区")
        with pytest.raises(Forbidden):
            office.set_organiser_scope(session, ORGANISER, user_id(core, "organiser"), "光明社区")
        # the same community again: nothing to change, nothing audited
        assert office.set_organiser_scope(session, OFFICE, user_id(core, "organiser"), "和平社区") == "和平社区"
    assert audits(core, "volunteer_organiser_scope") == []
    with core.db.read() as session:
        assert session.get(Organiser, user_id(core, "organiser")).community == "和平社区"


def test_office_forms_need_the_csrf_token(core, login):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, core=core)  # CSRF on, as in production
    client = app.test_client()
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "volunteer_admin", "password": PASSWORD, "csrf_token": token})
    refused = client.post(f"/volunteers/organisers/{user_id(core, 'organiser')}", data={"community": "光明社区"})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert client.post("/volunteers/federation", data={"name": "心连心"}).status_code == 400
    assert audits(core, "volunteer_organiser_scope") == [] and audits(core, "volunteer_federation_save") == []


# -- federation and teams -------------------------------------------------------------------------------
def _team(core, name: str, community: str = "和平社区") -> int:
    with core.db.unit_of_work() as session:
        return accounts.create_team(session, OFFICE, name, community, None).id


def test_federation_and_team_editing(core):
    a, b = _team(core, "银龄助老队"), _team(core, "应急救援队")
    with core.db.unit_of_work() as session:
        with pytest.raises(Invalid, match="还没有志愿服务联合会"):
            office.set_team_federation(session, OFFICE, a, True)
    with core.db.unit_of_work() as session:
        fed = office.save_federation(session, OFFICE, "心连心志愿服务联合会").id
        office.save_federation(session, OFFICE, "心连心志愿服务联合会")  # unchanged: not audited again
        assert office.set_team_federation(session, OFFICE, a, True).federation_id == fed
        with pytest.raises(Conflict):
            office.rename_team(session, OFFICE, a, "应急救援队")
        with pytest.raises(Invalid):
            office.rename_team(session, OFFICE, a, "队")
        office.rename_team(session, OFFICE, a, "和平银龄助老队")
        with pytest.raises(Forbidden):
            office.rename_team(session, ORGANISER, a, "别的名字")
        with pytest.raises(NotFound):
            office.set_team_active(session, OFFICE, 10 ** 6, False)
    member, outsider = volunteer(core, "13800006001"), volunteer(core, "13800006002")
    with core.db.unit_of_work() as session:
        accounts.join_team(session, session.get(Volunteer, member), a)
        accounts.join_team(session, session.get(Volunteer, outsider), b)
    with core.db.unit_of_work() as session:
        with pytest.raises(Invalid, match="本队"):
            office.set_team_leader(session, OFFICE, a, outsider)
        assert office.set_team_leader(session, OFFICE, a, member).leader_id == member
        office.set_team_active(session, OFFICE, a, False)
    with core.db.unit_of_work() as session, pytest.raises(NotFound):  # a deactivated team takes no one new
        accounts.join_team(session, session.get(Volunteer, outsider), a)
    with core.db.read() as session:
        team = session.get(Team, a)
        assert (team.name, team.active, team.leader_id, team.federation_id) == ("和平银龄助老队", False, member, fed)
        assert session.get(Volunteer, member).team_id == a  # its volunteers stay
    assert [a.changes for a in audits(core, "volunteer_federation_save")] == [{"federation": [None, "心连心志愿服务联合会"]}]
    assert [x.changes for x in audits(core, "volunteer_team_rename")] == [{"team": a, "name": ["银龄助老队", "和平银龄助老队"]}]
    assert [x.changes for x in audits(core, "volunteer_team_leader")] == [{"team": a, "leader": [None, member]}]
    assert [x.changes for x in audits(core, "volunteer_team_active")] == [{"team": a, "active": [True, False]}]
    assert [x.changes for x in audits(core, "volunteer_team_federation")] == [{"team": a, "federation": [None, fed]}]


def test_team_pages(core, login):
    a, other = _team(core, "环境守护队"), _team(core, "文明劝导队", community="光明社区")
    member = volunteer(core, "13800006003")
    with core.db.unit_of_work() as session:
        accounts.join_team(session, session.get(Volunteer, member), a)
    office_client, organiser = login("volunteer_admin"), login("organiser")
    office_client.post("/volunteers/federation", data={"name": "心连心志愿服务联合会"})
    assert office_client.post(f"/volunteers/teams/{a}/federation", data={"attached": "1"}).status_code == 302
    office_client.post(f"/volunteers/teams/{a}/leader", data={"leader_id": str(member)})
    office_client.post(f"/volunteers/teams/{a}/rename", data={"name": "文明劝导队"})  # taken: refused
    page = office_client.get(f"/volunteers/teams/{a}").get_data(as_text=True)
    assert "已有同名的志愿服务队" in page and "心连心志愿服务联合会" in page
    assert re.search(r'id="leader">李\*+<', page)
    assert page.count('method="post"') == page.count('name="csrf_token"') == 4 + 1  # + the nav's logout
    assert organiser.get(f"/volunteers/teams/{a}").status_code == 200  # their community: may look
    assert 'action="/volunteers/teams/' not in organiser.get(f"/volunteers/teams/{a}").get_data(as_text=True)
    assert organiser.get(f"/volunteers/teams/{other}").status_code == 403
    assert organiser.post(f"/volunteers/teams/{a}/active", data={"active": "0"}).status_code == 403
    assert office_client.post(f"/volunteers/teams/{a}/explode").status_code == 404
    assert office_client.get("/volunteers/teams/999999").status_code == 404
    office_client.post(f"/volunteers/teams/{a}/active", data={"active": "0"})
    with core.db.read() as session:
        team = session.get(Team, a)
        assert (team.active, team.leader_id, team.federation_id is not None) == (False, member, True)
    assert "已停用" in office_client.get("/volunteers/teams").get_data(as_text=True)


# -- password reset -------------------------------------------------------------------------------------
def _issue(core, vid: int, staff=ORGANISER) -> str:
    with core.db.unit_of_work() as session:
        return password_reset.issue(session, staff, vid).code


def test_reset_sets_a_new_password_once_and_ends_every_session(app, core, login):
    vid = volunteer(core, "13800006010")
    old_phone = phone_client(app, "13800006010")
    assert old_phone.get("/v/points").status_code == 200
    issued = login("organiser").post(f"/volunteers/people/{vid}/reset")
    page = issued.get_data(as_text=True)
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    code = re.search(r'id="reset-code">([^<]+)<', page).group(1)
    assert "data:image/png;base64," in page and f"/v/reset?c={code}" in page
    with core.db.read() as session:
        stored = session.scalars(select(ResetCode)).one()
        assert stored.code_hash != code and code not in stored.code_hash  # only the digest is kept

    fresh = app.test_client()
    assert fresh.get(f"/v/reset?c={code}").status_code == 200
    weak = fresh.post("/v/reset", data={"code": code, "password": "12345678", "again": "12345678"})
    assert weak.status_code == 400 and "太常见" in weak.get_data(as_text=True)
    mismatch = fresh.post("/v/reset", data={"code": code, "password": NEW_PASSWORD, "again": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.get_data(as_text=True)
    done = fresh.post("/v/reset", data={"code": code, "password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/v/login")

    gone = old_phone.get("/v/points")  # the session from before the reset has ended
    assert gone.status_code == 302 and "/v/login" in gone.headers["Location"]
    assert app.test_client().post("/v/login", data={"phone": "13800006010", "password": PASSWORD}).status_code == 401
    assert app.test_client().post("/v/login", data={"phone": "13800006010", "password": NEW_PASSWORD}
                                  ).status_code == 302
    reused = fresh.post("/v/reset", data={"code": code, "password": "Another#2028", "again": "Another#2028"})
    assert reused.status_code == 409 and "已经使用过" in reused.get_data(as_text=True)
    assert fresh.get(f"/v/reset?c={code}").status_code == 409
    assert [(a.actor, a.changes) for a in audits(core, "volunteer_password_reset")] == [
        (f"volunteer:{vid}", {"issued_by": "organiser"})]
    issue_rows = audits(core, "volunteer_reset_issue")
    assert [(a.actor, a.changes["volunteer"]) for a in issue_rows] == [("organiser", vid)]
    assert code not in str(issue_rows[0].changes)


def test_expired_unknown_and_superseded_codes_are_refused(app, core, clock):
    vid = volunteer(core, "13800006011")
    code = _issue(core, vid)
    clock.move_to(at(2026, 11, 2, 10) + timedelta(hours=password_reset.VALID_HOURS, seconds=1))
    client = app.test_client()
    expired = client.post("/v/reset", data={"code": code, "password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert expired.status_code == 400 and "已过期" in expired.get_data(as_text=True)
    unknown = client.post("/v/reset", data={"code": "not-a-code", "password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert unknown.status_code == 400 and "重置码无效" in unknown.get_data(as_text=True)
    first, second = _issue(core, vid), _issue(core, vid, staff=OFFICE)
    with core.db.unit_of_work() as session, pytest.raises(Invalid, match="已过期"):
        password_reset.redeem(session, first, NEW_PASSWORD, NEW_PASSWORD)  # a newer code ends the older one
    with core.db.unit_of_work() as session:
        password_reset.redeem(session, second, NEW_PASSWORD, NEW_PASSWORD)
    with core.db.read() as session:
        assert accounts.authenticate(session, "13800006011", NEW_PASSWORD) is not None


def test_only_the_volunteers_community_or_the_office_may_issue(core, login):
    vid = volunteer(core, "13800006012")
    with core.db.unit_of_work() as session, pytest.raises(Forbidden):
        password_reset.issue(session, OTHER_ORGANISER, vid)
    with core.db.unit_of_work() as session, pytest.raises(NotFound):
        password_reset.issue(session, OFFICE, 10 ** 6)
    elsewhere = volunteer(core, "13800006013", community="光明社区")
    refused = login("organiser").post(f"/volunteers/people/{elsewhere}/reset")
    assert refused.status_code == 302
    assert login("viewer").post(f"/volunteers/people/{vid}/reset").status_code == 403
    assert audits(core, "volunteer_reset_issue") == []
    assert login("volunteer_admin").post(f"/volunteers/people/{elsewhere}/reset").status_code == 200


def test_two_racing_uses_of_one_code_give_one_reset(core):
    vid = volunteer(core, "13800006014")
    code = _issue(core, vid)

    def use(i):
        with core.db.unit_of_work() as session:
            password_reset.redeem(session, code, f"Racing#{i}2026x", f"Racing#{i}2026x")
        return i

    results = race(use, n=2)
    assert sorted(kind for kind, _v in results) == ["error", "ok"], results
    assert all(isinstance(v, Conflict) for kind, v in results if kind == "error"), results
    with core.db.read() as session:
        assert session.get(Volunteer, vid).session_version == 1
