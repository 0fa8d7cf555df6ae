"""Users and their roles."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime
from ..privacy.crypto import EncryptedText

ROLES = {
    "admin": "系统管理员",
    "designer": "流程设计员",
    "operator": "受理员",
    "dispatcher": "指挥中心",
    "handler": "承办部门",
    "supervisor_center": "社会治理中心（一级督办）",
    "supervisor_discipline": "纪工委（二级督办）",
    "supervisor_party": "党工委（三级督办）",
    "grid_worker": "网格员",
    "viewer": "领导/查看",
    "volunteer_organiser": "志愿服务组织者（社区）",
    "volunteer_admin": "志愿服务办公室",
    "inspector": "社会治理督查组",
    "leader": "分管领导（批示督办）",
}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(50), ForeignKey("departments.code"), nullable=True)
    grid: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # Where outbound notifications reach this person (app/notifications); empty: in-app only.
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    mobile: Mapped[str | None] = mapped_column(String(30), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by logout, a password change and deactivation: sessions issued before stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The second factor (app/auth/totp.py): the authenticator's secret, encrypted at rest, and the
    # last time step accepted, so that no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("users.totp_secret"), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role_rows: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class LoginAttempt(Base):
    """Failed logins, kept in the database so that throttling holds across several web workers."""
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_remote_addr_at", "remote_addr", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
