"""``bihuan api ...``: client systems, their keys and webhooks, and the webhook outbox."""
from __future__ import annotations

import click

from ..cli import _emit, _opened, user_errors


@click.group(help="The JSON API: client systems, API keys, webhooks.")
def api() -> None:
    pass


@api.group(help="Client systems that call the API.")
def client() -> None:
    pass


def _scopes(value: str) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


@client.command("add", help="Register a client system (scopes: intake,read,tasks,reports).")
@click.argument("name")
@click.option("--scopes", required=True, help="Comma-separated: intake, read, tasks, reports.")
@click.option("--department", default=None, help="Restrict the client to one department (code).")
@click.option("--description", default="")
@click.option("--rate-limit", type=int, default=None, help="Requests per minute per key (default: the app's).")
@click.option("--user", default="cli", help="Who registers it (for the audit log).")
@user_errors
def client_add(name, scopes, department, description, rate_limit, user) -> None:
    from .keys import register_client
    with _opened() as core:
        with core.db.unit_of_work() as session:
            row = register_client(session, name, _scopes(scopes), actor=user, department=department,
                                  description=description, rate_limit=rate_limit)
            _emit({"client": row.name, "scopes": row.scopes, "department": row.department,
                   "account": f"api-{row.name}"})


@client.command("list", help="Client systems, their keys (prefixes only) and webhooks.")
@user_errors
def client_list() -> None:
    from .keys import list_clients
    with _opened() as core:
        with core.db.read() as session:
            _emit(list_clients(session))


@client.command("disable", help="Stop a client system: its keys stop working at once.")
@click.argument("name")
@click.option("--user", default="cli")
@user_errors
def client_disable(name, user) -> None:
    from .keys import set_client_active
    with _opened() as core:
        with core.db.unit_of_work() as session:
            set_client_active(session, name, False, actor=user)
            _emit({"client": name, "active": False})


@api.group(help="API keys.")
def key() -> None:
    pass


@key.command("create", help="A new key for CLIENT, printed once; only its hash is kept.")
@click.argument("client_name", metavar="CLIENT")
@click.option("--user", default="cli")
@user_errors
def key_create(client_name, user) -> None:
    from .keys import create_key
    with _opened() as core:
        with core.db.unit_of_work() as session:
            raw = create_key(session, client_name, actor=user)
    _emit({"client": client_name, "prefix": raw.split("_")[1], "key": raw,
           "note": "shown once: store it now; Bihuan keeps only its hash"})


@key.command("revoke", help="Revoke a key by its prefix (the part after bh_).")
@click.argument("prefix")
@click.option("--user", default="cli")
@user_errors
def key_revoke(prefix, user) -> None:
    from .keys import revoke_key
    with _opened() as core:
        with core.db.unit_of_work() as session:
            row = revoke_key(session, prefix, actor=user)
            _emit({"prefix": row.prefix, "revoked_at": row.revoked_at.isoformat(timespec="seconds")})


@api.group(help="Webhooks out.")
def webhook() -> None:
    pass


@webhook.command("set", help="Subscribe CLIENT to events at URL (no --url: unsubscribe).")
@click.argument("client_name", metavar="CLIENT")
@click.option("--url", default="")
@click.option("--events", default="case.registered,case.dispatched,case.replied,case.closed,case.escalated")
@click.option("--new-secret", is_flag=True, help="Replace the signing secret.")
@click.option("--user", default="cli")
@user_errors
def webhook_set(client_name, url, events, new_secret, user) -> None:
    from .keys import set_webhook
    with _opened() as core:
        with core.db.unit_of_work() as session:
            secret = set_webhook(session, client_name, url, _scopes(events), actor=user, new_secret=new_secret)
    result = {"client": client_name, "url": url or None}
    if secret:
        result.update(secret=secret, note="shown once: the receiver verifies X-Bihuan-Signature with it")
    _emit(result)


@webhook.command("drain", help="Send every due webhook delivery now (the scheduler does this every 10 s).")
@user_errors
def webhook_drain() -> None:
    from .webhooks import drain
    with _opened() as core:
        _emit(drain(core))
