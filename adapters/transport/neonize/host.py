"""The neonize side of an engine worker: one NewAClient per hosted instance.

Runs INSIDE an engine worker process (`worker.py` calls `NeonizeHost.call` per request and
passes `emit`, which writes one protocol `event` frame; it also sizes the loop's default
executor, since every connected client holds one of its threads for good). Never import this
in the API process: neonize can end the process it runs in (see shared/notes/neonize.md).

Before importing this module (or anything from neonize) a worker calls
`adapters.transport.neonize.environment.prepare_environment()`: Go copies the environment
when neonize's library loads, so NEONIZE_BOT_TAG must be set by then. This module calls it too,
which is enough when it is the first neonize import of the process.

Rules kept here, each because breaking it ended a process in a trial:
- Go's client tables are unlocked maps: they are written when a client connects and when it
  stops, and read by every other call. Connect windows and stops take the writer side of one
  worker-wide read-write lock; every other Go call takes the reader side.
- Store calls (contacts, LID lookups, get_me) are refused unless the client is paired and
  running; they segfault otherwise.
- A NewAClient lives as long as the worker: its finalizer is detached (a collected client with
  the same uuid stops the live session) and its Go callbacks stay referenced.
- Every event handler is wrapped: neonize swallows handler exceptions silently.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()  # before the first neonize import loads its Go library

import aiorwlock  # noqa: E402
from neonize._binder import ProxySettings  # noqa: E402
from neonize.aioze import events as nev  # noqa: E402
from neonize.aioze.client import NewAClient  # noqa: E402
from tenacity import (  # noqa: E402
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from adapters.transport.neonize import protocol  # noqa: E402
from adapters.transport.neonize import translate as tr  # noqa: E402
from adapters.transport.neonize.connection_events import ConnectionEvents  # noqa: E402
from adapters.transport.neonize.hosted import (  # noqa: E402
    IDS_FILE,
    STORE_FILE,
    HostedClient,
    IdMap,
)
from adapters.transport.neonize.messaging import Messaging  # noqa: E402
from domain.errors import (  # noqa: E402
    Conflict,
    EngineFailure,
    NotFound,
)

log = logging.getLogger(__name__)

# neonize passes this logger's level to Go once per connect; unset, whatsmeow's own INFO logs
# (login, reconnects) would not reach the worker's log.
_go_log = logging.getLogger("neonize.utils.log")
if _go_log.level == logging.NOTSET:
    _go_log.setLevel(logging.INFO)

Emit = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[HostedClient, Any], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of a failed first connect (whatsmeow retries drops of a live session itself)."""

    initial_s: float = 2.0
    max_s: float = 120.0
    jitter_s: float = 2.0


class _DialFailed(Exception):
    """The connect task ended with an error; the supervisor retries."""


