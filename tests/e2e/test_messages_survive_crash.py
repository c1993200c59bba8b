"""Messages, their statuses and events survive a SIGKILL of the server."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from contextlib import closing

import httpx
import pytest

from tests.e2e.conftest import Client, StartServer

pytestmark = pytest.mark.e2e

OUTSIDE = "79001234567"


async def test_messages_and_events_survive_sigkill(start_server: StartServer, client_for) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(SANDBOX_RECEIPT_DELAY_MS="20")
    client: Client = client_for(server)
    admin = await client.admin_headers()
    instance_id = await client.paired_instance(admin)
    sent = []
    for n in range(10):
        r = await client.http.post(
            f"/api/whatsapp/{instance_id}/send",
            json={"phone": OUTSIDE, "message": f"durable {n} 你好"},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        sent.append(r.json()["id"])
    r = await client.http.post(
        f"/api/sandbox/{instance_id}/incoming",
        json={"from": OUTSIDE, "body": "reply"},
        headers=admin,
    )
    received = r.json()["messageId"]
    before = await client.all_events(instance_id, admin)

    assert await server.stop(signal.SIGKILL) == -signal.SIGKILL
    again = await start_server(data_dir=server.data_dir)
    after_client: Client = client_for(again)
    await after_client.wait_status(instance_id, admin, "connected")

    history = (
        await after_client.http.get(
            f"/api/instances/{instance_id}/chats/{OUTSIDE}/messages?limit=100", headers=admin
        )
    ).json()
    ids = [m["messageId"] for m in history["messages"]]
    assert set(sent) | {received} == set(ids) and len(ids) == 11
    assert {m["content"] for m in history["messages"] if m["fromMe"]} == {
        f"durable {n} 你好" for n in range(10)
    }
    assert all(
        m["status"] in ("sent", "delivered", "read") for m in history["messages"] if m["fromMe"]
    )
    events_after = await after_client.all_events(instance_id, admin)
    assert [e["id"] for e in events_after[: len(before)]] == [e["id"] for e in before]


async def test_a_sigkill_during_a_burst_of_sends_loses_no_answered_send(  # type: ignore[no-untyped-def]
    start_server: StartServer, client_for
) -> None:
    """Sends whose answer was 200 are on disk when the answer leaves: a SIGKILL in the
    middle of a burst (many units of work per group commit) loses none of them, stores
    none twice, and leaves a sound database."""
    server = await start_server(SANDBOX_RECEIPT_DELAY_MS="5")
    client: Client = client_for(server)
    admin = await client.admin_headers()
    instance_id = await client.paired_instance(admin)
    answered: list[str] = []
    stop = asyncio.Event()

    async def sender(worker: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                r = await client.http.post(
                    f"/api/whatsapp/{instance_id}/send",
                    json={"phone": OUTSIDE, "message": f"burst {worker}-{n}"},
                    headers=admin,
                )
            except httpx.HTTPError:
                return  # the server is gone: this send has no answer
            n += 1
            if r.status_code != 200:
                return
            answered.append(r.json()["id"])

    senders = [asyncio.create_task(sender(w)) for w in range(16)]
    while len(answered) < 150:  # well into the burst, with sends in flight
        await asyncio.sleep(0.01)
        assert not all(t.done() for t in senders), "the senders stopped early"
    assert await server.stop(signal.SIGKILL) == -signal.SIGKILL
    stop.set()
    await asyncio.gather(*senders)

    database = server.data_dir / "whatsapp-api.db"
    with closing(sqlite3.connect(database)) as db:  # recovers the WAL as SQLite opens it
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute(
            "SELECT message_id, count(*) FROM messages WHERE instance_id = ? AND from_me = 1 "
            "GROUP BY message_id",
            (instance_id,),
        ).fetchall()
    stored = {message_id: count for message_id, count in rows}
    assert set(answered) <= set(stored)  # every 200 is stored
    assert all(count == 1 for count in stored.values())  # ... and nothing twice
    assert len(answered) == len(set(answered))

    again = await start_server(data_dir=server.data_dir)
    after: Client = client_for(again)
    await after.wait_status(instance_id, admin, "connected")
    history = (
        await after.http.get(
            f"/api/instances/{instance_id}/chats/{OUTSIDE}/messages?limit=1000", headers=admin
        )
    ).json()
    listed = [m["messageId"] for m in history["messages"]]
    assert set(answered) <= set(listed) and len(listed) == len(set(listed)) == len(stored)
