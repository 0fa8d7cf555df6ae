"""Login, logout, throttling, language, CSRF and cookies through the real app."""
from __future__ import annotations

from app import create_app


def test_login_lands_on_the_users_home_and_logout_ends_the_session(login, app):
    client = login(None)
    assert client.get("/").location.endswith("/login")
    response = client.post("/login", data={"username": "dispatcher", "password": "bihuan123"})
    assert response.status_code == 302 and not response.location.endswith("/login")
    assert client.post("/logout").status_code == 302
    assert client.get("/").location.endswith("/login")


def test_wrong_password_is_refused_with_a_message(login):
    client = login(None)
    response = client.post("/login", data={"username": "dispatcher", "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_repeated_failures_are_throttled_even_with_the_right_password(login):
    client = login(None)
    for _ in range(5):
        assert client.post("/login", data={"username": "handler", "password": "x"}).status_code == 401
    response = client.post("/login", data={"username": "handler", "password": "bihuan123"})
    assert response.status_code == 429
    assert f"请 {response.headers['Retry-After']} 秒后再试" in response.get_data(as_text=True)
    # another user on the same address is not locked out by those five
    assert client.post("/login", data={"username": "viewer", "password": "bihuan123"}).status_code == 302


def test_login_does_not_redirect_off_site(login):
    client = login(None)
    response = client.post("/login?next=https://evil.example/", data={"username": "viewer", "password": "bihuan123"})
    assert response.status_code == 302 and "evil" not in response.location


def test_forms_need_a_csrf_token(core):
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, core=core)  # CSRF on, as in production
    client = app.test_client()
    response = client.post("/login", data={"username": "viewer", "password": "bihuan123"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    ok = client.post("/login", data={"username": "viewer", "password": "bihuan123", "csrf_token": token})
    assert ok.status_code == 302


def test_session_cookie_is_httponly_and_samesite(login, app):
    client = app.test_client()
    response = client.post("/login", data={"username": "viewer", "password": "bihuan123"})
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_comes_from_configuration(core):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
                      "SESSION_COOKIE_SECURE": True}, core=core)
    cookie = app.test_client().post("/login", data={"username": "viewer", "password": "bihuan123"}).headers["Set-Cookie"]
    assert "Secure" in cookie


def test_language_switch_to_english_and_back(login):
    client = login("viewer")
    client.get("/lang/en")
    assert 'lang="en"' in client.get("/nope").get_data(as_text=True)
    client.get("/lang/zh_CN")
    assert 'lang="zh-CN"' in client.get("/nope").get_data(as_text=True)


def test_unknown_page_is_a_404_page_not_a_traceback(login):
    response = login("viewer").get("/no/such/page")
    assert response.status_code == 404 and "未找到" in response.get_data(as_text=True)


def test_each_role_lands_on_its_own_page(login):
    landings = {"dispatcher": "/tasks", "handler": "/tasks", "center": "/tasks", "operator": "/intake/register",
                "grid": "/patrol", "viewer": "/supervision", "designer": "/designer", "admin": "/admin/users"}
    for username, path in landings.items():
        client = login(None)
        response = client.post("/login", data={"username": username, "password": "bihuan123"})
        assert response.location.rstrip("/") == path, username
