"""Entities <-> documents. A document holds the columns of the SQL table of the same name
(adapters/storage/sql/tables.py), so backups move between providers unchanged.

Times are stored as fixed-width UTC text (`2023-01-01T12:00:00.000000`): BSON dates keep
milliseconds only, and the SQL backends keep microseconds; the fixed width makes the text
sort (and compare in range queries) in time order.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def at(moment: datetime) -> str:
    """A datetime as stored: naive ones are UTC, as the SQL backends take them."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(_TEXT_FORMAT)


def at_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else at(moment)


def moment(stored: str) -> datetime:
    return datetime.strptime(stored, _TEXT_FORMAT).replace(tzinfo=UTC)


def moment_or_none(stored: str | None) -> datetime | None:
    return None if stored is None else moment(stored)


_KINDS: dict[type, dict[str, str]] = {}
_ENUMS: dict[type, dict[str, type[enum.Enum]]] = {}


def _kinds(cls: type) -> dict[str, str]:
    """Field name -> "datetime", "enum" or "plain", from the dataclass's hints (kept)."""
    if cls in _KINDS:
        return _KINDS[cls]
    hints = typing.get_type_hints(cls)
    kinds: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        base = args[0]
        if base is datetime:
            kinds[f.name] = "datetime"
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            kinds[f.name] = "enum"
        else:
            kinds[f.name] = "plain"
    _KINDS[cls] = kinds
    return kinds


def _enum_types(cls: type) -> dict[str, type[enum.Enum]]:
    if cls in _ENUMS:
        return _ENUMS[cls]
    hints = typing.get_type_hints(cls)
    found: dict[str, type[enum.Enum]] = {}
    for name, kind in _kinds(cls).items():
        if kind == "enum":
            args = [a for a in typing.get_args(hints[name]) if a is not type(None)]
            found[name] = args[0] if args else hints[name]
    _ENUMS[cls] = found
    return found


def to_doc(entity: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The entity's fields as stored (its `id` becomes `_id` as well)."""
    doc: dict[str, Any] = {}
    for name, kind in _kinds(type(entity)).items():
        if name in skip:
            continue
        value = getattr(entity, name)
        if value is None:
            doc[name] = None
        elif kind == "datetime":
            doc[name] = at(value)
        elif kind == "enum":
            doc[name] = value.value
        else:
            doc[name] = value
    return doc


def from_doc(cls: type[T], doc: dict[str, Any], **extra: Any) -> T:
    values: dict[str, Any] = {}
    enums = _enum_types(cls)
    for name, kind in _kinds(cls).items():
        if name in extra:
            values[name] = extra[name]
            continue
        if name not in doc:
            continue  # a field the document predates: the entity's default
        value = doc[name]
        if value is not None and kind == "datetime":
            value = moment(value)
        elif value is not None and kind == "enum":
            value = enums[name](value)
        values[name] = value
    return cls(**values)


def through(stored: str) -> dict[str, str]:
    """`<= stored` for a stored time, written as `< stored + NUL` (the same set, since stored
    times have one width): SecantusDB's index scans treat an inclusive upper bound as
    exclusive (README: "SecantusDB")."""
    return {"$lt": stored + "\x00"}


def key(*parts: str) -> str:
    """The `_id` of a document keyed by several columns (SQL's composite primary keys)."""
    return "\x1f".join(parts)
