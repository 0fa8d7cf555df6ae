"""``bihuan joint ...``: 批示督办, the joint meeting and disposal records, and units (JSON on stdout)."""
from __future__ import annotations

import json

import click

from ..cli import _emit, _opened, user_errors
from ..errors import Invalid
from .models import UNIT_KINDS


@click.group(help="联动处置 (joint disposal) records, 批示督办 (leaders' instructions) and co-handling units.")
def joint() -> None:
    pass


@joint.command("instruct", help="Mark open case NUMBER 批示督办: a tier-3 item now, the leader's sign-off before closing.")
@click.argument("number")
@click.option("--user", required=True, help="The instructing leader (role leader or supervisor_party).")
@click.option("--text", required=True, help="The instruction.")
@click.option("--deadline", required=True, help="YYYY-MM-DD (Asia/Shanghai, end of that day).")
@user_errors
def instruct(number, user, text, deadline) -> None:
    from .services import JointService
    with _opened() as core:
        _emit(JointService(core).instruct(number, user=user, text=text, deadline=deadline))


@joint.command("meeting", help="Record the joint meeting (专题会议) of case NUMBER.")
@click.argument("number")
@click.option("--user", required=True)
@click.option("--date", "held_on", required=True, help="YYYY-MM-DD")
@click.option("--units", required=True, help="unit codes present, comma separated")
@click.option("--decisions", required=True)
@click.option("--action", "actions", multiple=True, help="UNIT:ACTION, repeatable")
@user_errors
def meeting(number, user, held_on, units, decisions, actions) -> None:
    from .services import JointService
    parsed = []
    for entry in actions:
        unit, sep, action = entry.partition(":")
        if not sep:
            raise Invalid(f"--action '{entry}' is not UNIT:ACTION")
        parsed.append({"unit": unit.strip(), "action": action.strip()})
    with _opened() as core:
        _emit(JointService(core).record_meeting(number, user=user, held_on=held_on,
                                                units=[u.strip() for u in units.split(",") if u.strip()],
                                                decisions=decisions, actions=parsed))


@joint.command("disposal", help="Record the disposal (处置记录) of case NUMBER; quantities per disposal_fields.dmn.")
@click.argument("number")
@click.option("--user", required=True)
@click.option("--people", "people_deployed", required=True, type=int)
@click.option("--quantities", default="{}", help='JSON, e.g. {"structures_removed": 9, "truckloads_cleared": 10}')
@click.option("--note", default=None)
@user_errors
def disposal(number, user, people_deployed, quantities, note) -> None:
    from .services import JointService
    try:
        values = json.loads(quantities)
    except ValueError:
        raise Invalid("--quantities is not JSON") from None
    with _opened() as core:
        _emit(JointService(core).record_disposal(number, user=user, people_deployed=people_deployed,
                                                 quantities=values, note=note))


@joint.command("unit", help="Register (or rename) a unit that can co-handle cases; admin only.")
@click.argument("code")
@click.argument("name")
@click.option("--kind", type=click.Choice(sorted(UNIT_KINDS)), default="outside", show_default=True)
@click.option("--user", required=True)
@user_errors
def unit(code, name, kind, user) -> None:
    from .services import JointService
    with _opened() as core:
        _emit(JointService(core).register_unit(user=user, code=code, name=name, kind=kind))
