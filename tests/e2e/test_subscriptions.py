"""GraphQL subscriptions over graphql-transport-ws against a real server process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import (
    Client,
    gql_ws_init,
    gql_ws_open,
    gql_ws_recv,
    gql_ws_send,
)

pytestmark = pytest.mark.e2e

EVENTS_SUBSCRIPTION = """
subscription($id: ID!, $types: [String!]) {
  instanceEvents(instanceId: $id, types: $types) { id type timestamp data }
}
"""


def subscribe_message(sub_id: str, instance_id: str, types: list[str] | None) -> dict[str, Any]:
    variables: dict[str, Any] = {"id": instance_id}
    if types is not None:
        variables["types"] = types
    return {
        "id": sub_id,
        "type": "subscribe",
        "payload": {"query": EVENTS_SUBSCRIPTION, "variables": variables},
    }


async def collect(ws: Any, wanted: dict[str, int], within_s: float = 10.0) -> dict[str, list[Any]]:
    """Reads messages until each subscription id in `wanted` got that many events."""
    got: dict[str, list[Any]] = {sub_id: [] for sub_id in wanted}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while any(len(got[s]) < n for s, n in wanted.items()):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for events; got {got}")
        message = await gql_ws_recv(ws, remaining)
        assert message["type"] == "next", message
        assert message["id"] in got, message
        assert "errors" not in message["payload"], message
        got[message["id"]].append(message["payload"]["data"]["instanceEvents"])
    return got


async def test_subscription_streams_live_events(start_server, client_for) -> None:
    server = await start_server()
    client: Client = client_for(server)
    token = await client.login()
    headers = {"Authorization": f"Bearer {token}"}
    instance_id = await client.new_instance(headers, "live")
    await client.wait_status(instance_id, headers, "qr")
    before = await client.latest_timestamp(instance_id, headers)
    assert before is not None  # the first qr_received

    ws = await gql_ws_open(server)
    try:
        ack = await gql_ws_init(ws, {"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        await gql_ws_send(ws, subscribe_message("all", instance_id, None))
        await gql_ws_send(ws, subscribe_message("only-connected", instance_id, ["connected"]))
        await asyncio.sleep(0.5)  # let both subscriptions reach the event bus

        # A manual reconnect shows a fresh QR code (the instance is not paired yet) ...
        r = await client.http.post(f"/api/instances/{instance_id}/reconnect", headers=headers)
        assert r.status_code == 200, r.text
        await client.wait_status(instance_id, headers, "qr")
        # ... scanning pairs it, and a dropped connection comes back by itself.
        await client.scan(instance_id, headers)
        await client.disconnect(instance_id, headers, "network hiccup")
        await client.wait_status(instance_id, headers, "connected")

        got = await collect(ws, {"all": 4, "only-connected": 2})
        live = got["all"]
        assert [e["type"] for e in live] == [
            "qr_received",
            "connected",
            "disconnected",
            "connected",
        ]
        assert live[2]["data"]["reason"] == "network hiccup"
        assert live[2]["data"]["willReconnect"] is True
        assert all(e["data"]["instanceId"] == instance_id for e in live)

        # Exactly what the polling endpoint has for the same period: ids, order and payloads.
        polled = await client.all_events(instance_id, headers, since=before)
        assert [e["id"] for e in live] == [e["id"] for e in polled]
        assert live == polled

        only = got["only-connected"]
        assert [e["type"] for e in only] == ["connected", "connected"]
        polled_connected = await client.all_events(
            instance_id, headers, since=before, types="connected"
        )
        assert [e["id"] for e in only] == [e["id"] for e in polled_connected]
        assert [e["id"] for e in only] == [live[1]["id"], live[3]["id"]]

        # Nothing else is in flight on either subscription.
        with pytest.raises(TimeoutError):
            extra = await gql_ws_recv(ws, 0.5)
            raise AssertionError(f"unexpected message {extra}")

        # A completed subscription stops; the other one keeps streaming.
        await gql_ws_send(ws, {"id": "all", "type": "complete"})
        await asyncio.sleep(0.2)
        await client.disconnect(instance_id, headers, "second hiccup")
        await client.wait_status(instance_id, headers, "connected")
        got = await collect(ws, {"only-connected": 1})
        assert got["only-connected"][0]["type"] == "connected"
        last = await client.all_events(instance_id, headers, since=before, types="connected")
        assert got["only-connected"][0]["id"] == last[-1]["id"]
        with pytest.raises(TimeoutError):
            extra = await gql_ws_recv(ws, 0.5)
            raise AssertionError(f"unexpected message after complete: {extra}")

        # SIGTERM with a subscription open: the server closes the socket and exits promptly.
        loop = asyncio.get_running_loop()
        started = loop.time()
        code = await server.stop(signal.SIGTERM)
        assert loop.time() - started < 5.0
        assert code in (0, -signal.SIGTERM), f"exit code {code}; stderr:\n{server.stderr()}"
        with pytest.raises(ConnectionClosed):
            extra = await gql_ws_recv(ws, 5)
            raise AssertionError(f"unexpected message during shutdown: {extra}")
    finally:
        await ws.close()


async def expect_rejected(server: Any, params: dict[str, Any]) -> None:
    ws = await gql_ws_open(server)
    try:
        await gql_ws_send(ws, {"type": "connection_init", "payload": params})
        with pytest.raises(ConnectionClosed) as closed:
            message = await gql_ws_recv(ws, 10)
            raise AssertionError(f"expected the socket to close, got {message}")
        assert closed.value.rcvd is not None, closed.value
        assert closed.value.rcvd.code == 4403, closed.value
    finally:
        await ws.close()


async def test_subscription_rejects_bad_credentials(start_server, client_for) -> None:
    server = await start_server()
    client: Client = client_for(server)
    admin = await client.admin_headers()
    instance_id = await client.paired_instance(admin, "admin's")

    await expect_rejected(server, {"x-api-key": "nope"})
    await expect_rejected(server, {"Authorization": "Bearer not-a-jwt"})
    await expect_rejected(server, {})

    # A valid key of another user is accepted, but the admin's instance is not theirs.
    other = await client.new_user("other@example.com")
    ws = await gql_ws_open(server)
    try:
        ack = await gql_ws_init(ws, {"x-api-key": other["x-api-key"]})
        assert ack["type"] == "connection_ack", ack
        await gql_ws_send(ws, subscribe_message("foreign", instance_id, None))
        message = await gql_ws_recv(ws, 10)
        assert message["id"] == "foreign", message
        if message["type"] == "error":
            errors = message["payload"]
        else:
            assert message["type"] == "next", message
            assert message["payload"].get("data") is None, message
            errors = message["payload"]["errors"]
        assert errors, message
        assert "not found" in errors[0]["message"].lower(), errors

        # Events of that instance never reach the other user's socket.
        await client.disconnect(instance_id, admin, "hiccup")
        await client.wait_status(instance_id, admin, "connected")
        with contextlib.suppress(TimeoutError):
            while True:
                message = await gql_ws_recv(ws, 0.5)
                assert message["type"] == "complete" and message["id"] == "foreign", message

        # The connection itself is still usable for the user's own instance.
        own = await client.new_instance(other, "theirs")
        await client.wait_status(own, other, "qr")
        await gql_ws_send(ws, subscribe_message("own", own, ["connected"]))
        await asyncio.sleep(0.5)
        await client.scan(own, other)
        got = await collect(ws, {"own": 1})
        assert got["own"][0]["type"] == "connected"
        assert got["own"][0]["data"]["instanceId"] == own
    finally:
        await ws.close()


async def test_subscription_errors_carry_domain_codes(start_server, client_for) -> None:
    """A subscription's domain error has the same extensions (code, status) as a query's."""
    server = await start_server()
    client: Client = client_for(server)
    admin = await client.admin_headers()
    instance_id = await client.new_instance(admin, "admin's")
    other = await client.new_user("other@example.com")

    r = await client.http.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { instance(id: $id) { id } }",
            "variables": {"id": instance_id},
        },
        headers=other,
    )
    assert r.status_code == 200, r.text
    query_error = r.json()["errors"][0]
    assert query_error["extensions"] == {"code": "not_found", "status": 404}, query_error

    ws = await gql_ws_open(server)
    try:
        ack = await gql_ws_init(ws, {"x-api-key": other["x-api-key"]})
        assert ack["type"] == "connection_ack", ack
        await gql_ws_send(ws, subscribe_message("foreign", instance_id, None))
        message = await gql_ws_recv(ws, 10)
        assert message["id"] == "foreign", message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["message"] == query_error["message"], errors
        assert errors[0].get("extensions") == query_error["extensions"], errors
    finally:
        await ws.close()
