"""Newest-first pages read over bounded index ranges, so the server examines about the page's
documents, not the chat's (or the instance's chats'): see README "SecantusDB".

A chat's history page is its newest `skip + limit` messages by (created_at, _id). `newest`
reads them window by window back in time, `[lo, edge)` on `created_at`, each sorted and
limited by the server: every document of a window is newer than every one before `lo`, so
once the windows have given `skip + limit` documents those are the newest. The first window's
width comes from the chat's pace (its summary's message count over the time from its first to
its last message), each next one from the pace the previous window showed; after a few
windows the rest is read unbounded below. A wrong pace therefore never changes an answer,
only how many documents the server reads.

The conversation list is bounded the same way by `ListEdges`: per instance, the `last_at` of
the N-th most recent chat when the list was last read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from adapters.storage.mongo.codec import at, moment, moment_or_none

Doc = dict[str, Any]

# Windows read bounded below before the rest is read in one query: a pace off by 8^3 still
# ends in that one query, which on a real mongod is the plain walk of the index.
_WINDOWS = 3
# How many times the page the first window should hold at the chat's pace: a little more
# than the page, so an even pace needs one query.
_SLACK = 1.25
_GROWTH = 8  # a window that found nothing is followed by one this many times wider
_UNKNOWN_PACE = timedelta(days=1)  # the first window when the summary gives no pace
_NARROWEST = timedelta(milliseconds=1)
_WIDEST = timedelta(days=100 * 366)  # wider: the window is unbounded below


@dataclass(frozen=True)
class Pace:
    """How a chat's messages spread over time, from its summary: `first` is None for a
    summary written before it kept `first_at` (or by an import that did not see the
    messages)."""

    count: int
    first: datetime | None
    last: datetime | None

    @classmethod
    def of(cls, summary: Mapping[str, Any] | None) -> Pace:
        if summary is None:
            return cls(0, None, None)
        return cls(
            int(summary.get("message_count") or 0),
            moment_or_none(summary.get("first_at")),
            moment_or_none(summary.get("last_at")),
        )

    def width(self, wanted: int) -> timedelta:
        """The time back from the newest message that should hold `wanted` messages."""
        if self.first is None or self.last is None or self.count < 2 or self.last <= self.first:
            return _UNKNOWN_PACE
        per_message = (self.last - self.first) / (self.count - 1)
        return min(max(per_message * wanted * _SLACK, _NARROWEST), _WIDEST)


async def newest(
    collection: AsyncCollection[Doc],
    chat: Mapping[str, Any],
    *,
    start: datetime | None,
    upper: Mapping[str, str] | None,
    end: datetime | None,
    wanted: int,
    pace: Pace,
    projection: Mapping[str, Any] | None = None,
    session: AsyncClientSession | None = None,
) -> list[Doc]:
    """The newest `wanted` documents of `chat` (an equality filter) with `created_at` at or
    after `start` and within `upper` (a stored-time condition: the page's end), newest first.

    `end` is `upper`'s moment (the first window ends there rather than at the newest
    message)."""
    found: list[Doc] = []
    start, end = _utc(start), _utc(end)
    anchor = pace.last if end is None or (pace.last is not None and pace.last < end) else end
    width = pace.width(wanted)
    bound: dict[str, str] = dict(upper or {})
    for window in range(_WINDOWS + 1):
        need = wanted - len(found)
        lower: datetime | None = None
        if anchor is not None and window < _WINDOWS and width < _WIDEST:
            lower = _back(anchor, width)
            if lower is not None and start is not None and lower <= start:
                lower = None
        span = dict(bound)
        if lower is not None:
            span["$gte"] = at(lower)
        elif start is not None:
            span["$gte"] = at(start)
        query = {**chat, "created_at": span} if span else dict(chat)
        docs = await top(
            collection, query, by="created_at", then=("_id", -1), limit=need,
            projection=projection, session=session,
        )  # fmt: skip
        found.extend(docs)
        if len(found) >= wanted or lower is None:
            return found
        # The next window ends where this one began, and is as wide as this one's pace says
        # the rest needs (a window that found nothing: _GROWTH times wider).
        rest = wanted - len(found)
        grown = width * _GROWTH if not docs else width * min(rest / len(docs) * _SLACK, 1e6)
        width = min(max(grown, width), _WIDEST)
        bound = {"$lt": at(lower)}
        anchor = lower
    return found


async def top(
    collection: AsyncCollection[Doc],
    query: Mapping[str, Any],
    *,
    by: str,
    then: tuple[str, int],
    limit: int,
    projection: Mapping[str, Any] | None = None,
    session: AsyncClientSession | None = None,
) -> list[Doc]:
    """The first `limit` documents of `query` by `by` descending, then `then` (field,
    direction). The server sorts by `by` alone and sends one document more: the order of a
    tie is made here, and a tie across the cut is read whole (SecantusDB sorts a compound key
    in Python, costing more than the read itself: README "SecantusDB")."""
    cursor = collection.find(query, projection, session=session)
    docs = await cursor.sort(by, -1).limit(limit + 1).to_list()
    if len(docs) > limit and docs[limit - 1][by] == docs[limit][by]:
        edge = docs[limit - 1][by]
        tied = await collection.find({**query, by: edge}, projection, session=session).to_list()
        docs = [d for d in docs if d[by] != edge] + tied
    field, direction = then
    docs.sort(key=lambda d: d[field], reverse=direction < 0)
    docs.sort(key=lambda d: d[by], reverse=True)  # stable: ties stay in `then` order
    return docs[:limit]


def _utc(moment: datetime | None) -> datetime | None:
    """Naive moments are UTC, as stored (codec.at)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _back(anchor: datetime, width: timedelta) -> datetime | None:
    try:
        return anchor - width
    except OverflowError:  # before year 1: no bound
        return None


class ListEdges:
    """Per instance and list length N, the `last_at` t of its N-th most recent chat when a
    list of N was last read: at least N chats had a last message at t or later. A chat's last
    message only gets newer (a recount after a moved message aside), so the next read of up to
    N chats can bound `last_at` to >= t; the read checks it got N chats, and reads unbounded
    when it did not. Only a hint: it is never what makes an answer right."""

    _INSTANCES = 10_000  # past that the least recently learned instance is forgotten
    _LENGTHS = 4  # list lengths remembered per instance

    def __init__(self) -> None:
        self._edges: dict[str, dict[int, str]] = {}

    def get(self, instance_id: str, wanted: int) -> str | None:
        """The edge of the shortest remembered list of at least `wanted` chats."""
        lengths = self._edges.get(instance_id, {})
        fitting = [n for n in lengths if n >= wanted]
        return lengths[min(fitting)] if fitting else None

    def learn(self, instance_id: str, wanted: int, last_at: str) -> None:
        lengths = self._edges.pop(instance_id, {})
        if len(self._edges) >= self._INSTANCES:
            self._edges.pop(next(iter(self._edges)))
        lengths.pop(wanted, None)
        if len(lengths) >= self._LENGTHS:
            lengths.pop(next(iter(lengths)))
        lengths[wanted] = last_at
        self._edges[instance_id] = lengths


def at_or_after(stored: str) -> dict[str, str]:
    """`>= stored` on a descending index key, written `> stored - 1 µs` (the same set: stored
    times have microseconds and one width): SecantusDB's scan of a descending key misses the
    bound itself with `$gte` (README: "SecantusDB")."""
    return {"$gt": at(moment(stored) - timedelta(microseconds=1))}
