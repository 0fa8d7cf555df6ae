"""The web app's health page, through Flask's test client on the real database."""
from __future__ import annotations

from app import create_app


def test_health_reports_version_and_counts(core, driver):
    driver.register()
    client = create_app({"TESTING": True}, core=core).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["process_version"] == 1
    assert body["cases"] == 1 and body["open_instances"] == 1 and body["due_timers"] == 0


def test_health_on_an_unmigrated_database_is_503(tmp_path):
    from app.core import Core
    core = Core(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        response = create_app({"TESTING": True}, core=core).test_client().get("/health")
        assert response.status_code == 503
        assert "bihuan db upgrade" in response.get_json()["error"]
    finally:
        core.close()
