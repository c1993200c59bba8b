"""Polling /events with since=<latestTimestamp> while events pour in: each event exactly once.

The producers make a fixed number of events (DROPS drop/reconnect pairs, WRITERS x UPDATES
settings changes, each one webhook_updated) and then stop; nothing is measured against a
time window, so a loaded machine only makes the test slower, never wrong."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

POLL_LIMIT = 7
DROPS = 4
WRITERS = 4
UPDATES = 25  # per writer
BACKLOG = 2 * POLL_LIMIT  # settings changes made before polling starts: paging is certain


@dataclass
class PollLog:
    ids: list[str] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)
    polls: int = 0
    pages_with_more: int = 0


async def poll_until_drained(
    client: Client, instance_id: str, headers: dict[str, str], done: asyncio.Event, log: PollLog
) -> None:
    """Polls with no pause, passing back latestTimestamp; after `done`, drains and returns."""
    since: str | None = None
    while True:
        finished = done.is_set()  # read before the request, so the last poll sees everything
        page = await client.events_page(instance_id, headers, since=since, limit=POLL_LIMIT)
        log.polls += 1
        assert page["count"] == len(page["events"]) <= POLL_LIMIT, page
        log.ids.extend(e["id"] for e in page["events"])
        log.timestamps.extend(e["timestamp"] for e in page["events"])
        if page["events"]:
            assert page["latestTimestamp"] == page["events"][-1]["timestamp"], page
        else:
            assert page["latestTimestamp"] == since, page
        since = page["latestTimestamp"]
        if page["hasMore"]:
            log.pages_with_more += 1
            assert len(page["events"]) == POLL_LIMIT, page
        elif finished and not page["events"]:
            return


async def drop(client: Client, instance_id: str, headers: dict[str, str], times: int) -> None:
    for n in range(times):
        await client.disconnect(instance_id, headers, f"drop {n + 1}")
        await client.wait_status(instance_id, headers, "connected", within_s=30)


async def update(
    client: Client,
    instance_id: str,
    headers: dict[str, str],
    counter: itertools.count[int],
    times: int,
) -> None:
    """Changes webhook settings `times` times; every value is new, so every change emits
    exactly one webhook_updated."""
    for _ in range(times):
        r = await client.http.put(
            f"/api/instances/{instance_id}",
            json={"webhookSettings": {"retryInterval": 1_000 + next(counter)}},
            headers=headers,
        )
        assert r.status_code == 200, r.text


def check_exactly_once(log: PollLog, full: list[dict[str, Any]]) -> None:
    assert len(log.ids) == len(set(log.ids)), "an event was delivered twice"
    full_ids = [e["id"] for e in full]
    assert len(full_ids) == len(set(full_ids)), "the full read repeats an event"
    missing = set(full_ids) - set(log.ids)
    extra = set(log.ids) - set(full_ids)
    assert not missing and not extra, f"missing {len(missing)}, extra {len(extra)}"
    assert log.ids == full_ids, "polled events are out of order"
    # The cursor is exact because timestamps of one instance never repeat.
    stamps = [e["timestamp"] for e in full]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


async def test_polling_events_exactly_once_while_producing(start_server, client_for) -> None:
    server = await start_server(SANDBOX_QR_INTERVAL_MS="20")
    client: Client = client_for(server)
    headers = await client.admin_headers()
    paired = await client.paired_instance(headers, "dropping")
    fast = await client.new_instance(headers, "fast qr")
    await client.wait_status(fast, headers, "qr")
    counter = itertools.count()
    await update(client, fast, headers, counter, BACKLOG)

    produced = asyncio.Event()
    logs = {fast: PollLog(), paired: PollLog()}
    pollers = [
        asyncio.create_task(poll_until_drained(client, iid, headers, produced, log))
        for iid, log in logs.items()
    ]
    producers = [
        asyncio.create_task(drop(client, paired, headers, DROPS)),
        *(
            asyncio.create_task(update(client, fast, headers, counter, UPDATES))
            for _ in range(WRITERS)
        ),
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*producers), 120)
        # The fast instance keeps showing QR codes; log it out so production really ends.
        r = await client.http.post(f"/api/instances/{fast}/logout", headers=headers)
        assert r.status_code == 200, r.text
        await client.wait_status(fast, headers, "logged_out")
        produced.set()
        await asyncio.wait_for(asyncio.gather(*pollers), 60)
    finally:
        produced.set()
        for task in [*producers, *pollers]:
            if not task.done():
                task.cancel()

    full_fast = await client.all_events(fast, headers, limit=50)
    full_paired = await client.all_events(paired, headers, limit=50)
    check_exactly_once(logs[fast], full_fast)
    check_exactly_once(logs[paired], full_paired)

    # Exactly what was produced, and the backlog made the poller page.
    fast_types = [e["type"] for e in full_fast]
    assert fast_types.count("webhook_updated") == BACKLOG + WRITERS * UPDATES
    assert fast_types.count("qr_received") >= 1
    assert fast_types[-1] == "disconnected"  # the logout
    assert logs[fast].pages_with_more >= 1, logs[fast]

    paired_types = [e["type"] for e in full_paired]
    # QR codes until the scan, connected, then a disconnected/connected pair per drop.
    qrs = paired_types.index("connected")
    assert qrs >= 1 and set(paired_types[:qrs]) == {"qr_received"}, paired_types
    assert paired_types[qrs:] == ["connected"] + ["disconnected", "connected"] * DROPS
