"""Keyset pages of many instances in one statement: a UNION ALL of one LIMITed page each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, select, union_all
from sqlalchemy.sql.elements import UnaryExpression

# Pages per statement: each binds a few parameters, under SQLite's old default limit.
CHUNK = 400


def chunks(keys: Sequence[Any]) -> list[Sequence[Any]]:
    return [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)]


def union_pages(parts: list[Select[Any]], order: Sequence[tuple[str, bool]]) -> Select[Any]:
    """One statement of several LIMITed pages, each walking its own index range, ordered
    again outside (a union keeps no order) by `order`: (column, descending) pairs, compared
    by the database as the pages were (its collation, not Python's)."""
    if len(parts) == 1:
        return parts[0]
    union = union_all(*(select(part.subquery()) for part in parts)).subquery()
    keys: list[UnaryExpression[Any]] = [
        union.c[name].desc() if descending else union.c[name].asc() for name, descending in order
    ]
    return select(union).order_by(*keys)


async def per_key(
    execute: Callable[[Select[Any]], Any],
    keys: Sequence[Any],
    page_of: Callable[[Any], Select[Any]],
    order: Sequence[tuple[str, bool]],
) -> list[Any]:
    """The rows of every key's page, each page in the order of its own query."""
    rows: list[Any] = []
    for chunk in chunks(list(dict.fromkeys(keys))):
        rows.extend(await execute(union_pages([page_of(key) for key in chunk], order)))
    return rows
