"""``bihuan import opinion FILE.xlsx [--apply]``: online-opinion rows become ``online`` cases."""
from __future__ import annotations

from pathlib import Path

import click

from ..cli import _emit, _fail, _opened, user_errors
from ..errors import Invalid


@click.group("import", help="Import feeds from other systems (online opinion spreadsheets).")
def import_group() -> None:
    pass


@import_group.command("opinion", help="Register each row of a 网络舆情 spreadsheet (.xlsx) as an online case; "
                      "rows already imported (same URL) are skipped. Without --apply: a dry run.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--apply", "apply_", is_flag=True, help="Register the cases (default: only show what would happen).")
@click.option("--user", default=None, help="Register as this user (operator, dispatcher, admin).")
@user_errors
def import_opinion_command(file, apply_, user) -> None:
    from .opinion import MAX_BYTES, import_opinion
    path = Path(file)
    if not path.is_file():
        raise Invalid(f"no such file: {file}")
    if path.stat().st_size > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    with _opened() as core:
        report = import_opinion(core, path.read_bytes(), user=user, apply=apply_, source="cli")
    _emit(report.as_dict())
    if report.errors:
        _fail(f"{len(report.errors)} bad row(s) (first: row {report.errors[0]['row']}: "
              f"{report.errors[0]['message']}); nothing imported")
