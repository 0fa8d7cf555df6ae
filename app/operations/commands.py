"""``bihuan backup``, ``restore``, ``check`` and ``archive`` (registered in app/cli.py)."""
from __future__ import annotations

import sys

import click

from ..cli import _emit, _opened, user_errors

EXIT_FINDINGS = 2  # distinct from 1, a user error: the check ran and found something


@click.command("backup", help="Back the database up into FILE (SQLite: online backup; PostgreSQL: pg_dump -Fc).")
@click.argument("file", type=click.Path(dir_okay=False))
@user_errors
def backup(file: str) -> None:
    from ..db import default_database_url
    from .backup import backup as run
    _emit(run(default_database_url(), file))


@click.command("restore", help="Restore FILE into the database; refuses a database with data unless --force.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="replace a database that already holds cases or users")
@user_errors
def restore(file: str, force: bool) -> None:
    from ..db import default_database_url
    from .backup import restore as run
    _emit(run(default_database_url(), file, force=force))


@click.command("check", help="Do case columns, ready tasks, supervision items and audit rows agree with the "
                             "engine state, for every case? Prints the findings (JSON list); exit 2 if any.")
@click.option("--batch", type=click.IntRange(10, 5000), default=200, show_default=True)
@click.option("--strict", is_flag=True, help="compare every column of finished cases too, not only the status")
@user_errors
def check(batch: int, strict: bool) -> None:
    from .check import check as run
    with _opened() as core:
        findings = list(run(core, batch=batch, strict=strict))
    _emit(findings)
    click.echo(f"{len(findings)} finding(s)", err=True)
    if findings:
        sys.exit(EXIT_FINDINGS)


@click.command("archive", help="Move the engine state of cases closed before DATE out of the hot table "
                               "(their columns, audit and KPIs stay; the case page still shows them).")
@click.option("--closed-before", "closed_before", required=True, metavar="YYYY-MM-DD")
@click.option("--limit", type=click.IntRange(1), help="at most this many cases in this run")
@user_errors
def archive(closed_before: str, limit: int | None) -> None:
    from .archive import archive_closed, parse_cutoff
    cutoff = parse_cutoff(closed_before)
    with _opened() as core:
        _emit(archive_closed(core, cutoff, limit=limit))
