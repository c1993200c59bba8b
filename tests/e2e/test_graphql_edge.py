"""GraphQL at the edge of a real server: large and alias-flooded documents sent without
credentials are refused while /healthz keeps answering, and open subscriptions are capped per
user, across connections.

The time bound here is generous on purpose (an order of magnitude above what the refusals
take; before the limits one 0.6 MB document held the event loop for 7.9 s): the figures
themselves come from bench/graphql_limits.py, measured against a baseline in the same run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Client, gql_ws_init, gql_ws_open, gql_ws_recv, gql_ws_send
from tests.e2e.test_subscriptions import Markers, subscribe_message

pytestmark = pytest.mark.e2e

LARGE = "{ " + "instances { id } " * 36_000 + "}"  # 0.6 MB
ALIAS_FLOOD = (
    "{ "
    + " ".join(
        f'a{i}: instanceEvents(id: "x", limit: 1000) {{ events {{ data }} }}' for i in range(2000)
    )
    + " }"
)
SMALL_FLOOD = "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }"
HEALTHZ_BOUND_S = 5.0


async def test_large_documents_and_alias_floods_are_refused_while_healthz_answers(
    start_server, client_for
) -> None:  # type: ignore[no-untyped-def]
    server = await start_server()
    assert len(LARGE) > 600_000
    refusals: list[tuple[int, dict[str, Any]]] = []
    healthz: list[tuple[int, float]] = []
    done = asyncio.Event()

    async with httpx.AsyncClient(base_url=server.base_url, timeout=60.0) as http:

        async def refuse(query: str) -> None:
            answer = await http.post("/graphql", json={"query": query})  # no credentials
            refusals.append((answer.status_code, answer.json()))

        async def poll() -> None:
            while not done.is_set():
                started = time.monotonic()
                answer = await http.get("/healthz")
                healthz.append((answer.status_code, time.monotonic() - started))
                await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        await asyncio.gather(*(refuse(q) for q in [LARGE, ALIAS_FLOOD, SMALL_FLOOD] * 8))
        done.set()
        await poller

    for status, body in refusals:
        assert body["data"] is None, body
        [error] = body["errors"]
        expected = (400, "query_too_complex") if status == 400 else (413, "query_too_large")
        assert (error["extensions"]["status"], error["extensions"]["code"]) == expected, body
    assert sorted(status for status, _ in refusals) == [400] * 8 + [413] * 16
    assert healthz and all(status == 200 for status, _ in healthz)
    assert max(took for _, took in healthz) < HEALTHZ_BOUND_S, healthz


async def test_open_subscriptions_are_capped_per_user_across_connections(
    start_server, client_for
) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(
        GRAPHQL_MAX_SUBSCRIPTIONS_PER_USER="2", SANDBOX_QR_INTERVAL_MS="600000"
    )
    client: Client = client_for(server)
    token = await client.login()
    headers = {"Authorization": f"Bearer {token}"}
    instance_id = await client.new_instance(headers, "capped")
    markers = Markers(client, instance_id, headers)
    first, second = await gql_ws_open(server), await gql_ws_open(server)
    try:
        for ws in (first, second):
            assert (await gql_ws_init(ws, headers))["type"] == "connection_ack"
        await gql_ws_send(first, subscribe_message("a", instance_id, None))
        await markers.until_live(first, {"a"})
        await gql_ws_send(second, subscribe_message("b", instance_id, None))
        await markers.until_live(second, {"b"})

        await gql_ws_send(second, subscribe_message("c", instance_id, None))
        refused = await _refusal(second, "c")
        assert refused["extensions"]["code"] == "limit_exceeded", refused
        assert refused["extensions"]["status"] == 429
        assert refused["extensions"]["max"] == 2
        assert "at most 2" in refused["message"]

        # completing one gives its slot back
        await gql_ws_send(first, {"id": "a", "type": "complete"})
        accepted = await _subscribe_once_free(second, instance_id)
        await markers.until_live(second, {"b", accepted})
    finally:
        await first.close()
        await second.close()


async def _refusal(ws: Any, sub_id: str) -> dict[str, Any]:
    """The error a refused subscription ends with (after any events of the live ones)."""
    while True:
        message = await gql_ws_recv(ws)
        if message.get("id") != sub_id:
            continue
        if message["type"] == "error":
            return dict(message["payload"][0])
        assert message["type"] == "next" and message["payload"].get("errors"), message
        return dict(message["payload"]["errors"][0])


async def _subscribe_once_free(ws: Any, instance_id: str) -> str:
    """A slot is given back when the server has ended the stream: try until one is taken."""
    for attempt in range(50):
        sub_id = f"retry-{attempt}"
        await gql_ws_send(ws, subscribe_message(sub_id, instance_id, None))
        try:
            error = await asyncio.wait_for(_refusal(ws, sub_id), 2.0)
        except TimeoutError:
            return sub_id  # not refused: it is streaming (proved live by the caller)
        assert error["extensions"]["code"] == "limit_exceeded", error
    raise AssertionError("the completed subscription's slot never came back")
