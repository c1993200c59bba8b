"""Start-up restore survives a crash half-way: after the next start every paired instance is
connected again, with its own `connected` event and webhook, and none asks for a QR code.

The restore writes the instances' connection reports in batches (domain/connection.py);
this proves a batch cut short by SIGKILL leaves nothing that the next start cannot finish."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Client
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

INSTANCES = 40
ENV = {"WEBHOOK_POLL_INTERVAL_MS": "100", "SANDBOX_QR_DELAY_MS": "0"}


async def paired(client: Client, h: dict[str, str], n: int, url: str) -> str:
    r = await client.http.post(
        "/api/instances",
        json={
            "name": f"restore {n}",
            "engine": "sandbox",
            "webhookUrl": url,
            "webhookEnabled": True,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    iid = str(r.json()["id"])
    await client.wait_status(iid, h, "qr")
    await client.scan(iid, h)
    await client.wait_status(iid, h, "connected")
    return iid


def connected_since(rx: WebhookReceiver, since_ms: int) -> dict[str, int]:
    """instance id -> how many `connected` webhooks of events stamped at or after since_ms."""
    found: dict[str, int] = {}
    for request in rx.of_event("connected"):
        body: dict[str, Any] = request.json()
        stamp = datetime.fromisoformat(body["timestamp"]).timestamp() * 1000
        if stamp >= since_ms:
            iid = body["data"]["instanceId"]
            found[iid] = found.get(iid, 0) + 1
    return found


async def test_a_crash_during_restore_loses_no_instance(start_server, client_for) -> None:
    async with WebhookReceiver() as rx:
        first = client_for(await start_server(**ENV))
        h = await first.admin_headers()
        ids = list(await asyncio.gather(*(paired(first, h, n, rx.url) for n in range(INSTANCES))))
        await rx.wait_for(lambda _: len(connected_since(rx, 0)) == INSTANCES, within=30.0)
        assert await first.server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)

        # One instance at a time: each takes at least the sandbox's handshake (50 ms), so
        # the restore of all of them lasts seconds and the kill below lands half-way.
        second_ms = int(time.time() * 1000)
        second = await start_server(first.server.data_dir, RESTORE_CONCURRENCY="1", **ENV)
        await rx.wait_for(lambda _: len(connected_since(rx, second_ms)) >= 1, within=30.0)
        assert await second.stop(signal.SIGKILL) == -signal.SIGKILL
        came_back_before_the_kill = set(connected_since(rx, second_ms))
        assert 1 <= len(came_back_before_the_kill) < INSTANCES

        third_ms = int(time.time() * 1000)
        third = client_for(await start_server(first.server.data_dir, **ENV))
        for iid in ids:
            await third.wait_status(iid, h, "connected")
        await rx.wait_for(lambda _: len(connected_since(rx, third_ms)) == INSTANCES, within=30.0)
        # Each came back once in this start, from its stored session: no QR code shown.
        assert connected_since(rx, third_ms) == dict.fromkeys(ids, 1)
        qr_shown = [r.json()["data"]["instanceId"] for r in rx.of_event("qr_received")]
        assert sorted(qr_shown) == sorted(ids), "only the first pairing may show a QR code"
