"""Domain errors raised by services and selectors; the API maps them to problem details."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors a client can act on. `code` is stable; `message` is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    """Raised for unknown ids and for ids of another workspace alike, so neither leaks."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
