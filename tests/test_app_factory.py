"""The app factory: every domain's pages are registered."""
from __future__ import annotations

from app import create_app

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
}


def test_every_blueprint_is_registered(app):
    assert set(app.blueprints) == set(PAGES)
    urls = app.url_map.bind("localhost")
    for path, endpoint in PAGES.values():
        assert urls.match(path) == (endpoint, {}), path
