"""``bihuan call attach NUMBER``: a repeat call (回头件) counted on its case, or reopening it as 重办."""
from __future__ import annotations

import click

from ..cli import _emit, _opened, user_errors


@click.group(help="Repeat calls (回头件) about a registered case.")
def call() -> None:
    pass


@call.command("attach", help="Count a call on case NUMBER (催单); --reopen reopens a closed case as 重办.")
@click.argument("number")
@click.option("--user", required=True, help="Who took the call (operator, dispatcher ...).")
@click.option("--text", required=True, help="What the caller said.")
@click.option("--channel", default="phone", show_default=True)
@click.option("--phone", default=None, help="The caller's number.")
@click.option("--reopen", is_flag=True)
@user_errors
def call_attach(number, user, text, channel, phone, reopen) -> None:
    from .repeat_calls import attach_call
    with _opened() as core:
        _emit(attach_call(core, number, user=user, text=text, channel=channel, reporter_phone=phone, reopen=reopen))
