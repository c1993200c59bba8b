"""Time helpers: the API's ISO 8601 form (milliseconds, `Z`) and epoch milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from domain.errors import ValidationFailed


def utc_now() -> datetime:
    """Now, truncated to the millisecond the API shows, so a shown time filters exactly."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class StoredMoment(datetime):
    """An aware UTC datetime read from storage that keeps its API text, so a page of 50
    messages does not format 150 timestamps again (formatting cost 8x reading the text).
    Everything else sees a datetime; what datetime's methods derive from it (replace,
    arithmetic) has no text and is formatted as usual."""

    __slots__ = ("api_text",)
    api_text: str

    @classmethod
    def from_stored(cls, text: str) -> StoredMoment:
        """From SQLite's `YYYY-MM-DD HH:MM:SS.ffffff` of a naive UTC time."""
        moment = cls.fromisoformat(text + "+00:00")
        moment.api_text = (
            text[:10] + "T" + text[11:23] + "Z" if len(text) == 26 else iso_text(moment)
        )
        return moment

    @classmethod
    def from_naive(cls, value: datetime) -> StoredMoment:
        """From a naive UTC datetime (PostgreSQL's `timestamp without time zone`): formatted
        once here, however many of a row's times are this one value."""
        moment = cls(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, UTC,
        )  # fmt: skip
        moment.api_text = value.isoformat(timespec="milliseconds") + "Z"
        return moment


def iso(moment: datetime | None) -> str | None:
    """`2023-01-01T12:00:00.000Z`, the shape JavaScript's Date#toISOString gives."""
    if moment is None:
        return None
    text = getattr(moment, "api_text", None)
    return text if text is not None else iso_text(moment)


def iso_text(moment: datetime) -> str:
    """`iso` of a datetime that carries no text of its own."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat: a fifth of strftime's cost, on every timestamp of every page
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_ms(ms: int) -> str:
    return iso(from_ms(ms)) or ""


def parse_iso(value: str, field: str) -> datetime:
    """Accepts ISO 8601 with or without zone (naive means UTC); raises ValidationFailed."""
    # An unencoded "+00:00" in a query string arrives as " 00:00": take it as meant.
    text = re.sub(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$", r"\1+\2", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"'{field}' must be an ISO 8601 date such as 2023-01-01T12:00:00.000Z",
            {"field": field, "value": value},
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
