"""Small validators shared by the use cases; each raises ValidationFailed naming the field."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from domain.errors import ValidationFailed

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Headers the delivery worker sets itself or that would break HTTP framing.
_RESERVED_HEADERS = {
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "connection",
    "x-webhook-signature",
    "x-webhook-event",
    "x-webhook-id",
}


def fail(field: str, message: str, **extra: Any) -> ValidationFailed:
    return ValidationFailed(message, {"field": field, **extra})


def text(value: str | None, field: str, *, max_len: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise fail(field, f"'{field}' is required")
        return None
    stripped = value.strip()
    if required and not stripped:
        raise fail(field, f"'{field}' must not be empty")
    if len(stripped) > max_len:
        raise fail(field, f"'{field}' must be at most {max_len} characters")
    return stripped


def email(value: str, field: str = "email") -> str:
    normalised = value.strip().lower()
    if len(normalised) > 254 or not _EMAIL.match(normalised):
        raise fail(field, f"'{field}' must be a valid email address")
    return normalised


def password(value: str, field: str = "password") -> str:
    if len(value) < 8:
        raise fail(field, f"'{field}' must be at least 8 characters")
    if len(value) > 256:
        raise fail(field, f"'{field}' must be at most 256 characters")
    return value


def url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    if not stripped:
        return None
    parts = urlsplit(stripped)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(stripped) > 2048:
        raise fail(field, f"'{field}' must be an http:// or https:// URL")
    return stripped


def loose_url(value: str | None, field: str, *, max_len: int = 2048) -> str | None:
    """Free text that is usually a URL (a contact's profilePicture): kept as given.

    The API document's own example is "url-to-picture", so anything that is not an http(s)
    URL is logged, never refused.
    """
    kept = text(value, field, max_len=max_len)
    if not kept:
        return None
    parts = urlsplit(kept)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("'%s' is kept as given but is not an http(s) URL: %.80r", field, kept)
    return kept


def int_range(value: int | None, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(field, f"'{field}' must be an integer between {low} and {high}")
    return value


def headers(value: dict[str, str] | None, field: str = "headers") -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > 50:
        raise fail(field, f"'{field}' may hold at most 50 headers")
    clean: dict[str, str] = {}
    for name, content in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name) or len(name) > 256:
            raise fail(field, f"'{field}' has an invalid header name: {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise fail(field, f"'{field}' may not set the reserved header {name!r}")
        if (
            not isinstance(content, str)
            or not content.isascii()  # HTTP/1.1 header values: printable ASCII only
            or not content.isprintable()
            or len(content) > 4096
        ):
            raise fail(field, f"'{field}' has an invalid value for header {name!r}")
        clean[name] = content
    return clean


# The largest integer a JavaScript client sends exactly; it also fits the 64-bit OFFSET of
# every storage (a larger skip made SQLite raise OverflowError: a 500).
MAX_SKIP = 2**53 - 1


def page(limit: int | None, skip: int | None, *, default: int, maximum: int) -> tuple[int, int]:
    lim = default if limit is None else limit
    off = 0 if skip is None else skip
    if lim < 1 or lim > maximum:
        raise fail("limit", f"'limit' must be between 1 and {maximum}")
    if off < 0 or off > MAX_SKIP:
        raise fail("skip", f"'skip' must be between 0 and {MAX_SKIP}")
    return lim, off


def csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    return items or None


def holds_lone_surrogate(value: object) -> bool:
    """Whether a decoded JSON value holds a lone UTF-16 surrogate, in a key or a string.

    Python's json decodes `"\\ud800"` to a string that cannot be encoded as UTF-8, so it could
    be neither stored nor sent back (each use case answered 500). Valid pairs are already
    joined into one code point by the decoder, so any surrogate left is a lone one.
    """
    pending = [value]
    while pending:  # a loop, not recursion: JSON may nest deeper than Python's stack
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False
