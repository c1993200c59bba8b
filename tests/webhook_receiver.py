"""A real HTTP webhook receiver on 127.0.0.1, built on asyncio streams (stdlib only).

It records every request as it arrives (raw body bytes, headers, arrival time) and answers
as programmed: a status per request (e.g. fail the first N with 500), a delay before
answering, or not at all while it is stopped ("down": nothing listens on its port, so
senders get connection refused). `start()` after `stop()` listens on the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.realserver import free_port

__all__ = ["Headers", "Received", "Reply", "WebhookReceiver", "free_port"]

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


class Headers:
    """Request headers, looked up case-insensitively (repeated names keep every value)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in self.pairs:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.pairs if key.lower() == lowered]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        return f"Headers({self.pairs!r})"


@dataclass
class Received:
    method: str
    path: str
    headers: Headers
    body: bytes
    at: float  # time.monotonic() when the whole request had arrived
    answered: int | None = None  # the status sent back (None: never answered)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str | None:
        return self.headers.get("X-Webhook-Id")

    @property
    def event(self) -> str | None:
        return self.headers.get("X-Webhook-Event")


@dataclass
class Reply:
    status: int = 200
    delay_s: float = 0.0
    body: bytes = b"ok"


Responder = Callable[[Received, int], Reply]


@dataclass
class WebhookReceiver:
    """Listens on 127.0.0.1:`port` (a free one when 0) once started."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    # Programmable answers, used in this order of precedence:
    responder: Responder | None = None  # (request, 0-based index) -> Reply
    queued: list[int] = field(default_factory=list)  # statuses for the next requests
    status: int = 200  # afterwards
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._arrived = asyncio.Condition()

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.port, "start() first, or give a port"
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> WebhookReceiver:
        assert self._server is None, "already listening"
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stops listening and drops open connections (requests in flight get no answer)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2.0)

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- programming answers -----------------------------------------------------------

    def fail_next(self, count: int, status: int = 500) -> None:
        self.queued.extend([status] * count)

    def _reply(self, request: Received, index: int) -> Reply:
        if self.responder is not None:
            return self.responder(request, index)
        if self.queued:
            return Reply(self.queued.pop(0), self.delay_s)
        return Reply(self.status, self.delay_s)

    # --- what arrived ------------------------------------------------------------------

    def of_event(self, *events: str) -> list[Received]:
        return [r for r in self.requests if r.event in events]

    def ids(self) -> list[str | None]:
        return [r.id for r in self.requests]

    def id_counts(self) -> Counter[str | None]:
        return Counter(self.ids())

    def distinct_in_order(self) -> list[Received]:
        """The first arrival of every X-Webhook-Id, in arrival order."""
        seen: set[str | None] = set()
        firsts: list[Received] = []
        for r in self.requests:
            if r.id not in seen:
                seen.add(r.id)
                firsts.append(r)
        return firsts

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], within: float = 5.0
    ) -> list[Received]:
        """Waits until predicate(requests) holds; AssertionError with what came otherwise."""

        async def until() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: predicate(self.requests))

        try:
            await asyncio.wait_for(until(), within)
        except TimeoutError:
            summary = [(r.event, r.id, r.answered) for r in self.requests]
            raise AssertionError(
                f"receiver on :{self.port} did not get what was awaited within {within}s; "
                f"got {len(self.requests)} request(s): {summary}"
            ) from None
        return list(self.requests)

    async def wait_count(self, count: int, within: float = 5.0) -> list[Received]:
        return await self.wait_for(lambda rs: len(rs) >= count, within)

    # --- HTTP/1.1 ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Reads and answers one request; False when the connection should end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return False  # the client closed an idle keep-alive connection
        if len(head) > MAX_HEAD:
            raise ConnectionError("request head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, path, version = lines[0].split(" ", 2)
        pairs: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            pairs.append((name.strip(), value.strip()))
        headers = Headers(pairs)
        if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            body = await _read_chunked(reader)
        else:
            length = int(headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ConnectionError("request body too large")
            body = await reader.readexactly(length)
        request = Received(method, path, headers, body, time.monotonic())
        index = len(self.requests)
        self.requests.append(request)
        async with self._arrived:
            self._arrived.notify_all()

        reply = self._reply(request, index)
        if reply.delay_s > 0:
            await asyncio.sleep(reply.delay_s)
        keep_alive = version.upper() == "HTTP/1.1" and (
            (headers.get("Connection") or "").lower() != "close"
        )
        writer.write(
            (
                f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
                f"Content-Type: text/plain\r\n"
                f"Content-Length: {len(reply.body)}\r\n"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
            ).encode("latin-1")
            + reply.body
        )
        await writer.drain()
        request.answered = reply.status
        return keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY:
            raise ConnectionError("request body too large")


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
