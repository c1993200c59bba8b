"""Copying one database's records into another while writes go on: a bulk copy from a
snapshot, then catch-ups of what changed since the snapshot before began (a switch runs the
last one with writes held, so the target ends equal to the source).

A catch-up finds each kind's changes by a rule of its own (`CATCH_UP`), all measured from
one watermark: a moment no change committed after the snapshot can be stamped before. The
switch takes it just before a snapshot starts, lowered to the start of the oldest write
unit open then (it may commit later, stamped earlier) and by `WATERMARK_MARGIN`: a use case
may read the clock a little before it opens its unit — by the time it waits for its
instance's lock (domain/recorder.py), milliseconds; the send path reads it and opens its
unit at once. Each change in the margin is copied again by every catch-up, so it is kept
short.

- `updated_at`: every in-place change of messages, contacts and webhook deliveries moves
  it (the contract suite proves it per write path, tests/contract/test_catch_up_contract.py).
- Append-only kinds by the moment they were written: events by `timestamp_ms` (the recorder
  gives each one at least the clock's now; `seq` is no cursor here, a PostgreSQL sequence
  hands numbers out in an order transactions need not commit in), activity and media by
  `created_at`.
- Usage counters and limit notices by `day`: they only ever change on the day they count,
  or the day before (a send that fails just after midnight gives back its day's allowance):
  two days' rows per instance.
- Whole (`None`): users, instances and chat summaries are compared record by record with
  what the target holds (kept as the copy wrote it, `Mirror`). They are the kinds where
  deletes happen (a user or an instance goes with everything it owns; a chat summary goes
  when its last message moves), they are small (a chat summary is one row per conversation,
  not per message), and a chat's "marked unread" and a user's last login change no
  `updated_at`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.ports import RecordInventory, RecordSnapshot
from domain.times import to_ms

log = logging.getLogger(__name__)

BATCH = 500
WATERMARK_MARGIN = timedelta(seconds=2)

Progress = Callable[[int], None]
# Awaited after each batch the bulk copy writes (tests hold the copy there to write meanwhile).
BulkHook = Callable[[str], Awaitable[None]]


def _nothing(_: int) -> None:
    return None


@dataclass(frozen=True)
class Since:
    """A kind's changes: the records whose `field` is at least the watermark, as `value`."""

    field: str
    value: Callable[[datetime], Any]


def _moment(at: datetime) -> datetime:
    return at


def _ms(at: datetime) -> int:
    return to_ms(at)


def _day_before(at: datetime) -> str:
    return (at - timedelta(days=1)).date().isoformat()


CATCH_UP: dict[str, Since | None] = {
    "users": None,
    "instances": None,
    "chat_summaries": None,
    "activity_logs": Since("created_at", _moment),
    "contacts": Since("updated_at", _moment),
    "events": Since("timestamp_ms", _ms),
    "limit_notices": Since("day", _day_before),
    "media": Since("created_at", _moment),
    "messages": Since("updated_at", _moment),
    "usage_daily": Since("day", _day_before),
    "webhook_deliveries": Since("updated_at", _moment),
}


# What the target holds of the kinds compared whole, by key, as the copy wrote it: nothing
# else writes the target before the swap, so a catch-up compares the source with this
# instead of reading the target again (with writes held, half the reading).
Mirror = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@dataclass(frozen=True)
class CaughtUp:
    written: dict[str, int]  # records written per kind (new or changed since the watermark)
    deleted: dict[str, int]  # records removed per kind (with what they own)

    @property
    def total(self) -> int:
        return sum(self.written.values()) + sum(self.deleted.values())


async def count_records(inventory: RecordInventory) -> dict[str, int]:
    async with inventory.snapshot() as snap:
        return {kind: await snap.count(kind) for kind in inventory.kinds()}


def _text(record: dict[str, object]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)


async def same_records(source: RecordInventory, target: RecordInventory) -> bool:
    """Whether the target holds exactly the source's records (order aside)."""
    async with source.snapshot() as a, target.snapshot() as b:
        for kind in source.kinds():
            if await a.count(kind) != await b.count(kind):
                return False
            theirs: set[str] = set()
            async for records in b.records(kind, BATCH):
                theirs.update(_text(r) for r in records)
            async for records in a.records(kind, BATCH):
                if any(_text(r) not in theirs for r in records):
                    return False
    return True


