"""GraphQL subscriptions over graphql-transport-ws against a real server process.

No sleep stands in for synchronisation: a subscription is known to be live, or to have
streamed everything older, once it streams a marker event the test itself caused (Markers)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
from tests.graphql_events import EVENT_FRAGMENT, as_rest

pytestmark = pytest.mark.e2e

EVENTS_SUBSCRIPTION = (
    """
subscription($id: ID!, $types: [EventType!]) {
  instanceEvents(instanceId: $id, types: $types) { ...EventFields }
}
"""
    + EVENT_FRAGMENT
)


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
        if message["type"] == "complete" and message["id"] not in got:
            continue  # the end of a refused subscription
        assert message["type"] == "next", message
        assert message["id"] in got, message
        assert "errors" not in message["payload"], message
        got[message["id"]].append(as_rest(message["payload"]["data"]["instanceEvents"]))
    return got


async def next_event(ws: Any, within_s: float, expected: set[str]) -> tuple[str, dict[str, Any]]:
    """The next event streamed to one of the `expected` subscriptions; the end of a refused
    subscription is skipped, anything else fails."""
    while True:
        message = await gql_ws_recv(ws, within_s)
        if message["type"] == "complete" and message["id"] not in expected:
            continue
        assert message["type"] == "next", message
        assert message["id"] in expected, f"streamed to an unexpected subscription: {message}"
        assert "errors" not in message["payload"], message
        return message["id"], as_rest(message["payload"]["data"]["instanceEvents"])


class Markers:
    """Synchronisation by signal: each marker is a settings change sent through REST, which
    emits one `webhook_updated` event whose id the test reads back. A subscription that
    streams a marker is live, and has streamed everything published before that marker (one
    server process sends a socket's messages in the order the events were published)."""

    def __init__(self, client: Client, instance_id: str, headers: dict[str, str]) -> None:
        self.client = client
        self.instance_id = instance_id
        self.headers = headers
        self.count = itertools.count(1)

    async def send(self) -> dict[str, Any]:
        """Emits one marker; returns its event as the polling endpoint has it."""
        r = await self.client.http.put(
            f"/api/instances/{self.instance_id}",
            json={"webhookSettings": {"retryInterval": 100_000 + next(self.count)}},
            headers=self.headers,
        )
        assert r.status_code == 200, r.text
        found = await self.client.all_events(
            self.instance_id, self.headers, types="webhook_updated"
        )
        return found[-1]

    async def read_through(
        self,
        ws: Any,
        marker: dict[str, Any],
        live: set[str],
        also: set[str] | None = None,
        within_s: float = 20.0,
    ) -> dict[str, list[dict[str, Any]]]:
        """Reads until every subscription in `live` streamed `marker`; returns what each
        subscription streamed meanwhile, the marker included. Streams to subscriptions in
        `also` are taken too; to any other, they fail the test."""
        expected = live | (also or set())
        got: dict[str, list[dict[str, Any]]] = {}
        waiting = set(live)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while waiting:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"marker {marker['id']} never reached {waiting}: {got}")
            sub_id, event = await next_event(ws, remaining, expected)
            got.setdefault(sub_id, []).append(event)
            if event["id"] == marker["id"]:
                waiting.discard(sub_id)
        return got

    async def until_live(self, ws: Any, subscriptions: set[str]) -> dict[str, Any]:
        """Sends markers until every subscription streamed one, then one last marker read
        through on all of them; returns that last marker (nothing older is in flight)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20.0
        seen: set[str] = set()
        while seen != subscriptions:
            assert loop.time() < deadline, f"only {seen} of {subscriptions} went live"
            await self.send()
            with contextlib.suppress(TimeoutError):
                # only paces the next marker: the outcome comes from what is streamed
                while seen != subscriptions:
                    sub_id, _ = await next_event(ws, 0.2, subscriptions)
                    seen.add(sub_id)
        last = await self.send()
        await self.read_through(ws, last, subscriptions)
        return last

    async def until_ended(self, ws: Any, live: set[str], ended: str) -> None:
        """After a `complete` for `ended`: markers until one reaches `live` and not `ended`."""
        for _ in range(100):
            got = await self.read_through(ws, await self.send(), live, also={ended})
            if ended not in got:
                return
        raise AssertionError(f"{ended} kept streaming after it was completed")

    async def nothing_else(self, ws: Any, live: set[str]) -> None:
        """Only a fresh marker reaches the `live` subscriptions, and nothing reaches any
        other: whatever was published before it has been streamed by then."""
        marker = await self.send()
        got = await self.read_through(ws, marker, live)
        assert set(got) == live, got
        for sub_id, events in got.items():
            assert [e["id"] for e in events] == [marker["id"]], (sub_id, events)


async def test_subscription_streams_live_events(start_server, client_for) -> None:
    # one QR code per pairing attempt: no refresh lands between the test's own steps
    server = await start_server(SANDBOX_QR_INTERVAL_MS="600000")
    client: Client = client_for(server)
    token = await client.login()
    headers = {"Authorization": f"Bearer {token}"}
    instance_id = await client.new_instance(headers, "live")
    await client.wait_status(instance_id, headers, "qr")
    markers = Markers(client, instance_id, headers)

    ws = await gql_ws_open(server)
    try:
        ack = await gql_ws_init(ws, {"Authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        await gql_ws_send(ws, subscribe_message("all", instance_id, None))
        filtered = ["connected", "webhook_updated"]
        await gql_ws_send(ws, subscribe_message("filtered", instance_id, filtered))
        before = (await markers.until_live(ws, {"all", "filtered"}))["timestamp"]

        # A manual reconnect shows a fresh QR code (the instance is not paired yet) ...
        r = await client.http.post(f"/api/instances/{instance_id}/reconnect", headers=headers)
        assert r.status_code == 200, r.text
        await client.wait_status(instance_id, headers, "qr")
        # ... scanning pairs it, and a dropped connection comes back by itself.
        await client.scan(instance_id, headers)
        await client.disconnect(instance_id, headers, "network hiccup")
        await client.wait_status(instance_id, headers, "connected")

        got = await collect(ws, {"all": 4, "filtered": 2})
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

        only = got["filtered"]
        assert [e["type"] for e in only] == ["connected", "connected"]
        polled_connected = await client.all_events(
            instance_id, headers, since=before, types="connected"
        )
        assert [e["id"] for e in only] == [e["id"] for e in polled_connected]
        assert [e["id"] for e in only] == [live[1]["id"], live[3]["id"]]

        # Nothing else is in flight on either subscription.
        await markers.nothing_else(ws, {"all", "filtered"})

        # A completed subscription stops; the other one keeps streaming.
        await gql_ws_send(ws, {"id": "all", "type": "complete"})
        await markers.until_ended(ws, {"filtered"}, "all")
        await client.disconnect(instance_id, headers, "second hiccup")
        await client.wait_status(instance_id, headers, "connected")
        got = await collect(ws, {"filtered": 1})
        assert got["filtered"][0]["type"] == "connected"
        last = await client.all_events(instance_id, headers, since=before, types="connected")
        assert got["filtered"][0]["id"] == last[-1]["id"]
        await markers.nothing_else(ws, {"filtered"})

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

        # Events of that instance never reach the other user's socket: the drop below is
        # published before the markers of the user's own instance, so a leak would be read
        # (and refused) before the markers get through.
        await client.disconnect(instance_id, admin, "hiccup")
        await client.wait_status(instance_id, admin, "connected")

        # The connection itself is still usable for the user's own instance.
        own = await client.new_instance(other, "theirs")
        await client.wait_status(own, other, "qr")
        await gql_ws_send(ws, subscribe_message("own", own, ["connected", "webhook_updated"]))
        markers = Markers(client, own, other)
        await markers.until_live(ws, {"own"})
        await client.scan(own, other)
        got = await collect(ws, {"own": 1})
        assert got["own"][0]["type"] == "connected"
        assert got["own"][0]["data"]["instanceId"] == own
        await markers.nothing_else(ws, {"own"})
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
