"""The second factor for admins and designers (app/auth/totp.py), on the frozen clock."""
from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import select, text

from app.auth.models import User
from app.cases.models import AuditEntry
from workflows.clock import utcnow


def _code(secret: str, seconds: float = 0) -> str:
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=seconds))


def _enrol(client, clock=None) -> str:
    page = client.get("/account/totp")
    assert page.status_code == 200
    secret = re.search(r'class="totp-secret">([A-Z2-7]{32})<', page.get_data(as_text=True)).group(1)
    assert b"<svg" in page.data  # the QR code, inline
    wrong = client.post("/account/totp", data={"code": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 400
    done = client.post("/account/totp", data={"code": _code(secret)})
    assert done.status_code == 302
    return secret


def _login(client, username="admin", password="bihuan123"):
    return client.post("/login", data={"username": username, "password": password})


def test_enrolled_admin_needs_the_code_and_a_code_works_once(app, core, clock):
    client = app.test_client()
    assert _login(client).status_code == 302
    secret = _enrol(client)
    with core.db.read() as db:
        stored = db.execute(text("SELECT totp_secret FROM users WHERE username = 'admin'")).scalar()
        assert stored and secret not in stored  # encrypted at rest
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "totp_enrolled")) is not None
    client.post("/logout")

    # The password alone no longer logs in: the admin pages stay closed until the code.
    step1 = _login(client)
    assert step1.status_code == 302 and step1.headers["Location"].endswith("/login/totp")
    assert client.get("/admin/users").status_code == 302
    assert client.post("/login/totp", data={"code": "12345x"}).status_code == 401
    clock.shift(timedelta(seconds=31))
    code = _code(secret)
    ok = client.post("/login/totp", data={"code": code})
    assert ok.status_code == 302
    assert client.get("/admin/users").status_code == 200
    client.post("/logout")

    # The same code again (within its 30 seconds) is refused: it was seen once already.
    _login(client)
    assert client.post("/login/totp", data={"code": code}).status_code == 401
    # The next step's code works.
    clock.shift(timedelta(seconds=30))
    assert client.post("/login/totp", data={"code": _code(secret)}).status_code == 302


def test_the_half_way_session_expires_and_wrong_codes_are_throttled(app, clock):
    client = app.test_client()
    _login(client)
    secret = _enrol(client)
    client.post("/logout")
    _login(client)
    clock.shift(timedelta(minutes=6))
    # Five minutes after the password, the code step starts again from the password.
    late = client.post("/login/totp", data={"code": _code(secret)})
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    _login(client)
    statuses = [client.post("/login/totp", data={"code": "000000" if _code(secret) != "000000" else "111111"}
                            ).status_code for _ in range(12)]
    assert 429 in statuses  # guessing codes slows down like guessing passwords


def test_required_second_factor_shows_only_the_enrolment_page(app, core, clock):
    app.config["TOTP_REQUIRED"] = True
    try:
        client = app.test_client()
        first = _login(client, "designer")
        assert first.headers["Location"].endswith("/account/totp")
        assert client.get("/designer").status_code == 302  # every other page sends back to enrolment
        _enrol(client)
        assert client.get("/designer").status_code == 200
        # Roles without the second factor are untouched.
        other = app.test_client()
        assert "/account/totp" not in _login(other, "operator").headers["Location"]
        assert other.get("/cases/search").status_code == 200
    finally:
        app.config["TOTP_REQUIRED"] = False


def test_admin_resets_a_lost_second_factor(app, core, login, clock):
    client = app.test_client()
    _login(client, "designer")
    _enrol(client)
    with core.db.read() as db:
        designer_id = db.scalar(select(User.id).where(User.username == "designer"))
    admin = login("admin")
    page = admin.get(f"/admin/users/{designer_id}")
    assert "解除双重验证" in page.get_data(as_text=True)
    assert admin.post(f"/admin/users/{designer_id}/totp-reset").status_code == 302
    with core.db.read() as db:
        assert db.scalar(select(User.totp_secret).where(User.id == designer_id)) is None
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "totp_reset")) is not None
    # Reset twice: a clear refusal, not a 500.
    assert admin.post(f"/admin/users/{designer_id}/totp-reset").status_code == 400
    # The designer logs in with the password alone again.
    again = app.test_client()
    assert not _login(again, "designer").headers["Location"].endswith("/login/totp")