class NeonizeHost:
    def __init__(
        self,
        instances_dir: Path,
        emit: Emit,
        *,
        max_clients: int,
        proxy: str | None = None,
        retry: RetryPolicy | None = None,
        settle_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self._dir = instances_dir
        self._emit_frame = emit
        self._max = max_clients
        self._proxy = proxy
        self._retry = retry or RetryPolicy()
        self._settle_s = settle_timeout_s
        self._stop_s = stop_timeout_s
        self._hosted: dict[str, HostedClient] = {}
        self._retired: list[HostedClient] = []  # destroyed: kept so Go never calls freed code
        self._lifecycle = asyncio.Lock()  # start/stop/logout/destroy, one at a time
        self._go = aiorwlock.RWLock()  # writer: Go map writes; reader: every other Go call
        self._loop: asyncio.AbstractEventLoop | None = None
        self._messaging = Messaging(self._go, self._emit)
        self._connection = ConnectionEvents(self._emit, self._release, self._spawn)
        self.handler_errors = 0

    # --- the request surface -------------------------------------------------------------------

    async def call(self, method: str, instance: str | None, args: dict[str, Any]) -> Any:
        self._bind_loop()
        if instance is None:
            raise NotFound(f"method {method!r} needs an instance")
        if method == "start":
            return await self._start(instance, dict(args.get("options") or {}))
        if method == "stop":
            return await self._stop(instance)
        if method == "logout":
            return await self._logout(instance)
        if method == "destroy":
            return await self._destroy(instance)
        hosted = self._hosted.get(instance)
        if hosted is None:
            raise Conflict("Instance is not connected")
        handler = self._messaging.methods.get(method)
        if handler is None:
            raise NotFound(f"unknown method {method!r}")
        return await handler(hosted, args)

    def instance_ids(self) -> list[str]:
        return list(self._hosted)

    async def close(self) -> None:
        for instance_id in list(self._hosted):
            try:
                await self._stop(instance_id)
            except Exception:
                log.exception("stopping %s at shutdown failed", instance_id)
        for hosted in self._hosted.values():
            hosted.ids.close()

    # --- lifecycle -----------------------------------------------------------------------------

    async def _start(self, instance_id: str, options: dict[str, Any]) -> None:
        async with self._lifecycle:
            hosted = self._hosted.get(instance_id)
            if hosted is None:
                if len(self._hosted) >= self._max:
                    raise EngineFailure(f"this worker already hosts {self._max} clients")
                hosted = self._new_client(instance_id)
                self._hosted[instance_id] = hosted
            hosted.options = options or hosted.options
            if hosted.supervisor is not None and not hosted.supervisor.done():
                return  # already running (or retrying): start is idempotent
            hosted.stopping = hosted.terminal = False
            hosted.wake = asyncio.Event()
            hosted.run += 1
            await self._emit(instance_id, "connecting", {})
            hosted.supervisor = asyncio.create_task(
                self._supervise(hosted, hosted.run), name=f"neonize:{instance_id}"
            )

    async def _stop(self, instance_id: str) -> None:
        async with self._lifecycle:
            hosted = self._hosted.get(instance_id)
            if hosted is not None:
                await self._halt(hosted)

    async def _logout(self, instance_id: str) -> None:
        async with self._lifecycle:
            hosted = self._hosted.get(instance_id)
            if hosted is not None:
                try:
                    async with self._go.reader:
                        if hosted.store_usable():  # checked under the lock, as every Go call
                            await hosted.client.logout()  # unlinks the device on the phone
                except Exception as exc:
                    log.warning("logout of %s on WhatsApp failed: %s", instance_id, exc)
                await self._halt(hosted)
                hosted.paired = False
                hosted.phone = hosted.push_name = None
            await asyncio.to_thread(_remove_store, self._dir / instance_id)
        await self._emit(instance_id, "logged_out", {"reason": "logout requested"})

    async def _destroy(self, instance_id: str) -> None:
        async with self._lifecycle:
            hosted = self._hosted.pop(instance_id, None)
            if hosted is not None:
                await self._halt(hosted)
                hosted.ids.close()
                self._retired.append(hosted)
            await asyncio.to_thread(shutil.rmtree, self._dir / instance_id, True)

    def _new_client(self, instance_id: str) -> HostedClient:
        directory = self._dir / instance_id
        directory.mkdir(parents=True, exist_ok=True)
        client = NewAClient(str(directory / STORE_FILE), uuid=instance_id)
        # Collecting a client stops its uuid in Go, outside our lock: we stop it ourselves.
        client._stop_finalizer.detach()
        hosted = HostedClient(
            instance_id=instance_id,
            directory=directory,
            client=client,
            ids=IdMap(directory / IDS_FILE),
        )
        self._subscribe(hosted)
        return hosted

    async def _halt(self, hosted: HostedClient) -> None:
        """Stops the Go client and waits (bounded) for its connect task and supervisor."""
        hosted.stopping = True
        hosted.wake.set()
        async with self._go.writer:
            await self._go_stop(hosted)
        waiters = [t for t in (hosted.supervisor, hosted.task) if t is not None and not t.done()]
        if waiters:
            _, pending = await asyncio.wait(waiters, timeout=self._stop_s)
            if pending:
                # whatsmeow's QR loop can keep the Go call blocked; its thread is lost, not us.
                # The abandoned supervisor sees a newer `run` and never connects again.
                log.warning("%s: neonize's connect call did not end after stop", hosted.instance_id)
        hosted.supervisor = None

    async def _go_stop(self, hosted: HostedClient) -> None:
        """Caller holds the writer lock."""
        if hosted.go_registered:
            hosted.go_registered = False
            hosted.online = False
            await hosted.client.stop()

    # --- connecting, with backoff for a failed first connect -----------------------------------

    async def _supervise(self, hosted: HostedClient, run: int) -> None:
        policy = self._retry
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                initial=policy.initial_s, max=policy.max_s, jitter=policy.jitter_s
            ),
            retry=retry_if_exception_type(_DialFailed),
            # partials, not lambdas: tenacity awaits what coroutine functions return, only
            sleep=partial(self._pause, hosted),
            before_sleep=partial(self._announce_retry, hosted),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._connect_once(hosted, run)
        except Exception:
            log.exception("%s: the connection supervisor failed", hosted.instance_id)
            self.handler_errors += 1

    async def _connect_once(self, hosted: HostedClient, run: int) -> None:
        async with self._go.writer:
            if hosted.stopping or hosted.run != run:
                return  # stopped, or a later start owns the client now
            hosted.session += 1
            session = hosted.session
            hosted.qr_seen = hosted.online = hosted.terminal = False
            hosted.settled = asyncio.Event()
            hosted.me_seen = asyncio.Event()
            proxy = hosted.options.get("proxy") or self._proxy
            settings = ProxySettings(proxy_address=proxy) if proxy else None
            task = await hosted.client.connect(settings)
            hosted.task = task
            hosted.go_registered = True
            # Go writes its tables at the start of the connect call, on its own thread; hold
            # the writer side until it shows signs of life (a callback) or the call ended.
            await self._settle(hosted, task)
        try:
            await asyncio.shield(task)  # never cancel it: that would call Go's Stop unlocked
        except Exception as exc:
            if hosted.stopping or hosted.session != session:
                return
            reason = tr.dial_error_reason(exc)
            log.warning("%s: %s", hosted.instance_id, reason)
            await self._emit(
                hosted.instance_id, "disconnected", {"reason": reason, "willReconnect": True}
            )
            async with self._go.writer:
                await self._go_stop(hosted)  # Go keeps the failed client in its tables
            raise _DialFailed(reason) from exc

    async def _settle(self, hosted: HostedClient, task: asyncio.Task[Any]) -> None:
        settled = asyncio.ensure_future(hosted.settled.wait())
        try:
            await asyncio.wait(
                {settled, task}, timeout=self._settle_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            settled.cancel()

    async def _announce_retry(self, hosted: HostedClient, state: RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        await self._emit(
            hosted.instance_id,
            "reconnecting",
            {"attempt": state.attempt_number, "delayMs": int(delay * 1000)},
        )

    async def _pause(self, hosted: HostedClient, delay: float) -> None:
        """The backoff sleep; a stop ends it early (the next attempt then sees `stopping`)."""
        try:
            await asyncio.wait_for(hosted.wake.wait(), timeout=delay)
        except TimeoutError:
            pass

    # --- events from Go ------------------------------------------------------------------------

    def _subscribe(self, hosted: HostedClient) -> None:
        client = hosted.client
        handlers: dict[type, Handler] = {
            **self._connection.handlers(),
            nev.MessageEv: self._messaging.on_message,
            nev.ReceiptEv: self._messaging.on_receipt,
            nev.ChatPresenceEv: self._messaging.rich.on_chat_presence,
            nev.PresenceEv: self._messaging.rich.on_presence,
            nev.GroupInfoEv: self._messaging.groups.on_group_info,
            nev.JoinedGroupEv: self._messaging.groups.on_joined_group,
        }
        for event_type, handler in handlers.items():
            client.event(event_type)(self._wrap(hosted, event_type.__name__, handler))
        client.event.qr(self._wrap(hosted, "QR", self._connection.on_qr))

        # Called on Go threads, synchronously: hand over to the loop and return at once.
        def on_login_status(_uuid: Any, status: Any) -> None:
            text = _c_string(status)  # now: Go frees the string when this returns
            self._from_go(
                lambda: self._spawn(
                    hosted, "login status", self._connection.on_login_status(hosted, text)
                )
            )

        client._NewAClient__onLoginStatus = on_login_status
        original_execute = client.event.execute

        def execute(uuid: Any, binary: int, size: int, code: int) -> None:
            if code == 0:  # Go's event loop started (it sends the device first)
                self._from_go(lambda: _set_events(hosted))
            original_execute(uuid, binary, size, code)

        client.event.execute = execute

    def _wrap(self, hosted: HostedClient, name: str, handler: Handler) -> Any:
        async def wrapped(_client: Any, event: Any) -> None:
            hosted.settled.set()  # any callback means Go got past its table writes
            try:
                await handler(hosted, event)
            except Exception:
                self.handler_errors += 1
                log.exception("%s: the %s handler failed", hosted.instance_id, name)

        return wrapped

    def _from_go(self, callback: Callable[[], None]) -> None:
        """Runs `callback` on the host's loop; called from Go threads."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    def _spawn(self, hosted: HostedClient, name: str, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                self.handler_errors += 1
                log.exception("%s: the %s handler failed", hosted.instance_id, name)

        _keep(asyncio.ensure_future(guarded()))

    async def _release(self, hosted: HostedClient, forget_store: bool) -> None:
        """After a terminal state: stops the Go client, which whatsmeow will not reconnect."""
        try:
            # Let Go's event loop start first: it reads the tables once when it does.
            try:
                await asyncio.wait_for(hosted.me_seen.wait(), timeout=self._settle_s)
            except TimeoutError:
                pass
            async with self._lifecycle:
                if hosted.terminal and not hosted.stopping:
                    await self._halt(hosted)
                    if forget_store:
                        await asyncio.to_thread(_remove_store, hosted.directory)
        except Exception:
            self.handler_errors += 1
            log.exception("%s: releasing the client failed", hosted.instance_id)

    # --- plumbing ------------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        # neonize posts every event to one module-global loop, set once: make it ours.
        # (The worker main sizes the loop's default executor: each connected client holds
        # one of its threads for good.)
        nev.event_global_loop = loop

    async def _emit(self, instance_id: str, event_type: str, data: dict[str, Any]) -> None:
        try:
            await self._emit_frame(protocol.event(instance_id, event_type, data))
        except Exception:
            self.handler_errors += 1
            log.exception("%s: emitting %s failed", instance_id, event_type)


def _c_string(pointer: Any) -> str:
    import ctypes

    try:
        return ctypes.string_at(pointer).decode(errors="replace") if pointer else ""
    except Exception:
        return ""


def _set_events(hosted: HostedClient) -> None:
    hosted.settled.set()
    hosted.me_seen.set()


_tasks: set[asyncio.Future[Any]] = set()


def _keep(task: asyncio.Future[Any]) -> None:
    """Holds a fire-and-forget task until it ends (asyncio keeps only weak references)."""
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _remove_store(directory: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        (directory / (STORE_FILE + suffix)).unlink(missing_ok=True)
