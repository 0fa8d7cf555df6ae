"""``bihuan patrol score YYYY-MM`` (the grid workers' monthly assessment) and ``bihuan patrol summary``
(one grid's patrol record): JSON on stdout, one stderr line on a user error."""
from __future__ import annotations

import click

from ..calendar.services import iso_day
from ..cli import _emit, _opened, user_errors
from ..errors import Invalid


@click.group(help="Grid patrols (网格巡查) and the grid workers' assessment (网格员考核).")
def patrol() -> None:
    pass


@patrol.command("score", help="The grid workers' ranking of a month (YYYY-MM) with figures and points.")
@click.argument("month")
@user_errors
def patrol_score(month: str) -> None:
    from .assessment import grid_scores
    with _opened() as core:
        with core.db.read() as session:
            _emit(grid_scores(core, session, month))


@patrol.command("summary", help="One grid's patrols over a range of days (what the map's grid panel shows).")
@click.argument("grid")
@click.option("--from", "start", required=True, help="YYYY-MM-DD")
@click.option("--to", "end", required=True, help="YYYY-MM-DD")
@user_errors
def patrol_summary_command(grid: str, start: str, end: str) -> None:
    from .services import patrol_summary
    try:
        first, last = iso_day(start), iso_day(end)
    except ValueError:
        raise Invalid("dates must be YYYY-MM-DD") from None
    with _opened() as core:
        with core.db.read() as session:
            _emit(patrol_summary(session, grid, first, last))
