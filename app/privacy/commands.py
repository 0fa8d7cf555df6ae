"""``bihuan keys ...``: the keys of residents' personal data (registered from app/cli.py)."""
from __future__ import annotations

import click

from ..cli import _emit, _opened, user_errors
from . import crypto, rotation


@click.group(help="Encryption keys of personal data (BIHUAN_DATA_KEYS, BIHUAN_INDEX_KEY).")
def keys() -> None:
    pass


@keys.command("generate", help="Print a new random 256-bit key (base64) to put in the environment.")
def keys_generate() -> None:
    _emit({"key": crypto.new_key()})


@keys.command("rotate", help="Re-encrypt every reporter field under the first key of BIHUAN_DATA_KEYS.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--reindex", is_flag=True, help="Also recompute every phone blind index (after BIHUAN_INDEX_KEY changed).")
@user_errors
def keys_rotate(batch: int, reindex: bool) -> None:
    with _opened() as core:
        _emit(rotation.rotate(core.db, batch=batch, reindex=reindex))


@keys.command("status", help="How many stored values each key holds.")
@user_errors
def keys_status() -> None:
    with _opened() as core:
        _emit(rotation.status(core.db))


@click.group(help="Residents' personal data: retention.")
def privacy() -> None:
    pass


@privacy.command("erase-due", help="Erase the personal data of cases closed longer ago than the retention period.")
@click.option("--dry-run", is_flag=True, help="Only count the cases that are due.")
@user_errors
def privacy_erase_due(dry_run: bool) -> None:
    from .retention import erase_due
    with _opened() as core:
        _emit(erase_due(core.db, dry_run=dry_run))
