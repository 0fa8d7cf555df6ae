"""``bihuan org export FILE.xlsx`` and ``bihuan org import FILE.xlsx [--apply]`` (dry run by default).

JSON on stdout; a rejected file is one ``error: ...`` line on stderr naming the rows, exit 1.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..cli import _emit, _opened, user_errors
from ..errors import Invalid
from . import services
from .exchange import MAX_FILE_BYTES


@click.group(help="组织架构: the territory tree and the 1+1+N grid teams as .xlsx.")
def org() -> None:
    pass


@org.command("export", help="Write the tree and the teams to FILE.xlsx.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@user_errors
def export(path: str) -> None:
    with _opened() as core:
        content = services.export_xlsx(core)
    try:
        Path(path).write_bytes(content)
    except OSError as exc:
        raise Invalid(f"cannot write '{path}': {exc.strerror}") from None
    with _opened() as core, core.db.read() as session:
        counts = services.tree(session)["counts"]
    _emit({"file": path, "bytes": len(content), "nodes": counts})


@org.command("import", help="Check FILE.xlsx and list what it would add, change, remove; --apply writes it.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--apply", "apply_", is_flag=True, help="Write the changes (default: a dry run).")
@click.option("--user", default="admin", show_default=True, help="The administrator doing the import (audited).")
@user_errors
def import_(path: str, apply_: bool, user: str) -> None:
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Invalid(f"cannot read '{path}': {exc.strerror}") from None
    with _opened() as core:
        _emit(services.import_xlsx(core, content, actor=user, apply=apply_, source="cli"))
