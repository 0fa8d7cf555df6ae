"""``bihuan notify ...``: send the queued notifications now, and list a user's."""
from __future__ import annotations

import click

from ..cli import _emit, _opened, user_errors


@click.group(help="Notifications: the in-app list and the outbox of email, robot and SMS messages.")
def notify() -> None:
    pass


@notify.command("drain", help="Send every due outbox message now (the scheduler does this every 30 s).")
@user_errors
def notify_drain() -> None:
    from .outbox import drain
    with _opened() as core:
        _emit(drain(core))


@notify.command("list", help="A user's newest notifications.")
@click.option("--user", required=True)
@click.option("--unread", is_flag=True, help="Only the unread ones.")
@user_errors
def notify_list(user, unread) -> None:
    from ..auth.services import find_user
    from .services import recent, render
    with _opened() as core:
        with core.db.read() as session:
            person = find_user(session, user)
            _emit([{"id": n.id, "kind": n.kind, "case": n.case_number, "text": render(n.kind, n.params or {}),
                    "at": n.created_at.isoformat(timespec="seconds"), "read": n.read_at is not None}
                   for n in recent(session, person.id, unread_only=unread)])
