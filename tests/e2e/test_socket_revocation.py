"""A GraphQL websocket loses its rights when its caller does, against a real server.

For each way a caller can lose rights (deactivation, deletion, demotion, key rotation,
password change, token expiry) two sockets are open before the change: an idle one, whose
next operation must be refused, and one with a running subscription, which must end with
the socket closed with 4403. The server re-checks running subscriptions only once an hour
(AUTH_RECHECK_INTERVAL_MS), so a socket closed within the test's wait was closed by the
account notice (or, for expiry, by the wake-up at the token's expiry)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import (
    JWT_SECRET,
    Client,
    ServerProcess,
    gql_ws_init,
    gql_ws_open,
    gql_ws_recv,
    gql_ws_send,
)
from tests.e2e.test_subscriptions import Markers, subscribe_message

pytestmark = pytest.mark.e2e

HOUR_MS = "3600000"
CLOSE_WITHIN_S = 20.0  # bounds a hang only


@dataclass
class Scene:
    server: ServerProcess
    client: Client
    root: dict[str, str]  # the first admin's headers: makes the changes, sends the markers
    victim_id: str
    victim_key: str


async def scene(start_server: Any, client_for: Any, role: str = "user") -> Scene:
    server = await start_server(AUTH_RECHECK_INTERVAL_MS=HOUR_MS)
    client: Client = client_for(server)
    root = await client.admin_headers()
    r = await client.http.post(
        "/api/users",
        json={"email": "victim@example.com", "password": "victim-password-1", "role": role},
        headers=root,
    )
    assert r.status_code == 201, r.text
    return Scene(server, client, root, r.json()["id"], r.json()["apiKey"])


async def victim_token(s: Scene, password: str = "victim-password-1") -> str:
    return await s.client.login("victim@example.com", password)


@asynccontextmanager
async def sockets(
    s: Scene, params: dict[str, Any], instance_id: str
) -> AsyncIterator[tuple[ClientConnection, ClientConnection]]:
    """An idle socket, and one whose subscription to `instance_id` is live."""
    idle, live = await gql_ws_open(s.server), await gql_ws_open(s.server)
    try:
        for ws in (idle, live):
            ack = await gql_ws_init(ws, params)
            assert ack["type"] == "connection_ack", ack
        await gql_ws_send(live, subscribe_message("events", instance_id, None))
        await Markers(s.client, instance_id, s.root).until_live(live, {"events"})
        yield idle, live
    finally:
        await idle.close()
        await live.close()


async def refused(ws: ClientConnection, query: str, variables: dict[str, Any] | None = None) -> Any:
    """Runs one operation on the socket; returns its single error (it must not succeed)."""
    await gql_ws_send(
        ws,
        {"id": "op", "type": "subscribe", "payload": {"query": query, "variables": variables}},
    )
    message = await gql_ws_recv(ws, CLOSE_WITHIN_S)
    assert message["id"] == "op", message
    if message["type"] == "error":
        errors = message["payload"]
    else:
        assert message["type"] == "next", message
        assert message["payload"].get("data") is None, message
        errors = message["payload"]["errors"]
    assert len(errors) == 1, errors
    return errors[0]


async def closed_with_4403(ws: ClientConnection, within_s: float = CLOSE_WITHIN_S) -> str:
    """Reads until the server closes the socket (events still in flight are skipped);
    returns the close reason."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            message = await gql_ws_recv(ws, max(0.1, deadline - loop.time()))
            assert message["type"] == "next" and message["id"] == "events", message
    assert closed.value.rcvd is not None, closed.value
    assert closed.value.rcvd.code == 4403, closed.value.rcvd
    return closed.value.rcvd.reason


