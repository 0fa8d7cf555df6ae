"""``bihuan attachments clean``: the nightly 附件清理 on demand (app/attachments/cleanup.py), e.g. after
a large import was rolled back; JSON on stdout, one stderr line on a user error."""
from __future__ import annotations

from datetime import timedelta

import click

from ..cli import _emit, _opened, user_errors
from ..errors import Invalid


@click.group(help="Attachments (附件).")
def attachments() -> None:
    pass


@attachments.command("clean", help="Delete the stored files no attachment names, older than --grace-hours "
                                   "(the store of BIHUAN_ATTACHMENTS_*, as the web app and the scheduler use).")
@click.option("--grace-hours", default=24, show_default=True, type=int,
              help="Files younger than this are kept (an upload whose action has not committed yet).")
@user_errors
def attachments_clean(grace_hours: int) -> None:
    from .cleanup import remove_unreferenced
    from .settings import AttachmentSettings
    from .storage import storage_from_settings
    if grace_hours < 1:
        raise Invalid("--grace-hours must be at least 1: a younger file may belong to an upload under way")
    storage = storage_from_settings(AttachmentSettings.from_environment())
    with _opened() as core:
        _emit(remove_unreferenced(core, storage, grace=timedelta(hours=grace_hours)))
