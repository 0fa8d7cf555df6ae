"""Errors a user can cause and fix. Views and the CLI turn them into clear messages."""
from __future__ import annotations


class BihuanError(Exception):
    code = "error"
    http_status = 400


class Invalid(BihuanError):
    code = "invalid"
    http_status = 400

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None):
        self.fields = fields or []
        super().__init__(message)


class NotFound(BihuanError):
    code = "not_found"
    http_status = 404


class Forbidden(BihuanError):
    code = "forbidden"
    http_status = 403


class Conflict(BihuanError):
    code = "conflict"
    http_status = 409


class Blocked(BihuanError):
    """The process itself failed (sandbox refusal, broken table); an incident was recorded."""
    code = "incident"
    http_status = 409
