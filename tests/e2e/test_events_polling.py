"""Polling /events with since=<latestTimestamp> while events pour in: each event exactly once."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

PRODUCE_S = 3.0
POLL_LIMIT = 7


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


async def drop_repeatedly(
    client: Client, instance_id: str, headers: dict[str, str], stop: asyncio.Event
) -> int:
    drops = 0
    while not stop.is_set():
        drops += 1
        await client.disconnect(instance_id, headers, f"drop {drops}")
        await client.wait_status(instance_id, headers, "connected")
    return drops


async def update_repeatedly(
    client: Client,
    instance_id: str,
    headers: dict[str, str],
    stop: asyncio.Event,
    counter: itertools.count[int],
) -> int:
    """Changes webhook settings (each change emits webhook_updated), many callers at once."""
    updates = 0
    while not stop.is_set():
        value = next(counter) % 20 + 1
        r = await client.http.put(
            f"/api/instances/{instance_id}",
            json={"webhookSettings": {"maxRetries": value}},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        updates += 1
    return updates


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

    stop_producing = asyncio.Event()
    produced = asyncio.Event()
    counter = itertools.count()
    producers = [
        asyncio.create_task(drop_repeatedly(client, paired, headers, stop_producing)),
        *(
            asyncio.create_task(update_repeatedly(client, fast, headers, stop_producing, counter))
            for _ in range(4)
        ),
    ]
    logs = {fast: PollLog(), paired: PollLog()}
    pollers: list[asyncio.Task[None]] = []
    try:
        # Start polling late, so a backlog larger than one page has to be paged through.
        await asyncio.sleep(0.3)
        pollers = [
            asyncio.create_task(poll_until_drained(client, iid, headers, produced, log))
            for iid, log in logs.items()
        ]
        await asyncio.sleep(PRODUCE_S - 0.3)
        stop_producing.set()
        drops, *updates = await asyncio.wait_for(asyncio.gather(*producers), 15)
        # The fast instance keeps showing QR codes; stop it so production really ends.
        r = await client.http.post(f"/api/instances/{fast}/logout", headers=headers)
        assert r.status_code == 200, r.text
        await client.wait_status(fast, headers, "logged_out")
        produced.set()
        await asyncio.wait_for(asyncio.gather(*pollers), 15)
    finally:
        stop_producing.set()
        produced.set()
        for task in [*producers, *pollers]:
            if not task.done():
                task.cancel()

    full_fast = await client.all_events(fast, headers, limit=50)
    full_paired = await client.all_events(paired, headers, limit=50)
    check_exactly_once(logs[fast], full_fast)
    check_exactly_once(logs[paired], full_paired)

    # The run really produced a lot, fast, and really exercised paging.
    fast_types = [e["type"] for e in full_fast]
    assert fast_types.count("qr_received") >= 40, fast_types.count("qr_received")
    assert fast_types.count("webhook_updated") >= 40, fast_types.count("webhook_updated")
    assert fast_types[-1] == "disconnected"  # the logout
    assert logs[fast].pages_with_more >= 1, logs[fast]
    assert logs[fast].polls > len(full_fast) // POLL_LIMIT

    paired_types = [e["type"] for e in full_paired]
    assert drops >= 3, drops
    assert paired_types.count("disconnected") == drops, paired_types
    # QR codes until the scan, connected, then a disconnected/connected pair per drop.
    qrs = paired_types.index("connected")
    assert qrs >= 1 and set(paired_types[:qrs]) == {"qr_received"}, paired_types
    assert paired_types[qrs:] == ["connected"] + ["disconnected", "connected"] * drops
