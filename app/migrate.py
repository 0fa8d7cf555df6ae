"""Schema upgrades through Alembic, and the check that refuses to run on an unmigrated database."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .errors import BihuanError

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> str:
    command.upgrade(alembic_config(url), "head")
    return head_revision(url)


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


class NotMigrated(BihuanError):
    code = "not_migrated"
    http_status = 503


def check_schema(engine, url: str) -> None:
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = head_revision(url)
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, expected {head}"
        raise NotMigrated(f"the database is {state}: run 'bihuan db upgrade'")
