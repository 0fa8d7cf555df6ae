"""The process designer (流程管理): ``bp`` for the app factory, with the routes of every module here.

Pages and endpoints, all for role ``designer`` only:
library.py (library, validate, export, discard), editors.py (BPMN/DMN/form editors, draft save,
form preview), releases.py (deploy, diff, migrate), uploads.py (import).
"""
from __future__ import annotations

from . import editors, library, releases, uploads  # noqa: F401  (they attach their routes to bp)
from .blueprint import bp

__all__ = ["bp"]