async def test_deactivation(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    key = {"x-api-key": s.victim_key}
    own = await s.client.new_instance(key, "victim's")
    async with sockets(s, key, own) as (idle, live):
        r = await s.client.http.put(
            f"/api/users/{s.victim_id}", json={"isActive": False}, headers=s.root
        )
        assert r.status_code == 200, r.text
        error = await refused(idle, "{ instances { id } }")
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        assert await closed_with_4403(live) == "Invalid API key"


async def test_deletion(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    bearer = {"Authorization": f"Bearer {await victim_token(s)}"}
    own = await s.client.new_instance(bearer, "victim's")
    async with sockets(s, bearer, own) as (idle, live):
        r = await s.client.http.delete(f"/api/users/{s.victim_id}", headers=s.root)
        assert r.status_code == 200, r.text
        # the case: this was a 500 (a foreign key error) before
        error = await refused(
            idle,
            'mutation { createInstance(input: {name: "x", engine: sandbox}) { instance { id } } }',
        )
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        await closed_with_4403(live)
    r = await s.client.http.get("/api/instances", headers=s.root)
    assert r.status_code == 200 and r.json()["instances"] == [], r.text


async def test_demotion(start_server: Any, client_for: Any) -> None:
    """A demoted admin cannot promote themselves back, and stops seeing another user's
    instance; their API key itself stays valid."""
    s = await scene(start_server, client_for, role="admin")
    key = {"x-api-key": s.victim_key}
    roots = await s.client.new_instance(s.root, "root's")
    async with sockets(s, key, roots) as (idle, live):
        r = await s.client.http.put(
            f"/api/users/{s.victim_id}", json={"role": "user"}, headers=s.root
        )
        assert r.status_code == 200, r.text
        error = await refused(
            idle,
            "mutation($id: ID!) { updateUser(id: $id, input: {role: admin}) { user { role } } }",
            {"id": s.victim_id},
        )
        assert error["extensions"] == {"code": "forbidden", "status": 403}, error
        await closed_with_4403(live)
    me = await s.client.http.get("/api/auth/me", headers=key)
    assert me.status_code == 200 and me.json()["role"] == "user", me.text


async def test_key_rotation(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    key = {"x-api-key": s.victim_key}
    own = await s.client.new_instance(key, "victim's")
    async with sockets(s, key, own) as (idle, live):
        r = await s.client.http.post("/api/auth/api-key/rotate", headers=key)
        assert r.status_code == 200, r.text
        error = await refused(idle, "{ me { id } }")
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        assert error["message"] == "Invalid API key"
        await closed_with_4403(live)


async def test_key_rotation_by_an_admin(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    key = {"x-api-key": s.victim_key}
    own = await s.client.new_instance(key, "victim's")
    async with sockets(s, key, own) as (idle, live):
        r = await s.client.http.post(f"/api/users/{s.victim_id}/api-key/rotate", headers=s.root)
        assert r.status_code == 200, r.text
        error = await refused(idle, "{ me { id } }")
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        assert error["message"] == "Invalid API key"
        await closed_with_4403(live)


async def test_password_change(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    bearer = {"Authorization": f"Bearer {await victim_token(s)}"}
    own = await s.client.new_instance(bearer, "victim's")
    async with sockets(s, bearer, own) as (idle, live):
        r = await s.client.http.put(
            f"/api/users/{s.victim_id}", json={"password": "changed-password-1"}, headers=s.root
        )
        assert r.status_code == 200, r.text
        error = await refused(idle, "{ me { id } }")
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        assert "revoked" in error["message"]
        assert "revoked" in await closed_with_4403(live)
    # the new password gives a token that works
    fresh = await victim_token(s, "changed-password-1")
    me = await s.client.http.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status_code == 200, me.text


def short_token(user_id: str, lifetime_s: int) -> tuple[str, float]:
    """A token of the server's own making (same secret and claims), expiring soon."""
    now = int(time.time())
    claims = {"sub": user_id, "ver": 0, "role": "user", "iat": now, "exp": now + lifetime_s}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256"), float(now + lifetime_s)


async def with_short_token(
    s: Scene,
    instance_id: str,
    body: Callable[[ClientConnection, ClientConnection, float], Awaitable[None]],
) -> None:
    """Runs `body` on sockets opened with a token that expires once they are live; a slow
    machine gets a longer lifetime rather than a failed test."""
    for lifetime_s in (3, 6, 12, 24, 48, 96):
        token, expires = short_token(s.victim_id, lifetime_s)
        try:
            async with sockets(s, {"Authorization": f"Bearer {token}"}, instance_id) as (i, v):
                if time.time() < expires - 1:  # live before it expired: the case to test
                    await body(i, v, expires - time.time())
                    return
        except AssertionError:
            if time.time() < expires:
                raise  # not a matter of time: a real failure
    raise AssertionError("could not open the sockets within 96 s")


async def test_token_expiry(start_server: Any, client_for: Any) -> None:
    s = await scene(start_server, client_for)
    own = await s.client.new_instance({"x-api-key": s.victim_key}, "victim's")

    async def body(idle: ClientConnection, live: ClientConnection, left_s: float) -> None:
        # no change is made: the server wakes the subscription at the token's expiry
        assert await closed_with_4403(live, left_s + CLOSE_WITHIN_S) == "Token expired"
        error = await refused(idle, "{ me { id } }")
        assert error["extensions"] == {"code": "unauthorized", "status": 401}, error
        assert error["message"] == "Token expired"

    await with_short_token(s, own, body)
