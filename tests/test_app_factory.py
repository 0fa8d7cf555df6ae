"""The app factory: every domain's pages are registered, and sessions are signed with a key nobody
can read in the source (generated once per install, kept private, shared by every worker)."""
from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess

import pytest

from app import create_app
from app.errors import Invalid
from app.web.secret_key import instance_secret_key
from tests.conftest import WebClient
from tests.test_cli import BIHUAN

# One page of each blueprint, written by hand: dropping a blueprint from the factory must fail here.
PAGES = {
    "auth": ("/login", "auth.login"),
    "intake": ("/intake/register", "intake.register"),
    "tasks": ("/tasks", "tasks.worklist"),
    "cases": ("/cases/search", "cases.search"),
    "supervision": ("/supervision", "supervision.board"),
    "designer": ("/designer", "designer.library"),
    "admin": ("/admin/users", "admin.users"),
    "health": ("/health", "health.health"),
    "reports": ("/ledgers", "reports.ledgers"),
    "audit": ("/admin/access-log", "audit.access_log"),
    "scores": ("/scores", "scores.month"),
    "weekly": ("/reports/weekly", "weekly.index"),
    "dashboard": ("/dashboard", "dashboard.index"),
    "notifications": ("/notifications", "notifications.index"),
    "attachments": ("/attachments/1", "attachments.download"),
    "documents": ("/documents/cases/HD-1/work-order", "documents.work_order_page"),
    "api_v1": ("/api/v1/cases", "api_v1.Cases"),
    "api-v1-api-docs": ("/api/v1/openapi.json", "api-v1-api-docs.openapi_json"),
    "api_docs": ("/api/v1/docs", "api_docs.docs"),
    "api_admin": ("/admin/api-clients/", "api_admin.clients"),
    "public": ("/status", "public.status"),
    "feeds": ("/feeds/opinion", "feeds.opinion"),
    "open311": ("/open311/v2/services.xml", "open311.service_list"),
    "volunteers": ("/volunteers/", "volunteers.index"),
    "vol": ("/v/login", "vol.login"),
    "patrol": ("/patrol", "patrol.log"),
    "joint": ("/joint/HD-1/instruct", "joint.instruct", "POST"),
    "observability": ("/healthz", "observability.healthz"),
    "readiness": ("/readyz", "readiness.readyz"),
    "org": ("/org", "org.index"),
    "whatif": ("/designer/whatif", "whatif.form"),
}


def test_every_blueprint_is_registered(app):
    # The calendar's blueprint has no pages: it adds the 暂定 filter and the admins' coverage banner.
    assert set(app.blueprints) == set(PAGES) | {"calendar"}
    assert "provisional" in app.jinja_env.filters
    urls = app.url_map.bind("localhost")
    for path, endpoint, *method in PAGES.values():
        assert urls.match(path, method=(method or ["GET"])[0])[0] == endpoint, path


# -- the secret key -----------------------------------------------------------------------------
@pytest.fixture
def no_configured_key(monkeypatch):
    monkeypatch.delenv("BIHUAN_SECRET_KEY", raising=False)
    monkeypatch.delenv("BIHUAN_TESTING", raising=False)


def test_a_generated_key_is_private_and_kept_across_restarts(core, tmp_path, no_configured_key):
    no_csrf = {"WTF_CSRF_ENABLED": False}  # to log in with a plain POST
    first = create_app(no_csrf, core=core, instance_path=str(tmp_path))
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == key_file.read_text().strip() and len(first.secret_key) >= 32
    assert not first.testing  # the real path, not the throwaway key of test apps

    # A restart (or another worker) reads the same key, so a session from the first app stays valid.
    second = create_app(no_csrf, core=core, instance_path=str(tmp_path))
    assert second.secret_key == first.secret_key
    logged_in = WebClient(first, "dispatcher").client
    cookie = logged_in.get_cookie("session")
    client = second.test_client()
    client.set_cookie("session", cookie.value)
    assert client.get("/tasks").status_code == 200

    # Another install gets another key.
    assert create_app(core=core, instance_path=str(tmp_path / "other")).secret_key != first.secret_key


def _start_worker(folders, barrier, results):
    barrier.wait()
    try:
        results.put([instance_secret_key(folder) for folder in folders])
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def test_workers_starting_at_once_agree_on_one_key(tmp_path):
    """Workers race through many fresh installs at once; in each, all of them must read one key."""
    folders = [tmp_path / str(n) for n in range(200)]
    context = multiprocessing.get_context("fork")
    count = 6
    barrier, results = context.Barrier(count), context.Queue()
    workers = [context.Process(target=_start_worker, args=(folders, barrier, results)) for _ in range(count)]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert all(isinstance(worker_keys, list) for worker_keys in keys), keys
    for n, folder in enumerate(folders):
        assert {worker_keys[n] for worker_keys in keys} == {(folder / "secret_key").read_text().strip()}
        assert os.listdir(folder) == ["secret_key"]  # no temporary file left behind


@pytest.mark.parametrize("key", ["dev-only-change-me", "", "short-key"])
def test_a_known_or_weak_key_refuses_to_start_outside_testing(core, tmp_path, no_configured_key, monkeypatch, key):
    monkeypatch.setenv("BIHUAN_SECRET_KEY", key)
    with pytest.raises(Invalid, match="refusing to start: the secret key"):
        create_app(core=core, instance_path=str(tmp_path))
    with pytest.raises(Invalid, match="refusing to start: the secret key"):
        create_app({"SECRET_KEY": key}, core=core, instance_path=str(tmp_path))
    assert not (tmp_path / "secret_key").exists()
    # Tests and a developer's debug server may use any key.
    assert create_app({"TESTING": True, "SECRET_KEY": key}, core=core).secret_key == key
    assert create_app({"DEBUG": True, "SECRET_KEY": key}, core=core, instance_path=str(tmp_path)).secret_key == key


def test_serve_with_the_old_default_key_is_one_clear_line(core, database_url):
    env = {name: value for name, value in os.environ.items() if name != "BIHUAN_TESTING"}
    env.update(BIHUAN_DATABASE_URL=database_url, BIHUAN_SECRET_KEY="dev-only-change-me")
    proc = subprocess.run([BIHUAN, "serve", "--no-scheduler", "--port", "0"], check=False, capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to start: the secret key is a known default" in lines[0], proc.stderr
