"""Relay-style cursor connections: `edges { node cursor }` and `pageInfo`.

A cursor is opaque to clients (base64 of a small JSON array). Every list pages by keyset (the
position of the last item seen, not an offset), so items that arrive between two pages are
neither repeated nor skipped."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry

from domain.errors import ValidationFailed

T = TypeVar("T")
E = TypeVar("E")


@strawberry.interface(
    description="An object whose id is unique across every type (ids are random UUIDs), "
    "so `node(id)` refetches it whatever its type (Relay's Node)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Unique across every type.")


@strawberry.type(description="Where a page stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether `after: endCursor` finds more.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (a page after a cursor: true)."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor.")


@strawberry.type(description="One item of a page and the cursor just after it.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")


@strawberry.type(description="A page of a list, with cursors to walk the rest.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items, with cursors.")
    page_info: PageInfo = strawberry.field(description="Whether there is more, and where.")

    @strawberry.field(description="The page's items without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(kind: str, *position: Any) -> str:
    text = json.dumps([kind, *position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, size: int) -> list[Any] | None:
    """The position in a cursor of this kind; a clear 400 for anything else."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, list) or len(value) != size + 1 or value[0] != kind:
        raise ValidationFailed(
            "'after' is not a cursor of this list; pass an endCursor or edge cursor it returned",
            {"field": "after"},
        )
    return value[1:]


def connection(
    items: Sequence[E],
    build: Callable[[E], T],
    cursor: Callable[[E], str],
    *,
    has_next: bool,
    has_previous: bool,
) -> Connection[T]:
    edges = [Edge(node=build(item), cursor=cursor(item)) for item in items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def keyset_position(after: str | None, kind: str) -> tuple[datetime, str] | None:
    """The (timestamp, id) position in a keyset cursor of this kind; a clear 400 for
    anything else."""
    position = decode_cursor(after, kind, 2)
    if position is None:
        return None
    try:
        return datetime.fromisoformat(str(position[0])), str(position[1])
    except ValueError:
        raise ValidationFailed("'after' is not a cursor of this list", {"field": "after"}) from None


def one_more(first: int | None, default: int) -> int:
    """One more than asked, to know whether a next page exists (validated by the use case)."""
    size = default if first is None else first
    return size + 1 if 0 < size < 1000 else size
