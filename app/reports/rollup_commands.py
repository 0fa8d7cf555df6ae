"""`bihuan reports ...`: maintenance of the dashboard's precomputed aggregates."""
from __future__ import annotations

import click


@click.group(help="Reports: the dashboard's rollups.")
def reports() -> None:
    pass


@reports.command("rebuild", help="Recompute the daily rollup and the dwell table from the cases and the audit log.")
def rebuild_command() -> None:
    from ..cli import _emit, _opened, user_errors
    from .rollups import rebuild

    @user_errors
    def run():
        with _opened() as core:
            with core.db.unit_of_work() as session:
                _emit(rebuild(session))
    run()
