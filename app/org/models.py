"""The organisation: departments, the territory tree (街道 → 社区 → 网格 → 微网格 → 居民小组) and the
1+1+N grid teams.

Grids keep their own table (cases, users and many pages know a grid by its code in ``grids``);
every level of the tree, grids included, is also a row of ``org_units`` so the tree is one
self-contained list of (code, name, level, parent). The grid row carries what only grids have:
the polygon and the household/resident counts.
"""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# Level identifiers from the glossary, in tree order (a node's parent is exactly one level up).
LEVELS = ("subdistrict", "community", "grid", "micro_grid", "resident_group")
LEVEL_LABELS = {"subdistrict": "街道", "community": "社区", "grid": "网格", "micro_grid": "微网格",
                "resident_group": "居民小组"}
# The 1+1+N team positions.
TEAM_ROLES = ("grid_leader", "grid_worker", "professional_grid_worker")
TEAM_ROLE_LABELS = {"grid_leader": "网格长", "grid_worker": "专职网格员", "professional_grid_worker": "专业网格员"}


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The department's WeCom/DingTalk group robot URL, for notifications (app/notifications/channels.py).
    robot_webhook: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # department, community or outside (an organisation registered as a unit for 联动处置; app/joint)
    kind: Mapped[str] = mapped_column(String(20), default="department", server_default="department")
    # A deactivated unit keeps its history (cases, parts) but is offered for no new 联动处置 part
    # (app/joint/units.py; migration 0036).
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The community's name, kept for the pages that show it next to the grid (the tree has the code).
    community: Mapped[str] = mapped_column(String(100), default="")
    # A GeoJSON Polygon or MultiPolygon geometry (longitude, latitude), as text; None: not drawn.
    geometry: Mapped[str | None] = mapped_column(Text, nullable=True)
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    residents: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OrgUnit(Base):
    """One node of the territory tree. A grid-level node has a row of the same code in ``grids``."""
    __tablename__ = "org_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)


class GridTeamMember(Base):
    """One person's place in one grid's 1+1+N team; a person may serve several grids."""
    __tablename__ = "grid_team_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    grid: Mapped[str] = mapped_column(String(50), ForeignKey("grids.code", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))
    username: Mapped[str] = mapped_column(String(50), ForeignKey("users.username", ondelete="CASCADE"), index=True)
    # Professionals only: the department that seconds them and their field (消防, 食品安全, ...).
    department: Mapped[str | None] = mapped_column(String(50), ForeignKey("departments.code"), nullable=True)
    field: Mapped[str | None] = mapped_column(String(50), nullable=True)

    # The routing lookup (grid, field) → person is one probe of this index.
    __table_args__ = (UniqueConstraint("grid", "role", "username", "field", name="uq_grid_team_members_member"),
                      Index("ix_grid_team_members_grid_field", "grid", "field"))