async def copy_records(
    source: RecordInventory,
    target: RecordInventory,
    on_total: Progress = _nothing,
    progress: Progress = _nothing,
    after_batch: BulkHook | None = None,
    mirror: Mirror | None = None,
) -> dict[str, int]:
    """Every record of one snapshot of the source into the target, parents first; counts
    per kind. The records of the kinds compared whole are kept in `mirror` when given."""
    copied: dict[str, int] = {}
    async with source.snapshot() as snap:
        kinds = source.kinds()
        counts = {kind: await snap.count(kind) for kind in kinds}
        on_total(sum(counts.values()))
        for kind in kinds:
            copied[kind] = 0
            kept = None
            if mirror is not None and CATCH_UP.get(kind, 0) is None:
                kept = mirror.setdefault(kind, {})
                names = source.key(kind)
            async for records in snap.records(kind, BATCH):
                await target.write(kind, records)
                if kept is not None:
                    kept.update((tuple(r[n] for n in names), r) for r in records)
                copied[kind] += len(records)
                progress(len(records))
                if after_batch is not None:
                    await after_batch(kind)
            log.info("database switch: copied %d %s", copied[kind], kind)
    return copied


async def _by_key(
    snap: RecordSnapshot, inventory: RecordInventory, kind: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    names = inventory.key(kind)
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    async for records in snap.records(kind, BATCH):
        for r in records:
            found[tuple(r[n] for n in names)] = r
    return found


async def catch_up(
    source: RecordInventory,
    target: RecordInventory,
    since: datetime,
    mirror: Mirror | None = None,
) -> CaughtUp:
    """Copies what changed on the source since `since` (the watermark of an earlier copy's
    snapshot) into the target, from one snapshot of the source, and removes from the target
    what that snapshot no longer holds. With nothing writing to the source meanwhile, the
    target ends equal to it; with writes going on, it ends equal to the snapshot, and a
    later catch-up from a watermark taken before this one began finishes the work. The
    kinds compared whole are compared with `mirror` (filled from the target when it lacks
    them, and kept up to date) when given."""
    kinds = source.kinds()
    unknown = [k for k in kinds if k not in CATCH_UP]
    if unknown:
        raise ValueError(f"no catch-up rule for {unknown[0]}")
    whole = [k for k in kinds if CATCH_UP[k] is None]
    changed: dict[str, list[dict[str, Any]]] = {}
    gone: dict[str, list[tuple[Any, ...]]] = {}
    deleted: dict[str, int] = {}
    written = {kind: 0 for kind in kinds}
    known: Mirror = {} if mirror is None else mirror
    # One snapshot for the comparison and the copy: a child it holds has its parent in it.
    async with source.snapshot() as ours:
        if any(kind not in known for kind in whole):
            async with target.snapshot() as theirs:
                for kind in whole:
                    if kind not in known:
                        known[kind] = await _by_key(theirs, target, kind)
        for kind in whole:
            mine = await _by_key(ours, source, kind)
            there = known[kind]
            changed[kind] = [r for k, r in mine.items() if there.get(k) != r]
            gone[kind] = [k for k in there if k not in mine]
            known[kind] = mine  # what the target holds once this catch-up is done
        # Removals first, children first: a user deleted and another one made with its
        # email must not collide; an instance removed takes what it owns with it.
        for kind in reversed(whole):
            if gone[kind]:
                await target.delete(kind, gone[kind])
                deleted[kind] = len(gone[kind])
        for kind in kinds:
            rule = CATCH_UP[kind]
            if rule is None:
                for i in range(0, len(changed[kind]), BATCH):
                    await target.upsert(kind, changed[kind][i : i + BATCH])
                written[kind] = len(changed[kind])
                continue
            async for records in ours.since(kind, rule.field, rule.value(since), BATCH):
                await target.upsert(kind, records)
                written[kind] += len(records)
    return CaughtUp(written, deleted)
