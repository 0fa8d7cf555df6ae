"""Departments and grids: who handles cases and where they come from."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The department's WeCom/DingTalk group robot URL, for notifications (app/notifications/channels.py).
    robot_webhook: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # department, community or outside (an organisation registered as a unit for 联动处置; app/joint)
    kind: Mapped[str] = mapped_column(String(20), default="department", server_default="department")


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    community: Mapped[str] = mapped_column(String(100), default="")
