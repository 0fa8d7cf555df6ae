"""Who may see a case (app/cases/visibility.py), asked with the ``User`` rows the services load and
with the ``WebUser`` the pages hold, and the audited look at the reporter in ``CaseService.show``."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case, ReadyTask
from app.cases.visibility import case_scope
from app.errors import Forbidden
from app.web.access import WebUser
from tests.conftest import audit_rows

PEOPLE = ("handler", "handler2", "grid", "viewer", "dispatcher")


def visible(core, number: str) -> set[str]:
    """The people of PEOPLE who may open case ``number``, asked as a service and as a page would."""
    with core.db.read() as session:
        seen = set()
        for user in session.scalars(select(User).where(User.username.in_(PEOPLE))):
            as_service = session.scalar(select(Case.id).where(Case.number == number, case_scope(user)))
            as_page = session.scalar(select(Case.id).where(Case.number == number, case_scope(WebUser.of(user))))
            assert (as_service is None) == (as_page is None), user.username
            if as_service is not None:
                seen.add(user.username)
        return seen


def handler_tasks_follow_the_case(core, number: str) -> None:
    """What makes a clause over the ready tasks unnecessary: handler work is always the case's department."""
    with core.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        tasks = session.scalars(select(ReadyTask).where(ReadyTask.case_id == case.id, ReadyTask.role == "handler"))
        assert all(task.department == case.department for task in tasks)


def test_handlers_see_the_cases_of_their_department_through_dispatch_return_and_reassign(core, driver, login):
    number = driver.register(text="夜间施工噪音扰民")  # by the operator, on the phone, no grid
    assert visible(core, number) == {"viewer", "dispatcher"}

    driver.dispatch(number, department="chengguan")
    assert driver.ready(number) == ["sign_for"]  # waits on chengguan, not signed for yet
    handler_tasks_follow_the_case(core, number)
    assert visible(core, number) == {"viewer", "dispatcher", "handler"}
    assert login("handler").get(f"/cases/{number}").status_code == 200
    assert login("handler2").get(f"/cases/{number}").status_code == 403

    # Returned: the dispatcher must reassign it; it is still chengguan's case until then.
    driver.do(number, "sign_for", "handler", decision="return", return_reason="属社区建设办职责")
    assert driver.ready(number) == ["reassign"]
    assert visible(core, number) == {"viewer", "dispatcher", "handler"}

    # Reassigned to community_building: it waits on handler2 now, and chengguan no longer sees it.
    driver.do(number, "reassign", "dispatcher", department="community_building")
    assert driver.ready(number) == ["sign_for"]
    handler_tasks_follow_the_case(core, number)
    assert visible(core, number) == {"viewer", "dispatcher", "handler2"}
    assert login("handler2").get(f"/cases/{number}").status_code == 200
    assert login("handler").get(f"/cases/{number}").status_code == 403

    driver.sign(number, user="handler2")
    handler_tasks_follow_the_case(core, number)
    assert visible(core, number) == {"viewer", "dispatcher", "handler2"}


def test_grid_workers_see_their_grid_and_what_they_reported(driver, core):
    in_grid = driver.register(grid="G01")
    reported = driver.register(channel="grid", user="grid")
    elsewhere = driver.register(grid="G02")
    assert "grid" in visible(core, in_grid) and "grid" in visible(core, reported)
    assert "grid" not in visible(core, elsewhere)


# -- the reporter, unmasked -------------------------------------------------------------------------
@pytest.fixture
def reported(driver) -> str:
    return driver.register(reporter_name="张三", reporter_phone="13900001111")


def test_show_masks_the_reporter_and_records_nothing(core, reported):
    case = core.cases.show(reported, viewer="viewer")
    assert (case["reporter_name"], case["reporter_phone"]) == ("张*", "139****1111")
    assert audit_rows(core, reported, "reveal_reporter") == []


def test_show_reveal_writes_the_audit_row_itself(core, reported):
    case = core.cases.show(reported, viewer="dispatcher", reveal_reporter=True)
    assert (case["reporter_name"], case["reporter_phone"]) == ("张三", "13900001111")
    rows = audit_rows(core, reported, "reveal_reporter")
    assert [(r.actor, r.source) for r in rows] == [("dispatcher", "cli")]
    assert case["history"][-1]["action"] == "reveal_reporter"  # read in the same transaction as the row

    core.cases.show(reported, viewer="operator", reveal_reporter=True, source="api")
    assert [(r.actor, r.source) for r in audit_rows(core, reported, "reveal_reporter")] == \
        [("dispatcher", "cli"), ("operator", "api")]


@pytest.mark.parametrize("viewer, message", [
    ("viewer", "may not see the reporter unmasked"),     # sees the case, may not call the reporter
    ("handler2", "may not see case"),                    # not even the case
    (None, "say who is looking"),                        # nobody to record
])
def test_show_refuses_to_reveal_to_whoever_may_not_and_records_nothing(core, reported, viewer, message):
    with pytest.raises(Forbidden, match=message):
        core.cases.show(reported, viewer=viewer, reveal_reporter=True)
    assert audit_rows(core, reported, "reveal_reporter") == []


def test_the_case_page_reveals_through_the_service(core, reported, login):
    body = login("operator").post(f"/cases/{reported}/reporter").get_data(as_text=True)
    assert "13900001111" in body
    assert [(r.actor, r.source) for r in audit_rows(core, reported, "reveal_reporter")] == [("operator", "web")]
    response = login("viewer").post(f"/cases/{reported}/reporter")
    assert response.status_code == 403 and "13900001111" not in response.get_data(as_text=True)
    assert len(audit_rows(core, reported, "reveal_reporter")) == 1
