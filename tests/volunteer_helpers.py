"""Shared set-up for the volunteer tests: volunteers, activities and staff through the real services."""
from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher

from app.volunteers import accounts, activities
from app.volunteers.models import Reward, Volunteer

SECRET = "test"  # the test app's SECRET_KEY: tokens minted here work on its pages
PASSWORD = "bihuan123"
_HASH = PasswordHasher().hash(PASSWORD)
ORGANISER = accounts.Staff("organiser", frozenset({"volunteer_organiser"}), "和平社区")
OTHER_ORGANISER = accounts.Staff("organiser2", frozenset({"volunteer_organiser"}), "光明社区")
OFFICE = accounts.Staff("volunteer_admin", frozenset({"volunteer_admin"}))


def volunteer(core, phone: str, community: str = "和平社区", recruiter: str | None = None, name: str = "李志愿") -> int:
    with core.db.unit_of_work() as session:
        return accounts.register(session, name=name, phone=phone, password="", community=community,
                                 check_password=False, password_hash=_HASH, recruiter_phone=recruiter).id


def activity(core, start: datetime, end: datetime, type: str = "general", community: str = "和平社区",
             capacity: int = 30, staff=ORGANISER) -> int:
    with core.db.unit_of_work() as session:
        return activities.publish(session, staff, title=f"{activities.TYPES[type]}志愿活动", type=type, place="党群服务中心",
                                  community=community, starts_at=start, ends_at=end, capacity=capacity).id


def token(core, activity_id: int, action: str = "in") -> str:
    with core.db.read() as session:
        return activities.mint_token(SECRET, activities.get_activity(session, activity_id), action)[0]


def check(core, volunteer_id: int, activity_id: int, action: str = "in", tok: str | None = None):
    tok = tok if tok is not None else token(core, activity_id, action)
    with core.db.unit_of_work() as session:
        return activities.check(session, SECRET, session.get(Volunteer, volunteer_id), activity_id, action, tok).id


def confirm(core, signup_id: int, staff=ORGANISER):
    with core.db.unit_of_work() as session:
        signup = activities.confirm(core, session, staff, signup_id)
        return signup.hours


def reward(core, price: float, stock: int, name: str = "大米 10kg", value: float = 60) -> int:
    with core.db.unit_of_work() as session:
        row = Reward(name=name, kind="goods", points_price=price, money_value=value, stock=stock, description="",
                     active=True)
        session.add(row)
        session.flush()
        return row.id
