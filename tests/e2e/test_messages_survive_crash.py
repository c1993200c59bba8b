"""Messages, their statuses and events survive a SIGKILL of the server."""

from __future__ import annotations

import signal

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
