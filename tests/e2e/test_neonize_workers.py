"""The neonize engine end to end: a real server, real `wamux engine-worker` processes, neonize.

This machine is offline, and the workers dial WhatsApp through a local port that refuses
every connection (ENGINE_PROXY_URL), so nothing leaves the machine: the first connect fails
at once, which is exactly the state a user must be shown clearly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Client, ServerProcess, StartServer

pytestmark = pytest.mark.e2e

DEADLINE_S = 90.0  # a worker imports neonize's Go runtime: slow on a loaded CI machine
Json = dict[str, Any]


@pytest.fixture
def refusing_proxy() -> Iterator[str]:
    """A local port that is bound but never listens: every dial through it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def until(condition: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The first truthy result of `condition`, polled until a generous deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        result = await condition()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an unreaped zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Neonize:
    """Helpers over one server running the neonize engine."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client = client
        self.http = client.http
        self.headers = headers

    async def create(self, name: str) -> str:
        r = await self.http.post(
            "/api/instances", json={"name": name, "engine": "neonize"}, headers=self.headers
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def status(self, instance_id: str) -> Json:
        return await self.client.status(instance_id, self.headers)

    async def dial_failed(self, instance_id: str) -> Json:
        async def failed() -> Json | None:
            body = await self.status(instance_id)
            refused = "connection refused" in str(body.get("reason"))
            return body if body["status"] == "disconnected" and refused else None

        return dict(await until(failed, f"{instance_id} to show its failed dial"))

    async def activity(self, instance_id: str) -> list[str]:
        r = await self.http.get(f"/api/instances/{instance_id}/activity", headers=self.headers)
        assert r.status_code == 200, r.text
        return [log["action"] for log in r.json()["logs"]]

    async def workers(self) -> list[Json]:
        r = await self.http.get("/api/engine/workers", headers=self.headers)
        assert r.status_code == 200, r.text
        return list(r.json()["workers"])

    async def worker_of(self, instance_id: str) -> Json:
        return next(w for w in await self.workers() if instance_id in w["instances"])


async def neonize_server(
    start_server: StartServer, client_for: Callable[[ServerProcess], Client], proxy: str, **env: str
) -> tuple[ServerProcess, Neonize]:
    server = await start_server(WHATSAPP_ENGINE="neonize", ENGINE_PROXY_URL=proxy, **env)
    client = client_for(server)
    return server, Neonize(client, await client.admin_headers())


async def test_an_offline_instance_answers_promptly_with_clear_states(
    start_server: StartServer, client_for: Callable[[ServerProcess], Client], refusing_proxy: str
) -> None:
    server, api = await neonize_server(start_server, client_for, refusing_proxy)
    iid = await api.create("offline")
    status = await api.dial_failed(iid)
    assert "failed to dial whatsapp web websocket" in status["reason"]
    store = server.data_dir / "instances" / iid
    assert store.is_dir()

    # Our backoff retries the first connect: visible in the activity log and the events.
    await until(
        lambda: _has(api.activity(iid), "reconnecting"), "a reconnect attempt in the activity"
    )
    events = await api.client.all_events(iid, api.headers)
    disconnects = [e for e in events if e["type"] == "disconnected"]
    assert disconnects and "connection refused" in disconnects[0]["data"]["reason"]

    # No QR phase offline: /qr answers a clear state, pairing code a clear 409.
    r = await api.http.get(f"/api/instances/{iid}/qr", headers=api.headers)
    assert r.status_code in (202, 409), r.text
    r = await api.http.post(
        f"/api/instances/{iid}/pairing-code", json={"phone": "491512345678"}, headers=api.headers
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"] and "QR" in r.json()["message"]

    r = await api.http.post(f"/api/instances/{iid}/reconnect", headers=api.headers)
    assert r.status_code < 500, r.text
    await api.dial_failed(iid)

    r = await api.http.delete(f"/api/instances/{iid}", headers=api.headers)
    assert r.status_code == 200, r.text
    assert not store.exists()
    assert [w["instances"] for w in await api.workers()] == [[]]


async def _has(actions: Awaitable[list[str]], action: str) -> bool:
    return action in await actions


async def test_a_killed_worker_is_replaced_and_other_workers_instances_are_untouched(
    start_server: StartServer, client_for: Callable[[ServerProcess], Client], refusing_proxy: str
) -> None:
    _, api = await neonize_server(
        start_server, client_for, refusing_proxy, ENGINE_WORKER_INSTANCES="1"
    )
    victim, bystander = await api.create("victim"), await api.create("bystander")
    await api.dial_failed(victim)
    await api.dial_failed(bystander)
    before_victim, before_bystander = await api.worker_of(victim), await api.worker_of(bystander)
    assert before_victim["id"] != before_bystander["id"]
    assert before_victim["status"] == "running" and before_victim["rssBytes"] > 10_000_000
    bystander_events = await api.client.all_events(bystander, api.headers)

    os.kill(before_victim["pid"], signal.SIGKILL)

    async def replaced() -> Json | None:
        worker = await api.worker_of(victim)
        fresh = worker["status"] == "running" and worker["pid"] != before_victim["pid"]
        return worker if fresh else None

    after_victim = await until(replaced, "the killed worker's replacement")
    assert after_victim["restarts"] == 1 and after_victim["id"] == before_victim["id"]
    assert not alive(before_victim["pid"])
    # The victim saw the restart and is started again on the new process ...
    reasons = [
        e["data"]["reason"]
        for e in await api.client.all_events(victim, api.headers)
        if e["type"] == "disconnected"
    ]
    assert "engine_restarted" in reasons
    await api.dial_failed(victim)
    # ... while the other worker and its instance saw nothing of it.
    after_bystander = await api.worker_of(bystander)
    assert (after_bystander["pid"], after_bystander["restarts"]) == (before_bystander["pid"], 0)
    later = await api.client.all_events(bystander, api.headers)
    assert all("engine_restarted" not in str(e["data"]) for e in later)
    assert later[: len(bystander_events)] == bystander_events
    assert (await api.client.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_stopping_the_server_stops_every_worker(
    start_server: StartServer,
    client_for: Callable[[ServerProcess], Client],
    refusing_proxy: str,
    sig: signal.Signals,
) -> None:
    server, api = await neonize_server(
        start_server, client_for, refusing_proxy, ENGINE_WORKER_INSTANCES="1"
    )
    for name in ("one", "two"):
        await api.dial_failed(await api.create(name))
    pids = [w["pid"] for w in await api.workers()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)

    await server.stop(sig)

    async def all_gone() -> bool:
        return not any(alive(pid) for pid in pids)

    # SIGTERM: the server shuts them down; SIGKILL: they see the socket close and leave.
    await until(all_gone, "every worker to exit")
