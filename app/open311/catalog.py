"""Open311 services are Bihuan's categories: the ones the routing table (bpmn/rules/routing.dmn of
the latest deployed version) knows, each handled by the department it routes to, plus ``general``
for a request whose category the center decides at 派单. The request type (咨询/求助/投诉/举报/建议)
is the service definition's one attribute, ``request_type``.

A service code is a stable ASCII name: the shipped categories have fixed ones; a category a
designer adds gets ``c_`` and the first 10 hex digits of its name's SHA-1, so the code does not
move when rules are reordered.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.bundle import read_directory
from workflows.model import Bundle, hash_files
from workflows.rules import DecisionError, evaluate, input_values

from ..cases.models import TYPES
from ..org.models import Department
from ..processes.services import SHIPPED_BUNDLE, latest_version

GENERAL = "general"
GENERAL_NAME = "其他诉求"
SHIPPED_CODES = {"城市管理": "city_management", "环境卫生": "sanitation", "市容环境": "cityscape",
                 "物业管理": "property_management", "邻里纠纷": "neighbour_dispute", "治安": "public_security",
                 "消防安全": "fire_safety", "劳动保障": "labour_security", "民政救助": "social_assistance",
                 "市场监管": "market_supervision", "房屋建设": "housing_construction",
                 # the grid fields' categories (grid_fields.dmn)
                 "食品安全": "food_safety", "安全生产": "work_safety", "环境污染": "environmental_pollution",
                 "国土资源": "land_resources"}
DEFAULT_TYPE = "complaint"


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    category: str | None
    department: str | None   # the department's name, the service's group

    @property
    def description(self) -> str:
        if self.category is None:
            return "其他方面的诉求，由社会治理联动指挥中心分类后派至承办部门"
        return f"{self.name}方面的诉求" + (f"，一般由{self.department}承办" if self.department else "")

    @property
    def keywords(self) -> str:
        return ", ".join(k for k in (self.name, self.department) if k)


def code_for(category: str | None) -> str:
    if not category:
        return GENERAL
    return SHIPPED_CODES.get(category) or "c_" + hashlib.sha1(category.encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=1)
def _shipped_rules() -> Bundle:
    files = {name: content for name, content in read_directory(SHIPPED_BUNDLE).items() if name.endswith(".dmn")}
    return Bundle(files=files, content_hash=hash_files(files))


_ROUTED: dict[str, list[tuple[str, str | None]]] = {}  # bundle hash -> [(category, department code)]


def _routed(core, bundle: Bundle) -> list[tuple[str, str | None]]:
    # A deployed version never changes: its table is evaluated once per process, not per request.
    cached = _ROUTED.get(bundle.content_hash)
    if cached is None:
        cached = []
        for category in input_values(bundle, "routing", "category"):
            try:
                routed = evaluate(bundle, "routing", {"category": category}, core.engine.script_engine)
            except DecisionError:
                routed = {}
            cached.append((category, routed.get("routed_department")))
        _ROUTED[bundle.content_hash] = cached
    return cached


def services(core, session: Session) -> list[Service]:
    version = latest_version(session)
    bundle = core.bundles.get(session, version.id) if version else _shipped_rules()
    names = dict(session.execute(select(Department.code, Department.name)).all())
    result = [Service(code_for(category), category, category, names.get(department, department))
              for category, department in _routed(core, bundle)]
    result.append(Service(GENERAL, GENERAL_NAME, None, None))
    return result


def changeset(session: Session) -> str | None:
    """When the services last changed: the latest deployed version (its routing table)."""
    version = latest_version(session)
    return version.deployed_at if version else None


def attributes() -> list[dict]:
    return [{"variable": True, "code": "request_type", "datatype": "singlevaluelist", "required": False,
             "datatype_description": "缺省为投诉 (complaint)", "order": 1,
             "description": "诉求类型：咨询、求助、投诉、举报或建议",
             "values": [{"key": key, "name": name} for key, name in TYPES.items()]}]
