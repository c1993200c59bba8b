"""`wamux engine-worker`: one process hosting neonize clients, driven over an inherited socket.

The server starts this process with one end of a `socket.socketpair()` (its fd number given on
the command line) and speaks protocol.py over it: the worker sends `hello`, then answers
requests and streams events. neonize can end the whole process (see the neonize notes), which
is why it lives here and not in the server: a crash costs this worker's instances a restart.

stdout is not the channel: neonize's Go side prints to stdout/stderr, so fd 1 is pointed at
fd 2 before anything else runs, and the server forwards stderr lines into its own log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from adapters.transport.neonize import protocol
from domain.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]
CLOSE_TIMEOUT_S = 10.0  # stopping clients may block in Go; never let it keep the process alive
EXECUTOR_HEADROOM = 16  # threads beyond one per connected client, for the clients' other calls
# The proxy for WhatsApp traffic comes in the environment, not argv: a URL may hold a password.
PROXY_VARIABLE = "WAMUX_ENGINE_PROXY"


class Host(Protocol):
    """What the worker drives: NeonizeHost in production (adapters/transport/neonize/host.py)."""

    async def call(self, method: str, instance: str | None, args: dict[str, Any]) -> Any: ...
    def instance_ids(self) -> list[str]: ...
    async def close(self) -> None: ...


HostFactory = Callable[[Emit], Host]


def resident_bytes() -> int | None:
    """This process's resident set size, from /proc (None where there is no /proc)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


class WorkerLoop:
    """Reads requests, runs each as its own task, writes responses and events in order."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host_factory: HostFactory,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._write_lock = asyncio.Lock()  # one frame at a time, in the order asked
        self._tasks: set[asyncio.Task[None]] = set()
        self._host = host_factory(self.emit)

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._write_lock:
            await protocol.write_frame(self._writer, message)

    async def emit(self, message: dict[str, Any]) -> None:
        """Sends one event frame (the host's Emit)."""
        try:
            await self._send(message)
        except (ConnectionError, OSError):
            # The server is gone; the read loop sees the end of stream and exits.
            log.debug("dropped a %s event: the server socket is closed", message.get("type"))

    async def run(self) -> None:
        """Serves until the server closes the socket or asks for a shutdown."""
        await self._send(protocol.hello(os.getpid()))
        while True:
            try:
                message = await protocol.read_frame(self._reader)
            except protocol.ProtocolError as exc:
                log.error("the server sent a broken frame (%s); exiting", exc)
                break
            except (ConnectionError, OSError):
                break
            if message is None:
                log.info("the server closed the socket; stopping every client")
                break
            if message.get("kind") != "request":
                log.warning("ignoring a %r message from the server", message.get("kind"))
                continue
            if message.get("method") == "shutdown":
                await self._close_host()
                with contextlib.suppress(ConnectionError, OSError):
                    await self._send(protocol.ok(message["id"]))
                return
            task = asyncio.create_task(self._handle(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._close_host()

    async def _handle(self, message: dict[str, Any]) -> None:
        request_id = int(message.get("id") or 0)
        try:
            result = await self._dispatch(
                str(message.get("method")), message.get("instance"), message.get("args") or {}
            )
            reply = protocol.ok(request_id, result)
        except Exception as exc:
            if not isinstance(exc, DomainError):
                log.exception("request %s %s failed", message.get("method"), request_id)
            reply = protocol.failed(request_id, exc)
        try:
            await self._send(reply)
        except (ConnectionError, OSError):
            log.debug("could not answer request %s: the server socket is closed", request_id)

    async def _dispatch(self, method: str, instance: str | None, args: dict[str, Any]) -> Any:
        if method == "ping":
            return {"pid": os.getpid()}
        if method == "stats":
            return {
                "pid": os.getpid(),
                "rssBytes": resident_bytes(),
                "instances": self._host.instance_ids(),
            }
        if method not in protocol.METHODS:
            raise ValidationFailed(f"unknown engine worker method {method!r}")
        return await self._host.call(method, instance, args)

    async def _close_host(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        try:
            await asyncio.wait_for(self._host.close(), CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("closing the engine host failed")


async def serve(fd: int, host_factory: HostFactory, *, max_clients: int) -> None:
    """Runs one worker on the inherited socket `fd`."""
    loop = asyncio.get_running_loop()
    # Each connected neonize client holds one executor thread for its whole life (see notes).
    loop.set_default_executor(ThreadPoolExecutor(max_clients + EXECUTOR_HEADROOM, "engine"))
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        await WorkerLoop(reader, writer, host_factory).run()
    finally:
        writer.close()


def _neonize_host(instances_dir: Path, max_clients: int) -> HostFactory:
    # Imported here: neonize's import starts the Go runtime, which the server must never do,
    # and its environment (NEONIZE_BOT_TAG) has to be set before that import.
    from adapters.transport.neonize.environment import prepare_environment

    prepare_environment()
    from adapters.transport.neonize import host

    def make(emit: Emit) -> Host:
        proxy = os.environ.get(PROXY_VARIABLE) or None
        return host.NeonizeHost(instances_dir, emit, max_clients=max_clients, proxy=proxy)

    return make


def run(
    fd: int,
    instances_dir: Path,
    max_clients: int,
    worker_id: str,
    log_level: str = "info",
    host_factory: HostFactory | None = None,
) -> int:
    """The process main. Never returns normally: it leaves with os._exit (see below)."""
    os.dup2(2, 1)  # whatever prints to stdout (Go, neonize) lands in the log, not a channel
    logging.basicConfig(
        level=log_level.upper(),
        format="%(levelname)s %(name)s: %(message)s",  # the server adds the time and worker
        stream=sys.stderr,
        force=True,
    )
    # Ctrl-C in a terminal reaches the whole process group: the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = 0
    try:
        factory = host_factory or _neonize_host(instances_dir, max_clients)
        asyncio.run(serve(fd, factory, max_clients=max_clients))
    except Exception:
        log.exception("engine worker %s failed", worker_id)
        code = 1
    logging.shutdown()
    sys.stderr.flush()
    # Go threads blocked in a call (a QR phase left hanging, a dial) would keep a normal exit
    # waiting for the executor forever; the clients were closed above, so leave now.
    os._exit(code)
