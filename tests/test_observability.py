"""Production serving and observability (issue 11): /healthz, /metrics, request ids and JSON logs,
proxy headers only when configured, static caching, the production secret key, gunicorn."""
from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from app.errors import Invalid
from app.observability import metrics
from app.observability.logging import JsonFormatter, request_id
from tests.conftest import at

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "metrics-token-for-tests-0123456789"


def make(core, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "WTF_CSRF_ENABLED": False, **config}, core=core)


def test_healthz_answers_without_the_database(core):
    app = make(core)
    core.db.engine.dispose()
    # a database URL that cannot connect: /healthz must not care
    app.extensions["bihuan"] = None
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "alive"}


def test_metrics_only_locally_or_with_the_token(core, login):
    app = make(core)
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    # a proxied request arrives from 127.0.0.1 whoever sent it: not local
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 403
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    app = make(core, METRICS_TOKEN=TOKEN)
    client = app.test_client()
    assert client.get("/metrics").status_code == 403  # with a token configured, local needs it too
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 200 and ok.mimetype == "text/plain"


def _value(body: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return 0.0


def test_requests_are_counted_by_route_not_by_path(core, driver, app, login):
    number = driver.register(reporter_phone="13700001111")
    client = login("dispatcher")
    body = app.test_client().get("/metrics").get_data(as_text=True)
    before = _value(body, "bihuan_http_requests_total", method="GET", route="/cases/<number>", status="200")
    assert client.get(f"/cases/{number}").status_code == 200
    assert client.get("/cases/HD-00000000-0000").status_code == 404
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert _value(body, "bihuan_http_requests_total", method="GET", route="/cases/<number>", status="200") == before + 1
    assert _value(body, "bihuan_http_requests_total", method="GET", route="/cases/<number>", status="404") >= 1
    assert number not in body  # the raw path is never a label
    assert _value(body, "bihuan_http_request_duration_seconds_count", method="GET", route="/cases/<number>") >= 2


def test_database_gauges_and_sweep_figures(core, driver, app, clock):
    from app.cases.services import record_incident
    number = driver.register()
    with core.db.read() as session:
        from sqlalchemy import select
        from app.cases.models import Case
        case_id = session.scalar(select(Case.id).where(Case.number == number))
    record_incident(core, case_id, "test incident", "scheduler")
    fired_before = _value(app.test_client().get("/metrics").get_data(as_text=True), "bihuan_timers_fired_total")
    metrics.observe_sweep(3, 0.25, [0.4, 1.5, 12.0])
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert _value(body, "bihuan_incidents_open") == 1
    assert _value(body, "bihuan_metrics_database_up") == 1
    assert _value(body, "bihuan_timers_fired_total") == fired_before + 3
    assert _value(body, "bihuan_timer_lateness_seconds_bucket", le="1.0") >= 1
    assert _value(body, "bihuan_timer_sweep_duration_seconds_count") >= 1
    assert "bihuan_notification_outbox_depth" in body and "bihuan_db_pool_connections_in_use" in body


def test_request_id_in_and_out(core):
    client = make(core).test_client()
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert made.headers["X-Request-Id"] != "bad id <script>" and len(made.headers["X-Request-Id"]) == 32


def test_production_logs_are_json_lines_with_the_request_id(core, driver, clock):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("app.requests", "app.timers", "app.cases.services")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        app = make(core, ENV="production")
        app.test_client().get("/healthz?phone=13700001111", headers={"X-Request-Id": "req-42"})
        number = driver.register()
        driver.dispatch(number)
        clock.move_to(at(2026, 11, 5, 10, 0))
        assert driver.fire() >= 1
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request = next(e for e in lines if e["logger"] == "app.requests")
    assert request["request_id"] == "req-42" and request["route"] == "/healthz" and request["status"] == 200
    assert "13700001111" not in json.dumps(request)  # personal query values are redacted
    fired = [e for e in lines if e["logger"] == "app.timers"]
    assert fired and all(e["case"] == number for e in fired) and fired[0]["timers"]
    assert request_id.get() is None  # nothing leaks out of the request


def test_proxy_headers_only_when_configured(core):
    from flask import request

    def remote(app):
        app.add_url_rule("/_remote", "remote", lambda: request.remote_addr + " " + request.scheme)
        return app.test_client().get("/_remote", headers={"X-Forwarded-For": "203.0.113.9",
                                                          "X-Forwarded-Proto": "https"}).get_data(as_text=True)

    assert remote(make(core)) == "127.0.0.1 http"
    assert remote(make(core, PROXY_HOPS=1)) == "203.0.113.9 https"
    with pytest.raises(Invalid, match="BIHUAN_PROXY_HOPS"):
        make(core, PROXY_HOPS="lots")


def test_static_files_are_cached(core):
    client = make(core).test_client()
    vendor = client.get("/static/vendor/htmx/htmx.min.js")
    assert vendor.status_code == 200 and vendor.cache_control.max_age >= 86400 and not vendor.cache_control.no_cache
    own = client.get("/static/js/page.js")
    assert own.status_code == 200 and own.cache_control.no_cache and own.headers.get("ETag")
    again = client.get("/static/js/page.js", headers={"If-None-Match": own.headers["ETag"]})
    assert again.status_code == 304


def test_production_mode_refuses_a_missing_or_default_secret_key(core, monkeypatch, tmp_path):
    monkeypatch.setenv("BIHUAN_ENV", "production")
    monkeypatch.delenv("BIHUAN_SECRET_KEY", raising=False)
    with pytest.raises(Invalid, match="BIHUAN_SECRET_KEY is not set"):
        create_app(core=core, instance_path=str(tmp_path))
    for weak in ("dev-only-change-me", "changeme", "short"):
        monkeypatch.setenv("BIHUAN_SECRET_KEY", weak)
        with pytest.raises(Invalid, match="refusing to start"):
            create_app(core=core, instance_path=str(tmp_path))
    monkeypatch.setenv("BIHUAN_SECRET_KEY", "k" * 40)
    assert create_app(core=core, instance_path=str(tmp_path)).config["SECRET_KEY"] == "k" * 40
    # outside production mode the install's generated key is still fine
    monkeypatch.delenv("BIHUAN_ENV")
    monkeypatch.delenv("BIHUAN_SECRET_KEY")
    assert create_app(core=core, instance_path=str(tmp_path)).config["SECRET_KEY"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(), dict(response.headers)


def test_gunicorn_serves_healthz_and_metrics(core, database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "BIHUAN_DATABASE_URL": database_url, "BIHUAN_SECRET_KEY": "g" * 40,
           "BIHUAN_BIND": f"127.0.0.1:{port}", "BIHUAN_WEB_WORKERS": "2", "BIHUAN_METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "PYTHONPATH": str(ROOT)}
    env.pop("BIHUAN_ENV", None)
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                             "app.wsgi:app"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Waiting for the workers to boot is not a timing assertion: only the answers are checked.
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body, headers = _get(f"http://127.0.0.1:{port}/healthz", {"X-Request-Id": "gunicorn-1"})
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, open(tmp_path / "gunicorn.log").read()
                time.sleep(0.3)
        assert status == 200 and json.loads(body) == {"status": "alive"} and headers["X-Request-Id"] == "gunicorn-1"
        scrape = lambda: _get(f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {TOKEN}"})  # noqa: E731
        status, body, _ = scrape()
        assert status == 200
        before = _value(body, "bihuan_http_requests_total", method="GET", route="/healthz", status="200")
        assert before >= 1
        for _ in range(6):
            _get(f"http://127.0.0.1:{port}/healthz")
        status, body, _ = scrape()
        # the counts of every worker, added up (multiprocess mode)
        assert _value(body, "bihuan_http_requests_total", method="GET", route="/healthz", status="200") == before + 6
        assert _value(body, "bihuan_metrics_database_up") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "gunicorn-1" and e.get("route") == "/healthz" for e in lines)


def test_the_scheduler_sweep_records_fired_timers_and_their_lateness(core, driver, clock):
    from app.observability.timer_log import observed_sweep
    number = driver.register()
    driver.dispatch(number)
    due = core.cases.show(number)
    clock.move_to(at(2026, 11, 5, 10, 0))
    body = lambda: metrics.render(core)[0].decode()  # noqa: E731
    fired_before = _value(body(), "bihuan_timers_fired_total")
    late_before = _value(body(), "bihuan_timer_lateness_seconds_count")
    sum_before = _value(body(), "bihuan_timer_lateness_seconds_sum")
    fired = observed_sweep(core)
    assert fired >= 1
    text = body()
    assert _value(text, "bihuan_timers_fired_total") == fired_before + fired
    assert _value(text, "bihuan_timer_lateness_seconds_count") >= late_before + 1
    # the sign-for deadline passed days before this sweep: the lateness says so
    assert _value(text, "bihuan_timer_lateness_seconds_sum") - sum_before > 3600, due["deadline"]


def test_scheduler_metrics_port_must_be_a_port(monkeypatch):
    monkeypatch.setenv("BIHUAN_SCHEDULER_METRICS_PORT", "ninety")
    with pytest.raises(Invalid, match="BIHUAN_SCHEDULER_METRICS_PORT"):
        metrics.serve_scheduler_metrics()
    monkeypatch.delenv("BIHUAN_SCHEDULER_METRICS_PORT")
    assert metrics.serve_scheduler_metrics() is None
