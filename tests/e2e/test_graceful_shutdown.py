"""SIGTERM with requests in flight: no new connection is taken, every request in flight is
answered, the last API-call counts are written, and the process exits in SHUTDOWN_TIMEOUT."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Client, ServerProcess
from tests.realserver import HOST

pytestmark = pytest.mark.e2e

IN_FLIGHT = 4
SHUTDOWN_TIMEOUT_S = 30


class HeldReceiver:
    """A webhook target on 127.0.0.1 that holds test deliveries unanswered until released."""

    def __init__(self) -> None:
        self.held = 0
        self.release = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                length = next(
                    int(line.split(":", 1)[1])
                    for line in head.split("\r\n")
                    if line.startswith("content-length:")
                )
                await reader.readexactly(length)
                if "x-webhook-event: webhook_test" in head:
                    async with self._arrived:
                        self.held += 1
                        self._arrived.notify_all()
                    await self.release.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def wait_held(self, count: int, within_s: float = 30.0) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.held >= count), within_s)


async def refused(server: ServerProcess, within_s: float = 20.0) -> bool:
    """True once a new connection to the server is refused."""
    deadline = time.monotonic() + within_s
    # No keep-alive: every try is a new connection, which is what must be refused.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0, limits=no_reuse) as fresh:
        while time.monotonic() < deadline:
            try:
                await fresh.get("/healthz")
            except httpx.TransportError:
                return True
            await asyncio.sleep(0.05)
    return False


async def test_sigterm_finishes_requests_in_flight(
    start_server: Callable[..., asyncio.Future[ServerProcess]],
    client_for: Callable[[ServerProcess], Client],
) -> None:
    rx = HeldReceiver()
    await rx.start()
    server = await start_server(
        SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT_S),
        # Only the shutdown can write the calls made below: the periodic flush is a minute away.
        API_CALLS_FLUSH_INTERVAL_MS="60000",
        LOG_FORMAT="json",
        LOG_LEVEL="info",
    )
    client = client_for(server)
    h = await client.new_user("shutdown@example.com")
    url = f"http://{HOST}:{rx.port}/hook"
    ids = []
    for i in range(IN_FLIGHT):
        r = await client.http.post(
            "/api/instances",
            json={"name": f"i{i}", "engine": "sandbox", "webhookUrl": url, "webhookEnabled": True},
            headers=h,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    # One webhook test per instance, each waiting on the receiver's answer.
    async def test_webhook(iid: str) -> httpx.Response:
        return await client.http.post(
            f"/api/instances/{iid}/webhooks/test", headers=h, timeout=SHUTDOWN_TIMEOUT_S
        )

    flights = [asyncio.create_task(test_webhook(iid)) for iid in ids]
    await rx.wait_held(IN_FLIGHT)
    assert server.proc is not None
    stopped_at = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert await refused(server), "the server still took new connections after SIGTERM"
    assert not any(f.done() for f in flights), "a request in flight ended before its answer"
    rx.release.set()
    answers = await asyncio.gather(*flights)
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["success"] is True and answer.json()["outcome"] == "delivered"
    code = await asyncio.to_thread(server.proc.wait, SHUTDOWN_TIMEOUT_S + 5)
    assert code in (0, -signal.SIGTERM), server.log_tail()
    assert time.monotonic() - stopped_at < SHUTDOWN_TIMEOUT_S
    await rx.stop()

    # The calls counted in memory were written on the way out (the next flush was a minute off).
    db = sqlite3.connect(server.data_dir / "whatsapp-api.db")
    try:
        written = dict(db.execute("SELECT instance_id, SUM(api_calls) FROM usage_daily GROUP BY 1"))
    finally:
        db.close()
    assert all(written.get(iid, 0) >= 1 for iid in ids), written

    # JSON lines, the shutdown announced and finished, the requests' lines with their ids.
    records = [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert any(m.startswith("shutting down") for m in messages), server.log_tail()
    assert "shutdown complete" in messages, server.log_tail()
    access = [
        r for r in records if r["logger"] == "uvicorn.access" and "/webhooks/test" in r["message"]
    ]
    assert len(access) == IN_FLIGHT and all(r["request_id"] != "-" for r in access), access
