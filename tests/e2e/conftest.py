"""End-to-end fixtures: the real server (`python -m api serve`) as a subprocess on 127.0.0.1.

Each server runs in its own process with its own port, on a data dir under tmp_path, with
cwd there so no `.env` file is read (tests/realserver.py, shared with bench/). Tests talk to
it only over HTTP and websockets.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.realserver import RealServer, ServerFailed

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
JWT_SECRET = "e2e-secret-" + "x" * 40
GQL_WS_PROTOCOL = "graphql-transport-ws"


class ServerProcess(RealServer):
    """`python -m api serve` for one test (tests/realserver.py), failing the test if it
    does not come up."""

    def __init__(self, data_dir: Path, log_dir: Path, index: int, env: dict[str, str]) -> None:
        super().__init__(
            data_dir,
            log_dir,
            f"server-{index}",
            {"SANDBOX_RECONNECT_DELAY_MS": "50", **env},
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            jwt_secret=JWT_SECRET,
        )

    async def start(self) -> None:
        self.spawn()
        try:
            await self.wait_healthy_async()
        except ServerFailed as exc:
            pytest.fail(str(exc))

    async def stop(self, sig: int = signal.SIGTERM) -> int | None:  # type: ignore[override]
        """Sends `sig` (SIGKILL if it lingers); returns the exit code."""
        return await self.astop(sig)


class Client:
    """An httpx client on a running server, with the helpers the e2e tests share."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=15.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
        r = await self.http.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    async def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.login()}"}

    async def new_user(self, email: str, password: str = "user-password-1") -> dict[str, str]:
        """Creates a user (as admin); returns its x-api-key headers."""
        r = await self.http.post(
            "/api/users",
            json={"email": email, "password": password, "firstName": "E2e", "lastName": "User"},
            headers=await self.admin_headers(),
        )
        assert r.status_code == 201, r.text
        return {"x-api-key": r.json()["apiKey"]}

    async def new_instance(self, headers: dict[str, str], name: str = "e2e") -> str:
        r = await self.http.post(
            "/api/instances", json={"name": name, "engine": "sandbox"}, headers=headers
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def status(self, instance_id: str, headers: dict[str, str]) -> dict[str, Any]:
        r = await self.http.get(f"/api/instances/{instance_id}/status", headers=headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def wait_status(
        self, instance_id: str, headers: dict[str, str], status: str, within_s: float = 30.0
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            body = await self.status(instance_id, headers)
            if body["status"] == status:
                return body
            if loop.time() > deadline:
                raise AssertionError(
                    f"instance {instance_id} stayed {body['status']!r}, wanted {status!r}"
                )
            await asyncio.sleep(0.02)

    async def scan(self, instance_id: str, headers: dict[str, str]) -> None:
        r = await self.http.post(f"/api/sandbox/{instance_id}/scan", json={}, headers=headers)
        assert r.status_code == 200, r.text

    async def disconnect(self, instance_id: str, headers: dict[str, str], reason: str) -> None:
        r = await self.http.post(
            f"/api/sandbox/{instance_id}/disconnect", json={"reason": reason}, headers=headers
        )
        assert r.status_code == 200, r.text

    async def paired_instance(self, headers: dict[str, str], name: str = "e2e") -> str:
        instance_id = await self.new_instance(headers, name)
        await self.wait_status(instance_id, headers, "qr")
        await self.scan(instance_id, headers)
        await self.wait_status(instance_id, headers, "connected")
        return instance_id

    async def events_page(
        self,
        instance_id: str,
        headers: dict[str, str],
        since: str | None = None,
        limit: int | None = None,
        types: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if since is not None:
            params["since"] = since
        if limit is not None:
            params["limit"] = limit
        if types is not None:
            params["types"] = types
        r = await self.http.get(
            f"/api/instances/{instance_id}/events", params=params, headers=headers
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def all_events(
        self,
        instance_id: str,
        headers: dict[str, str],
        since: str | None = None,
        types: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Every event after `since` (from the start when None), paging through hasMore."""
        found: list[dict[str, Any]] = []
        while True:
            page = await self.events_page(instance_id, headers, since, limit, types)
            found.extend(page["events"])
            if page["events"]:
                since = page["latestTimestamp"]
            if not page["hasMore"]:
                return found

    async def latest_timestamp(self, instance_id: str, headers: dict[str, str]) -> str | None:
        events = await self.all_events(instance_id, headers)
        return events[-1]["timestamp"] if events else None


StartServer = Callable[..., Awaitable[ServerProcess]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Starts servers (by default on tmp_path/data); every one still running is stopped."""
    servers: list[ServerProcess] = []
    log_dir = tmp_path / "logs"
    log_dir.mkdir()

    async def start(data_dir: Path | None = None, **env: str) -> ServerProcess:
        directory = data_dir or tmp_path / "data"
        directory.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(directory, log_dir, len(servers), env)
        servers.append(server)
        await server.start()
        return server

    yield start
    for server in reversed(servers):
        await server.stop(signal.SIGTERM)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[ServerProcess], Client]]:
    """Makes httpx clients bound to a server; closes them all at the end."""
    clients: list[Client] = []

    def make(server: ServerProcess) -> Client:
        client = Client(server)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# --- graphql-transport-ws helpers -------------------------------------------------------------


async def gql_ws_open(server: ServerProcess) -> ClientConnection:
    return await connect(server.ws_url, subprotocols=[GQL_WS_PROTOCOL], open_timeout=10)


async def gql_ws_send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def gql_ws_recv(ws: ClientConnection, within_s: float = 10.0) -> dict[str, Any]:
    """The next protocol message, answering server pings on the way."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), within_s))
        if message.get("type") == "ping":
            await gql_ws_send(ws, {"type": "pong"})
            continue
        return dict(message)


async def gql_ws_init(ws: ClientConnection, params: dict[str, Any]) -> dict[str, Any]:
    await gql_ws_send(ws, {"type": "connection_init", "payload": params})
    return await gql_ws_recv(ws)
