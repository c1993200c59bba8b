"""Domain exceptions; each API layer maps them to its own error format in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base for every error a use case raises on purpose."""

    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class LimitExceeded(DomainError):
    code = "limit_exceeded"


class TooManyAttempts(LimitExceeded):
    """Login throttling: refused without checking the password; `retry_after_s` is when
    the next attempt will be considered (HTTP `Retry-After`)."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, {"retryAfter": retry_after_s})
        self.retry_after_s = retry_after_s


class EngineFailure(DomainError):
    """The WhatsApp side failed (not the caller's input): answered as 502."""

    code = "engine_failure"
