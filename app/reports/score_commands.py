"""``bihuan score month|close`` and ``bihuan report weekly``: JSON on stdout, one stderr line on a user error.

Registered on the ``bihuan`` group by importing this module at the end of app/cli.py.
"""
from __future__ import annotations

from pathlib import Path

import click

from workflows.clock import utcnow

from ..cli import _emit, _opened, main, user_errors
from ..errors import Invalid


@main.group(help="Department scoring (考核计分).")
def score() -> None:
    pass


@score.command("month", help="The ranking of a month with points per department (frozen once closed).")
@click.argument("month")
@user_errors
def score_month(month: str) -> None:
    from .scoring import month_scores
    with _opened() as core:
        with core.db.read() as session:
            _emit(month_scores(core, session, month))


@score.command("close", help="Freeze a month that has ended, with the rules version used.")
@click.argument("month")
@click.option("--user", default="cli")
@user_errors
def score_close(month: str, user: str) -> None:
    from .scoring import close_month
    with _opened() as core:
        result = close_month(core, month, actor=user)
    _emit({k: result[k] for k in ("month", "closed", "closed_at", "closed_by", "rules_version", "rules_hash")}
          | {"rows": [{k: r[k] for k in ("rank", "department", "name", "score", "counts", "points")}
                      for r in result["rows"]]})


@main.group(help="Reports (调度研判专报).")
def report() -> None:
    pass


@report.command("weekly", help="The weekly report of a week (default: last week); stored once the week ended.")
@click.option("--week", help="YYYY-Www, e.g. 2026-W48")
@click.option("--format", "fmt", help="html|docx|xlsx: write this format to --out")
@click.option("--out", type=click.Path(dir_okay=False), help="file to write (needs --format)")
@click.option("--user", default="cli")
@user_errors
def report_weekly(week, fmt, out, user) -> None:
    from .periods import local_date, previous_week, week_of
    from .weekly_store import FORMATS, weekly_report
    if bool(fmt) != bool(out):
        raise Invalid("--format and --out go together")
    if fmt and fmt not in FORMATS:  # checked here, not by click: a user error is one line on stderr
        raise Invalid(f"unknown format '{fmt}': use html, docx or xlsx")
    week = week or previous_week(week_of(local_date(utcnow()))).key
    with _opened() as core:
        result = weekly_report(core, week, actor=user)
    figures = result["figures"]
    summary = {"period": result["period"], "stored": result["stored"], "number": figures["number"],
               "total": figures["total"], "key_items": len(figures["key_items"])}
    if out:
        content = result["files"][fmt]
        try:
            Path(out).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        except OSError as exc:
            raise Invalid(f"cannot write {out}: {exc.strerror}") from None
        summary.update({"format": fmt, "out": out})
    _emit(summary)
