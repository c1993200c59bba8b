"""Log set-up: readable or JSON lines (LOG_FORMAT), each with its request id and instance id.

A request's id and scope live in a context variable set by `api.requests.RequestTelemetry`;
the instance id is the route's `instance_id` (read from the scope when the line is written,
so lines written before routing simply have none) or `domain.log_context.about_instance`.
Credentials are never passed to a logger; `Redact` is the second line of defence for
values that look like one (a bearer token, a JWT, an API key in a header dump).
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from domain.log_context import current_instance


@dataclass(slots=True)
class RequestContext:
    id: str
    scope: MutableMapping[str, Any]
    # Tasks a request started (an engine's connection loop) inherit this object and outlive
    # the request: once it is answered, their lines are no longer the request's.
    done: bool = False


current_request: ContextVar[RequestContext | None] = ContextVar("current_request", default=None)

READABLE = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(instance_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(instance_id)s"
_SECRETS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
    r"|((?:x-api-key|api[_-]?key|password|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)


def _scrub(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(2) or ""
    return f"{prefix}[redacted]"


class ContextFilter(logging.Filter):
    """Puts `request_id` and `instance_id` on every record (empty strings when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        if request is not None and request.done:
            request = None
        record.request_id = request.id if request is not None else "-"
        instance = getattr(record, "instance_id", None) or current_instance.get()
        if instance is None and request is not None:
            instance = request.scope.get("path_params", {}).get("instance_id")
        record.instance_id = instance or "-"
        return True


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SECRETS.sub(_scrub, message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str, fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """The root handler for the server and the CLI: `fmt` is `json` or `text`; stderr
    unless `stream` is given."""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(READABLE))
    handler.addFilter(ContextFilter())
    handler.addFilter(Redact())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic announces each of its plugins at INFO; only the migrations themselves matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # aiosqlite logs every statement WITH its parameters at DEBUG: search terms, hashes.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # PyMongo logs every command WITH its documents at DEBUG (pymongo.command): bodies, keys.
    logging.getLogger("pymongo").setLevel(logging.INFO)
    return handler


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own loggers write through the root handler above (same format, same ids)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
