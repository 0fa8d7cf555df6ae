"""``bihuan ledger export`` and ``bihuan kpi``: JSON on stdout, one stderr line on a user error.

Registered on the ``bihuan`` group by importing this module at the end of app/cli.py.
"""
from __future__ import annotations

import os

import click

from ..cli import _emit, _opened, main, user_errors
from ..errors import Invalid


def _user(core, username):
    """The WebUser for ``--user`` (scope and masking as on the pages); None = console, masked."""
    if not username:
        return None
    from ..auth.services import find_user
    from ..web.access import WebUser
    with core.db.read() as session:
        return WebUser.of(find_user(session, username))


@main.group(help="台账 (ledgers): export the rows of a filter.")
def ledger() -> None:
    pass


@ledger.command("export", help="Export ledger rows to .xlsx (one sheet per difficulty) or CSV (UTF-8 BOM).")
@click.option("--type", "type_", help="咨询|求助|投诉|举报|建议")
@click.option("--difficulty", help="simple|normal|complex")
@click.option("--department", help="department code")
@click.option("--channel", help="phone|grid|online|platform|web")
@click.option("--category")
@click.option("--status")
@click.option("--overdue", is_flag=True, help="only cases past their deadline that still owe the reply")
@click.option("--tier", help="current supervision tier 1|2|3")
@click.option("--grid")
@click.option("--co-handler", help="unit code: cases that unit co-handles (联动处置 协办单位)")
@click.option("--person", help="username: the cases down to that person (责任人: assigned now, or who replied)")
@click.option("--date-field", default="registered", show_default=True, help="registered|closed")
@click.option("--from", "start", help="YYYY-MM-DD")
@click.option("--to", "end", help="YYYY-MM-DD")
@click.option("--kpi", help="drill-down: the cases behind a KPI (with --part num|den and --from/--to)")
@click.option("--part", help="num|den")
@click.option("--format", "fmt", required=True, help="xlsx|csv")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--user", help="export as this user: their department scope; unmasked phones if their role may")
@user_errors
def ledger_export(type_, difficulty, department, channel, category, status, overdue, tier, grid, co_handler, person,
                  date_field, start, end, kpi, part, fmt, out, user) -> None:
    from .exports import export_ledger
    args = {"type": type_, "difficulty": difficulty, "department": department, "channel": channel,
            "category": category, "status": status, "overdue": "1" if overdue else None, "tier": tier,
            "grid": grid, "co_handler": co_handler, "person": person, "date_field": date_field, "from": start, "to": end, "kpi": kpi, "part": part}
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise Invalid(f"cannot write {out}: no writable folder {folder}")  # before any work
    with _opened() as core:
        result = export_ledger(core, args=args, fmt=fmt, out=out, user=_user(core, user), source="cli")
    _emit({"rows": result["rows"], "out": out})


@main.command("kpi", help="KPIs for a date range, totals and per department|channel|type|category|grid|person.")
@click.option("--from", "start", required=True, help="YYYY-MM-DD")
@click.option("--to", "end", required=True, help="YYYY-MM-DD")
@click.option("--by", help="department|channel|type|category|grid|person (责任人: who replied, or holds the case now)")
@click.option("--user", help="compute as this user (a handler sees only their department)")
@user_errors
def kpi(start, end, by, user) -> None:
    from ..cases.visibility import case_scope
    from .kpis import compute_kpis, parse_range
    first, last = parse_range(start, end)
    with _opened() as core:
        person = _user(core, user)
        with core.db.read() as session:
            _emit(compute_kpis(session, start=first, end=last, by=by,
                               scope=case_scope(person) if person is not None else None))
