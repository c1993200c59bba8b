"""The webhook outbox survives SIGKILL: a real server, a real receiver on 127.0.0.1.

Deliveries that were pending when the server died (receiver down, or mid-request) are sent
after a restart on the same data dir, with their original X-Webhook-Id, in order.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Client, ServerProcess, StartServer
from tests.realserver import free_port
from tests.webhook_checks import WEBHOOK_EVENTS, check_body, hmac_hex, node_verify
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

OUTSIDE = "79001234567"
SECRET = "durable-secret"
ENV = {"WEBHOOK_POLL_INTERVAL_MS": "100"}


async def paired_with_webhook(client: Client, h: dict[str, str], **body: Any) -> str:
    r = await client.http.post(
        "/api/instances", json={"name": "durable", "engine": "sandbox", **body}, headers=h
    )
    assert r.status_code == 201, r.text
    iid = str(r.json()["id"])
    await client.wait_status(iid, h, "qr")
    await client.scan(iid, h)
    await client.wait_status(iid, h, "connected")
    return iid


async def incoming(client: Client, h: dict[str, str], iid: str, body: str) -> None:
    r = await client.http.post(
        f"/api/sandbox/{iid}/incoming",
        json={"from": OUTSIDE, "body": body, "pushName": "李四"},
        headers=h,
    )
    assert r.status_code == 200, r.text


async def deliveries(client: Client, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    """Every delivery, oldest first."""
    r = await client.http.get(
        f"/api/instances/{iid}/webhooks/deliveries", params={"limit": 1000}, headers=h
    )
    assert r.status_code == 200, r.text
    assert not r.json()["pagination"]["hasMore"]
    return list(reversed(r.json()["deliveries"]))


async def until(check: Callable[[], Any], within: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not within {within}s"
        await asyncio.sleep(interval)


async def drained(client: Client, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    """Waits until nothing is pending; returns every delivery, oldest first."""

    async def check() -> list[dict[str, Any]] | None:
        found = await deliveries(client, h, iid)
        return found if found and all(d["status"] != "pending" for d in found) else None

    return list(await until(check, 15.0, "all deliveries done"))


async def restart(
    start_server: StartServer, old: ServerProcess, client_for: Callable[..., Client]
) -> Client:
    return client_for(await start_server(old.data_dir, **ENV))


async def marker_through(client: Client, h: dict[str, str], iid: str, rx: WebhookReceiver) -> None:
    """Changes a setting (one `webhook_updated` delivery, queued behind every earlier one of
    the instance) and waits for it to arrive: nothing earlier can still be sent after it.
    Stands in for "wait a little and see that nothing else comes"."""
    r = await client.http.get(f"/api/instances/{iid}", headers=h)
    assert r.status_code == 200, r.text
    interval = r.json()["webhookSettings"]["retryInterval"] + 1
    # Counted before the change: its delivery may arrive before the PUT's answer does.
    updated = len(rx.of_event("webhook_updated"))
    r = await client.http.put(f"/api/instances/{iid}", json={"retryInterval": interval}, headers=h)
    assert r.status_code == 200, r.text
    await rx.wait_for(lambda _: len(rx.of_event("webhook_updated")) > updated, within=15.0)


def as_events(bodies: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [(b["event"], b["data"], b["timestamp"]) for b in bodies]


async def test_pending_deliveries_survive_sigkill_and_arrive_once_in_order(
    start_server: StartServer, client_for: Callable[..., Client], tmp_path: Path
) -> None:
    server = await start_server(**ENV)
    client = client_for(server)
    h = await client.admin_headers()
    port = free_port()  # nothing listens here yet
    iid = await paired_with_webhook(
        client,
        h,
        webhookUrl=f"http://127.0.0.1:{port}/hook",
        webhookEnabled=True,
        webhookSecret=SECRET,
        retryInterval=200,
        maxRetries=20,
    )
    for n in range(20):
        await incoming(client, h, iid, f"消息 {n} 😀")

    # Everything is queued and the head has been tried (and refused) before the kill.
    async def head_tried() -> bool:
        found = await deliveries(client, h, iid)
        return len(found) == 22 and found[0]["attempts"] >= 1

    await until(head_tried, 5.0, "first delivery attempt")
    before = await deliveries(client, h, iid)
    assert all(d["status"] == "pending" for d in before), before
    assert before[0]["lastError"] and before[0]["lastStatusCode"] is None
    assert await server.stop(signal.SIGKILL) == -signal.SIGKILL

    async with WebhookReceiver(port=port) as rx:
        client = await restart(start_server, server, client_for)
        await rx.wait_count(22, within=30.0)
        await marker_through(client, h, iid, rx)  # nothing arrives twice, late
        after = await drained(client, h, iid)

        events = await client.all_events(iid, h, types=",".join(WEBHOOK_EVENTS))
        # The restart adds a `connected` event (and its delivery) after the 22 from before.
        assert [d["id"] for d in after[:22]] == [d["id"] for d in before]
        assert len(after) == len(events) >= 22
        assert all(d["status"] == "succeeded" for d in after), after
        assert after[-1]["event"] == "webhook_updated"  # the marker, last

        # Exactly once per X-Webhook-Id, in the order of the events.
        assert rx.id_counts() == {d["id"]: 1 for d in after}
        assert rx.ids() == [d["id"] for d in after]
        bodies = [check_body(r) for r in rx.requests]
        assert as_events(bodies) == [(e["type"], e["data"], e["timestamp"]) for e in events]
        assert [b["data"]["body"] for b in bodies if b["event"] == "message_received"] == [
            f"消息 {n} 😀" for n in range(20)
        ]
        for request in rx.requests:
            assert request.headers["X-Webhook-Signature"] == hmac_hex(SECRET, request.body)
        verdicts = node_verify(tmp_path, [(r, SECRET) for r in rx.requests])
        assert all(v["raw"] and v["reparsed"] for v in verdicts), verdicts


async def test_a_delivery_cut_off_by_sigkill_is_sent_again_after_restart(
    start_server: StartServer, client_for: Callable[..., Client]
) -> None:
    async with WebhookReceiver() as rx:
        server = await start_server(**ENV)
        client = client_for(server)
        h = await client.admin_headers()
        iid = await paired_with_webhook(
            client, h, webhookUrl=rx.url, webhookEnabled=True, retryInterval=200, maxRetries=20
        )
        await drained(client, h, iid)
        assert [r.event for r in rx.requests] == ["qr_received", "connected"]

        rx.delay_s = 1.0  # slow: each answer takes a second
        for n in range(6):
            await incoming(client, h, iid, f"slow {n}")
        # The first message was answered; the second is in flight when the server dies.
        await rx.wait_count(4, within=5.0)
        assert await server.stop(signal.SIGKILL) == -signal.SIGKILL
        cut_off = rx.requests[3]
        assert cut_off.answered is None, "the request was answered before the kill"
        assert rx.requests[2].answered == 200

        rx.delay_s = 0.0
        client = await restart(start_server, server, client_for)
        # The reconnect after the restart emits `connected`; a marker after it makes sure
        # every delivery before it has arrived before counting.
        await client.wait_status(iid, h, "connected")
        await marker_through(client, h, iid, rx)
        events = await client.all_events(iid, h, types=",".join(WEBHOOK_EVENTS))
        after = await drained(client, h, iid)

        # Every event arrived at least once; ids de-duplicate to exactly the deliveries.
        assert len(after) == len(events)
        assert all(d["status"] == "succeeded" for d in after), after
        assert set(rx.ids()) == {d["id"] for d in after}
        counts = rx.id_counts()
        assert counts[cut_off.id] >= 2, counts  # the cut-off one was sent again
        assert all(count >= 1 for count in counts.values())
        firsts = [check_body(r) for r in rx.distinct_in_order()]
        assert as_events(firsts) == [(e["type"], e["data"], e["timestamp"]) for e in events]
        assert [b["data"]["body"] for b in firsts if b["event"] == "message_received"] == [
            f"slow {n}" for n in range(6)
        ]
        again = [r for r in rx.requests if r.id == cut_off.id]
        assert all(r.body == cut_off.body for r in again)  # the same bytes each time
