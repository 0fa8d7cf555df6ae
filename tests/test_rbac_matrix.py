"""Who may open what: every demo role (and anonymous) against every page, one test per cell.

The table is written by hand from the roles in the README and the glossary, not derived from the
app: a change in access rules must show up here as a failing cell and a deliberate edit.

    200  the page opens          403  forbidden          302  anonymous: sent to the login page

Every route of the table must exist: a 404 where the table expects anything else is a failure
(a blueprint that stopped registering must not pass as "forbidden" or be skipped).

The case used is a phone complaint registered by the operator and dispatched to chengguan (so it
waits on chengguan's 签收; no grid): ``sign_for`` is that task. ``task`` is the 派单 of a freshly
registered case.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

USERS = ("admin", "designer", "operator", "dispatcher", "handler", "handler2", "center", "discipline", "party",
         "grid", "viewer", "anonymous")

ROUTES = {
    "tasks": "/tasks",
    "register": "/intake/register",
    "patrol": "/intake/patrol",
    "search": "/cases/search",
    "case": "/cases/{case}",
    "diagram": "/cases/{case}/diagram",
    "board": "/supervision",
    "board_t3": "/supervision?tier=3",
    "users": "/admin/users",
    "departments": "/admin/departments",
    "calendar": "/admin/calendar",
    "designer": "/designer",
    "task": "/tasks/{task}",
    "sign_for": "/tasks/{sign_for}",
}

# Why each row reads as it does:
# admin      runs the system: admin pages; may register (CaseService allows it); sees every case and
#            every supervision tier read-only; has no tasks of its own, so no worklist; no designer.
# designer   edits and deploys the process: designer pages; reads cases (to follow a process through,
#            e.g. before migrating running cases); nothing else.
# operator   受理: registers cases, reads every case (to spot duplicates); no worklist, no tasks.
# dispatcher 指挥中心: worklist and its own tasks, registers too, reads every case, follows supervision.
# handler    承办部门: worklist; only its own department's cases (handler2 is another department).
# center / discipline / party: their worklist (督办 tasks) and their own tier's board (``board`` opens
#            on it; ``t3`` is the 党工委 tier, closed to the two lower tiers); read every case.
# grid       网格员: patrol reports; only the cases of their grid or that they reported.
# viewer     领导/查看: reads every case and the supervision boards; no tasks, no registering.
#
#              tasks register patrol search case diagram board  t3  users depts calendar designer task sign_for
EXPECTED = {
    "admin":      "403   200     403    200   200   200     200   200  200   200   200      403     403  403",
    "designer":   "403   403     403    200   200   200     403   403  403   403   403      200     403  403",
    "operator":   "403   200     403    200   200   200     403   403  403   403   403      403     403  403",
    "dispatcher": "200   200     403    200   200   200     200   200  403   403   403      403     200  403",
    "handler":    "200   403     403    200   200   200     403   403  403   403   403      403     403  200",
    "handler2":   "200   403     403    200   403   403     403   403  403   403   403      403     403  403",
    "center":     "200   403     403    200   200   200     200   403  403   403   403      403     403  403",
    "discipline": "200   403     403    200   200   200     200   403  403   403   403      403     403  403",
    "party":      "200   403     403    200   200   200     200   200  403   403   403      403     403  403",
    "grid":       "403   403     200    200   403   403     403   403  403   403   403      403     403  403",
    "viewer":     "403   403     403    200   200   200     200   200  403   403   403      403     403  403",
    "anonymous":  "302   302     302    302   302   302     302   302  302   302   302      302     302  302",
}

# POST actions, cheap enough to try as everyone: 认领 the 派单 task; reveal the reporter's phone
# (only those who call residents back: operator and dispatcher; each look is audited).
#               claim  reveal
EXPECTED_POST = {
    "admin":      "403   403",
    "designer":   "403   403",
    "operator":   "403   200",
    "dispatcher": "303   200",
    "handler":    "403   403",
    "handler2":   "403   403",
    "center":     "403   403",
    "discipline": "403   403",
    "party":      "403   403",
    "grid":       "403   403",
    "viewer":     "403   403",
    "anonymous":  "302   302",
}
POSTS = {"claim": "/tasks/{task}/claim", "reveal": "/cases/{case}/reporter"}

# Cells where the app and this table disagree and the table is believed right; each is reported.
# strict: once the app is fixed the cell passes, the xfail fails, and the entry must go.
DISAGREEMENTS: dict[tuple[str, str], str] = {}


def _cells(table: dict, columns) -> list:
    out = []
    for user in USERS:
        statuses = table[user].split()
        assert len(statuses) == len(columns), f"row {user} has {len(statuses)} cells"
        for column, status in zip(columns, statuses):
            marks = []
            if (user, column) in DISAGREEMENTS:
                marks = [pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[(user, column)])]
            out.append(pytest.param(user, column, int(status), id=f"{user}-{column}", marks=marks))
    return out


@pytest.fixture(scope="module")
def world(database_url, _seeded):
    """One case, one task and one logged-in client per user for the whole module: the cells only
    read, apart from the claim and the reveal, which leave nothing a later cell depends on."""
    from app import create_app
    from app.core import Core
    from tests.conftest import Driver, WebClient, _clear, _cover_test_years

    core = Core(database_url)
    _clear(core)
    _cover_test_years(core)
    driver = Driver(core)
    number = driver.register(text="夜间施工噪音扰民", reporter_name="张三", reporter_phone="13900001111",
                             address="和平路1号")
    driver.dispatch(number, department="chengguan")
    sign_for = driver.task(number, "sign_for")["id"]
    task = driver.task(driver.register(text="路灯不亮"), "dispatch")["id"]
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False}, core=core)
    clients: dict[str, WebClient] = {}

    def client(user: str) -> WebClient:
        if user not in clients:
            clients[user] = WebClient(app, None if user == "anonymous" else user)
        return clients[user]

    yield SimpleNamespace(core=core, app=app, case=number, task=task, sign_for=sign_for, client=client)
    core.close()


def _url(template: str, world) -> str:
    return (template.replace("{case}", world.case).replace("{task}", world.task)
            .replace("{sign_for}", world.sign_for))


def _check(response, expected: int, url: str) -> None:
    if response.status_code == 404 and expected != 404:
        pytest.fail(f"{url}: 404, the route is missing (expected {expected})")
    assert response.status_code == expected, f"{url}: {response.status_code}, expected {expected}"
    if expected == 302:
        assert "/login" in response.location, f"{url} redirected to {response.location}, not to the login page"


@pytest.mark.parametrize("user, route, expected", _cells(EXPECTED, list(ROUTES)))
def test_get(world, user, route, expected):
    url = _url(ROUTES[route], world)
    _check(world.client(user).get(url), expected, url)


@pytest.mark.parametrize("method, route", [("GET", path) for path in ROUTES.values()] +
                         [("POST", path) for path in POSTS.values()])
def test_every_route_of_the_table_exists(world, method, route):
    url = _url(route, world).split("?")[0]
    endpoint, _args = world.app.url_map.bind("localhost").match(url, method=method)  # NotFound if it is gone
    assert endpoint in world.app.view_functions


@pytest.mark.parametrize("user, action, expected", _cells(EXPECTED_POST, list(POSTS)))
def test_post(world, user, action, expected):
    url = _url(POSTS[action], world)
    _check(world.client(user).post(url, data={}), expected, url)


def test_the_allowed_posts_did_their_work(world):
    """The reveal shows the phone and is audited; the claim puts the task on the dispatcher."""
    from sqlalchemy import select

    from app.cases.models import AuditEntry, Case, ReadyTask
    response = world.client("dispatcher").post(f"/cases/{world.case}/reporter")
    assert "13900001111" in response.get_data(as_text=True)
    assert "13900001111" not in world.client("viewer").get(f"/cases/{world.case}").get_data(as_text=True)
    world.client("dispatcher").post(f"/tasks/{world.task}/claim")
    with world.core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == world.case))
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.case_id == case_id,
                                                                AuditEntry.action == "reveal_reporter"))
        assert "dispatcher" in set(actors)
        assert session.scalar(select(ReadyTask.assignee).where(ReadyTask.id == world.task)) == "dispatcher"


# 网格巡查 (issue 10): the grid worker's patrol log, the 督查组's overview and the grid workers' ranking.
# grid / grid2  their own log (/patrol); not the overview or the ranking (they see their month on the log).
# inspector     社会治理督查组: the overview (all grids, missing days) and the ranking; no log of its own.
# viewer, dispatcher, admin: read the overview and the ranking like the 督查组, record no spot checks.
PATROL_USERS = ("admin", "designer", "operator", "dispatcher", "handler", "center", "grid", "grid2", "inspector",
                "viewer", "anonymous")
PATROL_ROUTES = {"patrol_log": "/patrol", "patrol_overview": "/patrol/overview", "patrol_ranking": "/patrol/ranking"}
#                  log  overview ranking
EXPECTED_PATROL = {
    "admin":      "403   200     200",
    "designer":   "403   403     403",
    "operator":   "403   403     403",
    "dispatcher": "403   200     200",
    "handler":    "403   403     403",
    "center":     "403   403     403",
    "grid":       "200   403     403",
    "grid2":      "200   403     403",
    "inspector":  "403   200     200",
    "viewer":     "403   200     200",
    "anonymous":  "302   302     302",
}


@pytest.mark.parametrize("user, route, expected", [
    pytest.param(user, route, int(status), id=f"{user}-{route}")
    for user in PATROL_USERS for route, status in zip(PATROL_ROUTES, EXPECTED_PATROL[user].split())])
def test_get_patrol_pages(world, user, route, expected):
    url = PATROL_ROUTES[route]
    _check(world.client(user).get(url), expected, url)
