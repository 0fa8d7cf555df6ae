"""``bihuan audit verify``: recompute the audit log's hash chain (registered from app/cli.py)."""
from __future__ import annotations

import sys

import click

from ..cli import _emit, _opened, user_errors
from . import chain

EXIT_BROKEN = 3  # distinct from a user error (1): the command worked and found a broken chain


@click.group(help="The audit log: tamper-evidence.")
def audit() -> None:
    pass


@audit.command("verify", help="Recompute the hash chain; report the first broken row (exit 3 if any).")
@user_errors
def audit_verify() -> None:
    with _opened() as core:
        with core.db.read() as session:
            result = chain.verify(session)
    _emit(result)
    if not result["ok"]:
        sys.exit(EXIT_BROKEN)
