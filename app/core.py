"""The running system without the web: database, engine, calendar and services wired together.

The Flask app, the CLI, the scheduler and the tests all build one of these.
"""
from __future__ import annotations

from .audit import chain as audit_chain
from .observability import timer_log
from .calendar.services import CalendarService
from .privacy import crypto
from .cases.services import CaseService
from .db import Database, default_database_url
from .processes.services import BundleCache
from workflows.engine import Engine


class Core:
    def __init__(self, database_url: str | None = None):
        audit_chain.install()  # every audit row written through any session is chained
        timer_log.install()  # each fired timer logged with its case number, once committed
        crypto.configure(crypto.keyring_from_environment())  # before any personal field is read or written
        self.db = Database(database_url or default_database_url())
        self.calendar = CalendarService(self.db)
        self.engine = Engine(self.calendar.current)
        self.bundles = BundleCache()
        self.cases = CaseService(self)
        _wire_domains()

    def close(self) -> None:
        self.db.dispose()


def _wire_domains() -> None:
    """Hooks by which a lower domain reads a higher one without importing it: the map's grid panel
    (app/org) shows the patrol record (app/patrol, which imports the org models)."""
    from .org import map as grid_map
    from .patrol.services import map_record
    grid_map.PATROL_RECORD = map_record
