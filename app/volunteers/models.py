"""Volunteers and their points. Volunteers are not staff users: they log in at /v/ with a phone.

The ledger (``vol_ledger``) is append-only: a balance is always the sum of a volunteer's entries,
never a stored number, and a correction is a new entry that reverses an old one.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..privacy.crypto import EncryptedText


class Federation(Base):
    __tablename__ = "vol_federations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Team(Base):
    __tablename__ = "vol_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    federation_id: Mapped[int | None] = mapped_column(ForeignKey("vol_federations.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    community: Mapped[str] = mapped_column(String(50), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The team's leader (队长): one of its own volunteers, chosen by the office.
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteers.id", use_alter=True, ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Volunteer(Base):
    __tablename__ = "volunteers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(EncryptedText("volunteers.name"))
    phone: Mapped[str] = mapped_column(EncryptedText("volunteers.phone"))
    # HMAC of the normalised phone (app/privacy/crypto.py): login looks a volunteer up without plaintext.
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    community: Mapped[str] = mapped_column(String(50), index=True)
    skills: Mapped[str] = mapped_column(String(500), default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("vol_teams.id"), nullable=True, index=True)
    recruited_by_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ResetCode(Base):
    """A one-time password reset code the office or the volunteer's organiser issued. Only its SHA-256 is
    stored (the code is shown once, to the staff member who hands it over); used at most once, and a newer
    code for the same volunteer ends the older ones."""
    __tablename__ = "vol_reset_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(50))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Organiser(Base):
    """Which community a staff user with ``volunteer_organiser`` organises (their scope)."""
    __tablename__ = "vol_organisers"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    community: Mapped[str] = mapped_column(String(50))


class Activity(Base):
    __tablename__ = "vol_activities"
    __table_args__ = (Index("ix_vol_activities_community_starts_at", "community", "starts_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30))  # general, emergency, elderly_care, ... (the DMN's input)
    place: Mapped[str] = mapped_column(String(200))
    community: Mapped[str] = mapped_column(String(50))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("vol_teams.id"), nullable=True, index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    points_rule: Mapped[str] = mapped_column(String(30), default="standard")
    status: Mapped[str] = mapped_column(String(20), default="published")  # published, cancelled
    # Bumped each time the organiser shows a fresh QR code: older codes of this activity stop working.
    qr_session: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Signup(Base):
    """One volunteer at one activity: sign-up, check-in/out, the organiser's confirmation and rating."""
    __tablename__ = "vol_signups"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id", name="uq_vol_signups_activity_volunteer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("vol_activities.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(50), nullable=True)
    hours: Mapped[float | None] = mapped_column(Float, nullable=True)  # counted hours (overlap removed, capped)
    rating: Mapped[str | None] = mapped_column(String(20), nullable=True)  # good, excellent, complaint, no_show
    rating_note: Mapped[str] = mapped_column(String(500), default="")
    rated_by: Mapped[str | None] = mapped_column(String(50), nullable=True)


class LedgerEntry(Base):
    """One credit (points > 0) or debit (points < 0). Never updated, never deleted."""
    __tablename__ = "vol_ledger"
    # (volunteer_id, id): a volunteer's history newest first; (volunteer_id, points): the balance, a SUM
    # read from the index alone (10 000 entries in a few milliseconds, bench/volunteers.py).
    # (reason, at, points): points issued and expired in a range (dashboard, weekly 专报) from the index alone.
    __table_args__ = (Index("ix_vol_ledger_volunteer_id_id", "volunteer_id", "id"),
                      Index("ix_vol_ledger_volunteer_id_points", "volunteer_id", "points"),
                      Index("ix_vol_ledger_reason_at_points", "reason", "at", "points"))
    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    kind: Mapped[str] = mapped_column(String(10))  # credit, debit
    points: Mapped[float] = mapped_column(Float)
    # service, recruit, redemption_reserve, redemption_release, expiry, correction
    reason: Mapped[str] = mapped_column(String(30))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("vol_activities.id"), nullable=True, index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("vol_redemptions.id"), nullable=True, index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("vol_ledger.id"), nullable=True, unique=True)
    # The year the points were earned (credits, and reversals of credits): what expiry counts by.
    earned_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # process version of the DMN
    confirmed_by: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Reward(Base):
    __tablename__ = "vol_rewards"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # goods, medical
    points_price: Mapped[float] = mapped_column(Float)
    money_value: Mapped[float] = mapped_column(Float, default=0)  # yuan, for the reports
    stock: Mapped[int] = mapped_column(Integer, default=0)  # what is left to promise (reserved at application)
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Redemption(Base):
    """One application to redeem, and its own instance of volunteer_redemption.bpmn."""
    __tablename__ = "vol_redemptions"
    # (status, finished_at): what was handed over in a range, for the dashboard and the weekly 专报.
    __table_args__ = (Index("ix_vol_redemptions_volunteer_id_quarter", "volunteer_id", "quarter"),
                      Index("ix_vol_redemptions_status_finished_at", "status", "finished_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("vol_rewards.id"), index=True)
    community: Mapped[str] = mapped_column(String(50), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[float] = mapped_column(Float)
    money_value: Mapped[float] = mapped_column(Float, default=0)
    quarter: Mapped[str] = mapped_column(String(7))  # 2026Q4, Shanghai time of the application
    # applied, approved, handed_over, rejected, timed_out
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")  # why it was rejected
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handed_over_by: Mapped[str | None] = mapped_column(String(50), nullable=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    current_task: Mapped[str | None] = mapped_column(String(50), nullable=True)  # the ready user task's BPMN id
    current_task_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

