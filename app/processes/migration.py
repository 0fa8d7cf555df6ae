"""Moving running cases from one deployed version to another, with a dry run first."""
from __future__ import annotations


def plan_migration(core, from_version: int, to_version: int) -> list[dict]:
    """Dry run: ``[{case_number, case_id, can_move, reason}]`` for every open case on ``from_version``."""
    raise NotImplementedError


def migrate_cases(core, from_version: int, to_version: int, *, actor: str,
                  case_numbers: list[str] | None = None) -> list[dict]:
    """Move the cases that can move, one transaction each: ``[{case_number, moved, reason}]``."""
    raise NotImplementedError
