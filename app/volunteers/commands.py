"""``bihuan volunteers ...``: demo data, the timer and expiry sweeps, totals, a volunteer's balance."""
from __future__ import annotations

import click

from ..calendar.services import iso_day
from ..cli import _emit, _opened, user_errors
from ..errors import Invalid


@click.group(help="志愿者积分: volunteers, activities, points and redemptions.")
def volunteers() -> None:
    pass


@volunteers.command("demo", help="The demo federation, 80 teams, ~1 000 volunteers, 400 past activities, rewards.")
@click.option("--volunteers", "count", type=int, default=1000, show_default=True)
@click.option("--activities", type=int, default=400, show_default=True)
@user_errors
def demo(count: int, activities: int) -> None:
    from .demo import seed_volunteers
    if count < 1 or activities < 0:
        raise Invalid("--volunteers must be at least 1 and --activities not negative")
    with _opened() as core:
        _emit(seed_volunteers(core, volunteers=count, activities=activities))


@volunteers.command("sweep", help="Fire due redemption timers and post due points expiry now (the scheduler does this).")
@user_errors
def sweep() -> None:
    from .ledger import post_expiry
    from .redemption import fire_due
    with _opened() as core:
        _emit({"timers_fired": fire_due(core), "expiry": post_expiry(core)})


@volunteers.command("totals", help="Totals for a range, by community and team.")
@click.option("--from", "start", required=True)
@click.option("--to", "end", required=True)
@user_errors
def totals(start: str, end: str) -> None:
    from .reports import totals as compute
    try:
        first, last = iso_day(start), iso_day(end)
    except ValueError:
        raise Invalid("dates must be YYYY-MM-DD") from None
    with _opened() as core, core.db.read() as session:
        _emit(compute(session, first, last))


@volunteers.command("balance", help="A volunteer's balance and newest ledger entries, by phone.")
@click.argument("phone")
@user_errors
def balance(phone: str) -> None:
    from .accounts import find_by_phone
    from .ledger import balance as sum_of, history
    with _opened() as core, core.db.read() as session:
        volunteer = find_by_phone(session, phone)
        if volunteer is None:
            raise Invalid("no volunteer has that phone number")
        _emit({"balance": sum_of(session, volunteer.id),
               "history": [{"at": e.at.isoformat(), "points": e.points, "reason": e.reason, "note": e.note}
                           for e in history(session, volunteer.id, limit=20)]})
