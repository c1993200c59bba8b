"""Tenant isolation of every GraphQL subscription (generated from the schema, like the HTTP
sweep in tests/api/test_isolation_generated.py), over graphql-transport-ws on a real server:
tenant B subscribing to tenant A's objects gets a 404/403 error, no credential is refused
at connection_init."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import (
    Client,
    ServerProcess,
    StartServer,
    gql_ws_init,
    gql_ws_open,
    gql_ws_recv,
    gql_ws_send,
)
from tests.isolation import Tenant, graphql_attempts

pytestmark = pytest.mark.e2e


async def test_subscriptions_refuse_the_second_tenant_and_strangers(
    start_server: StartServer, client_for: Callable[[ServerProcess], Client]
) -> None:
    server = await start_server(WHATSAPP_ENGINE="sandbox")
    client = client_for(server)
    alice = await client.new_user("alice@example.com")
    bob = await client.new_user("bob@example.com")
    iid = await client.paired_instance(alice)
    me = (await client.http.get("/api/auth/me", headers=alice)).json()
    a = Tenant(user=me["id"], instance=iid, media="none", message="none", delivery="none")
    attempts, missing = graphql_attempts(a)
    assert not missing, missing
    subscriptions = [g for g in attempts if g.operation == "subscription"]
    assert subscriptions and all(g.scoped for g in subscriptions)

    for attempt in subscriptions:
        ws = await gql_ws_open(server)
        try:
            assert (await gql_ws_init(ws, bob))["type"] == "connection_ack"
            payload = {"query": attempt.document, "variables": attempt.variables}
            await gql_ws_send(ws, {"id": "1", "type": "subscribe", "payload": payload})
            answer = await gql_ws_recv(ws)
            if answer["type"] == "next":  # an execution error comes as a result with errors
                errors = answer["payload"].get("errors") or []
                assert not answer["payload"].get("data"), (str(attempt), answer)
            else:
                assert answer["type"] == "error", (str(attempt), answer)
                errors = answer["payload"]
            assert errors and errors[0]["extensions"]["status"] in (403, 404), answer
        finally:
            await ws.close()

    # Without a credential no subscription can even be sent: the connection is refused.
    ws = await gql_ws_open(server)
    try:
        await gql_ws_send(ws, {"type": "connection_init", "payload": {}})
        with pytest.raises(ConnectionClosed) as closed:
            await gql_ws_recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    finally:
        await ws.close()

    # A's instance is as it was.
    assert (await client.status(iid, alice))["status"] == "connected"
