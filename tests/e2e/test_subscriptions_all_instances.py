"""The `events` and `instanceStatus` subscriptions: every instance a caller may see, on one
socket, including instances created after the subscription opened (a real server process).

Synchronisation is by signal: the test waits until an event it caused arrives."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    Client,
    gql_ws_init,
    gql_ws_open,
    gql_ws_recv,
    gql_ws_send,
)

pytestmark = pytest.mark.e2e

EVENTS = """
subscription($types: [EventType!]) {
  events(types: $types) {
    __typename type timestamp
    ... on MessageReceived { data { instanceId messageId from body } }
    ... on MessageStatus { data { instanceId messageId status fromMe } }
    ... on WebhookUpdated { data { instanceId } }
  }
}
"""
STATUSES = """
subscription { instanceStatus { instance { id name } status { status ready hasQr } } }
"""


async def _next(ws: Any, sub_id: str, field: str, within_s: float = 30.0) -> dict[str, Any]:
    message = await gql_ws_recv(ws, within_s)
    assert message["type"] == "next" and message["id"] == sub_id, message
    assert "errors" not in message["payload"], message
    return dict(message["payload"]["data"][field])


async def _marker(client: Client, instance_id: str, headers: dict[str, str], n: int) -> None:
    """A settings change: one webhook_updated event on `instance_id`."""
    r = await client.http.put(
        f"/api/instances/{instance_id}",
        json={"webhookSettings": {"retryInterval": 100_000 + n}},
        headers=headers,
    )
    assert r.status_code == 200, r.text


async def _send(client: Client, instance_id: str, headers: dict[str, str], to: str) -> str:
    r = await client.http.post(
        f"/api/whatsapp/{instance_id}/send", json={"phone": to, "message": "hi"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])  # WhatsApp's message id


async def test_one_events_subscription_covers_every_instance_even_new_ones(
    start_server: Any, client_for: Any
) -> None:
    server = await start_server(SANDBOX_QR_INTERVAL_MS="600000")
    client: Client = client_for(server)
    alice = await client.new_user("alice@example.com")
    bob = await client.new_user("bob@example.com")
    first = await client.paired_instance(alice, "first")
    foreign = await client.paired_instance(bob, "bob's")

    ws = await gql_ws_open(server)
    try:
        assert (await gql_ws_init(ws, alice))["type"] == "connection_ack"
        types = ["message_received", "message_status", "webhook_updated"]
        payload = {"query": EVENTS, "variables": {"types": types}}
        await gql_ws_send(ws, {"id": "all", "type": "subscribe", "payload": payload})
        # Live once a marker of the caller's own instance arrives.
        marker = 0
        while True:
            marker += 1
            await _marker(client, first, alice, marker)
            try:
                event = await _next(ws, "all", "events", within_s=1.0)
            except TimeoutError:
                continue
            assert event["__typename"] == "WebhookUpdated", event
            break

        # An instance created after the subscription opened is streamed too ...
        second = await client.paired_instance(alice, "second")
        # ... Bob's instance never is: his message and marker come first, Alice's after.
        await _marker(client, foreign, bob, 1)
        await _send(client, foreign, bob, "79001234567")
        # Alice's instances write to each other: received on one, receipts on the other.
        first_phone = (await client.http.get(f"/api/instances/{first}", headers=alice)).json()
        second_phone = (await client.http.get(f"/api/instances/{second}", headers=alice)).json()
        sent_id = await _send(client, first, alice, second_phone["phone"])
        got: list[dict[str, Any]] = []
        while not any(e["__typename"] == "MessageReceived" for e in got):
            got.append(await _next(ws, "all", "events"))
        # The second instance reads it: a read receipt reaches the first.
        chat = str(first_phone["phone"])
        r = await client.http.post(f"/api/instances/{second}/chats/{chat}/read", headers=alice)
        assert r.status_code == 200, r.text
        while not any(
            e["__typename"] == "MessageStatus" and e["data"]["status"] == "read" for e in got
        ):
            got.append(await _next(ws, "all", "events"))
        received = [e for e in got if e["__typename"] == "MessageReceived"]
        statuses = [e for e in got if e["__typename"] == "MessageStatus"]
        assert [e["data"]["instanceId"] for e in received] == [second]
        assert received[0]["data"]["messageId"] == sent_id
        assert received[0]["data"]["from"].startswith(str(first_phone["phone"]).lstrip("+"))
        assert {e["data"]["instanceId"] for e in statuses} == {first}
        assert [e["data"]["status"] for e in statuses][-1] == "read"
        assert all(e["data"]["messageId"] == sent_id for e in statuses)
        assert {e["type"] for e in got} <= {"message_received", "message_status", "webhook_updated"}
        assert foreign not in {e["data"]["instanceId"] for e in got}
    finally:
        await ws.close()


async def test_instance_status_streams_each_connection_change(
    start_server: Any, client_for: Any
) -> None:
    server = await start_server(SANDBOX_QR_INTERVAL_MS="600000")
    client: Client = client_for(server)
    alice = await client.new_user("alice@example.com")
    ws = await gql_ws_open(server)
    try:
        assert (await gql_ws_init(ws, alice))["type"] == "connection_ack"
        await gql_ws_send(ws, {"id": "s", "type": "subscribe", "payload": {"query": STATUSES}})
        # The first instance is created after the subscription: its QR code is a change. The
        # subscription may not be live yet when the first QR comes, so reconnect until it is.
        iid = await client.new_instance(alice, "watched")
        await client.wait_status(iid, alice, "qr")
        while True:
            r = await client.http.post(f"/api/instances/{iid}/reconnect", headers=alice)
            assert r.status_code == 200, r.text
            try:
                change = await _next(ws, "s", "instanceStatus", within_s=2.0)
                break
            except TimeoutError:
                continue
        assert change["instance"] == {"id": iid, "name": "watched"}
        assert change["status"]["status"] in ("qr", "connecting")
        await client.wait_status(iid, alice, "qr")
        await client.scan(iid, alice)
        while change["status"]["status"] != "connected":
            change = await _next(ws, "s", "instanceStatus")
        assert change["status"] == {"status": "connected", "ready": True, "hasQr": False}
        await client.disconnect(iid, alice, "logout")
        change = await _next(ws, "s", "instanceStatus")
        assert change["instance"]["id"] == iid
        assert change["status"]["status"] in ("disconnected", "logged_out")
        assert change["status"]["ready"] is False
    finally:
        await ws.close()
