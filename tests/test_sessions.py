"""Sessions the server can end, and a login throttle that slows attackers but never locks out a victim
(issue 14: findings 2 and 4, and the session limits)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from app.auth.throttle import DEVICE_COOKIE
from workflows.clock import utcnow

PASSWORD = "bihuan123"


@pytest.fixture
def strict_app(core):
    """Default session limits (30 minutes idle, 12 hours at most)."""
    return create_app({"TESTING": True, "SECRET_KEY": "sessions-test-key", "WTF_CSRF_ENABLED": False}, core=core)


def client_at(app, addr: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = addr
    return client


def log_in(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def test_a_copied_cookie_stops_working_after_logout(strict_app):
    victim = client_at(strict_app, "10.0.0.1")
    assert log_in(victim, "admin").status_code == 302
    stolen = victim.get_cookie("session").value
    attacker = client_at(strict_app, "10.0.0.1")
    attacker.set_cookie("session", stolen)
    assert attacker.get("/admin/users").status_code == 200  # the copy works while the session lives
    assert victim.post("/logout").status_code == 302
    response = attacker.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.location


@pytest.fixture
def probe_user(core):
    """A user of this test's own: the demo users are shared by the whole run."""
    from app.auth.models import User
    from app.auth.services import create_user
    with core.db.unit_of_work() as session:
        staff = create_user(session, "session_probe", PASSWORD, ["viewer"], display_name="会话测试")
        session.flush()
        staff_id = staff.id
    yield staff_id
    with core.db.unit_of_work() as session:
        session.delete(session.get(User, staff_id))


def test_a_password_change_and_a_deactivation_end_the_users_sessions(strict_app, probe_user):
    staff_id = probe_user
    user = client_at(strict_app, "10.0.0.2")
    assert log_in(user, "session_probe").status_code == 302
    assert user.get("/cases/search").status_code == 200
    admin = client_at(strict_app, "10.0.0.3")
    assert log_in(admin, "admin").status_code == 302
    assert admin.post(f"/admin/users/{staff_id}/password", data={
        "password": "Another-pass-2026", "password_confirm": "Another-pass-2026"}).status_code in (302, 303)
    assert user.get("/cases/search").status_code == 302
    assert log_in(user, "session_probe", "Another-pass-2026").status_code == 302
    assert user.get("/cases/search").status_code == 200
    assert admin.post(f"/admin/users/{staff_id}/active", data={"active": ""}).status_code in (302, 303)
    assert user.get("/cases/search").status_code == 302


def test_idle_sessions_expire_after_30_minutes(strict_app, frozen_clock):
    client = client_at(strict_app, "10.0.0.4")
    assert log_in(client, "viewer").status_code == 302
    frozen_clock.move_to(utcnow() + timedelta(minutes=29))
    assert client.get("/cases/search").status_code == 200  # used: the idle time starts again
    frozen_clock.move_to(utcnow() + timedelta(minutes=29))
    assert client.get("/cases/search").status_code == 200
    frozen_clock.move_to(utcnow() + timedelta(minutes=31))
    assert client.get("/cases/search").status_code == 302


def test_sessions_end_after_12_hours_however_busy(strict_app, frozen_clock):
    client = client_at(strict_app, "10.0.0.5")
    started = utcnow()
    assert log_in(client, "viewer").status_code == 302
    for _ in range(25):
        frozen_clock.move_to(utcnow() + timedelta(minutes=29))
        if client.get("/cases/search").status_code != 200:
            break
    assert client.get("/cases/search").status_code == 302
    assert timedelta(hours=12) <= utcnow() - started <= timedelta(hours=12, minutes=29)


def test_logging_into_your_own_account_does_not_reset_guesses_at_another(strict_app):
    attacker = client_at(strict_app, "10.0.0.6")
    for _ in range(5):
        assert log_in(attacker, "handler", "guess").status_code == 401
        assert log_in(attacker, "viewer").status_code == 302  # the attacker's own account
        attacker.post("/logout")
    response = log_in(attacker, "handler", "guess")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


def test_failures_elsewhere_never_lock_the_victim_out(strict_app, frozen_clock):
    for n in range(40):  # from many machines: past the account-wide limit
        assert log_in(client_at(strict_app, f"10.1.{n}.1"), "handler", "guess").status_code in (401, 429)
    victim = client_at(strict_app, "10.9.9.9")
    # a new browser is only slowed: it gets in once the back-off has passed
    slowed = log_in(victim, "handler")
    assert slowed.status_code == 429
    frozen_clock.move_to(utcnow() + timedelta(seconds=int(slowed.headers["Retry-After"])))
    assert log_in(victim, "handler").status_code == 302
    victim.post("/logout")
    for n in range(40):
        log_in(client_at(strict_app, f"10.2.{n}.1"), "handler", "guess")
    # the browser the victim logged in from before is not slowed at all
    assert victim.get_cookie(DEVICE_COOKIE) is not None
    assert log_in(victim, "handler").status_code == 302


def test_one_noisy_machine_behind_an_office_nat_does_not_lock_out_colleagues(strict_app, frozen_clock):
    colleague = client_at(strict_app, "192.0.2.1")
    assert log_in(colleague, "dispatcher").status_code == 302  # has logged in here before
    colleague.post("/logout")
    noisy = client_at(strict_app, "192.0.2.1")
    for n in range(35):
        log_in(noisy, f"nobody{n}", "guess")
    assert log_in(noisy, "nobody-else", "guess").status_code == 429  # the machine itself is slowed
    assert log_in(colleague, "dispatcher").status_code == 302
    newcomer = client_at(strict_app, "192.0.2.1")
    slowed = log_in(newcomer, "viewer")
    assert slowed.status_code == 429  # slowed for a while, not locked for the window
    frozen_clock.move_to(utcnow() + timedelta(seconds=int(slowed.headers["Retry-After"])))
    assert log_in(newcomer, "viewer").status_code == 302


def test_a_forged_or_foreign_device_cookie_is_ignored(strict_app):
    for n in range(25):
        log_in(client_at(strict_app, f"10.3.{n}.1"), "operator", "guess")
    forger = client_at(strict_app, "10.3.99.1")
    forger.set_cookie(DEVICE_COOKIE, "forged.token.value")
    assert log_in(forger, "operator").status_code == 429
    other = client_at(strict_app, "10.3.98.1")
    assert log_in(other, "viewer").status_code == 302  # a real cookie, but for another account
    other.post("/logout")
    assert log_in(other, "operator").status_code == 429


def test_the_session_is_new_at_login(strict_app):
    client = client_at(strict_app, "10.0.0.7")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    assert log_in(client, "viewer").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session


def test_production_refuses_a_demo_password_at_login(core):
    app = create_app({"TESTING": True, "SECRET_KEY": "production-like-key-0123456789", "WTF_CSRF_ENABLED": False,
                      "ENV": "production"}, core=core)
    response = log_in(client_at(app, "10.0.0.8"), "viewer")
    assert response.status_code == 403 and "管理员重置" in response.get_data(as_text=True)
