"""One supervised engine worker process: spawn, requests with timeouts, events, restarts.

A `WorkerProcess` is a slot that outlives the processes it runs: when its process dies (end
of stream on the socket, which is what a crash, a Go fatal error or SIGKILL look like from
here), pending calls fail at once, its started instances are reported `disconnected:
engine_restarted` (willReconnect true), and a new process is started after an exponential
backoff with jitter and re-attached to every instance that was started.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import random
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.transport.neonize import protocol
from domain.errors import DomainError, EngineFailure
from domain.ports import ConnectionListener
from domain.times import utc_now
from domain.wire import WorkerInfo

log = logging.getLogger(__name__)

RESTARTED = "engine_restarted"
STDERR_LINE_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class WorkerTiming:
    call_timeout_s: float = 60.0
    start_timeout_s: float = 60.0  # importing neonize (the Go runtime) on a loaded machine
    restart_base_s: float = 1.0
    restart_max_s: float = 60.0
    stable_after_s: float = 60.0  # a worker up this long resets the backoff
    shutdown_grace_s: float = 10.0
    stats_timeout_s: float = 2.0


class WorkerStartFailed(Exception):
    """The process exited or stayed silent before its `hello`."""


def proc_rss_bytes(pid: int) -> int | None:
    """VmRSS of another process, from /proc (None when it is gone or there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class WorkerProcess:
    def __init__(
        self,
        worker_id: str,
        command: Sequence[str],
        instances_dir: Path,
        max_clients: int,
        listener: ConnectionListener,
        timing: WorkerTiming,
        log_level: str = "info",
        env: dict[str, str] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.id = worker_id
        self.log = logging.getLogger(f"{__name__}.{worker_id}")
        self.placed: set[str] = set()  # instances on this slot
        self.started: dict[str, dict[str, Any]] = {}  # ... that should run, with their options
        self.status = "starting"
        self.pid: int | None = None
        self.restarts = 0
        self.started_at: datetime | None = None
        self._command = tuple(command)
        self._instances_dir = instances_dir
        self._max_clients = max_clients
        self._listener = listener
        self._timing = timing
        self._log_level = log_level
        self._env = {**os.environ, **(env or {})}
        self._jitter = jitter
        self._ready = asyncio.Event()
        self._closing = False
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._pending: dict[int, tuple[asyncio.Future[Any], str]] = {}
        self._next_id = 0
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._attaching: set[asyncio.Task[None]] = set()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=5)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def ensure_running(self) -> None:
        """Starts supervising (and so the first process) on first use."""
        if not self._tasks and not self._closing:
            self._tasks = [
                asyncio.create_task(self._supervise(), name=f"engine-{self.id}"),
                asyncio.create_task(self._deliver(), name=f"engine-{self.id}-events"),
            ]

    # --- calls -------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        instance: str | None,
        args: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """The worker's answer; EngineFailure on a timeout or a lost worker, never a hang."""
        timeout = timeout_s or self._timing.call_timeout_s
        if not self.ready:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                raise EngineFailure(
                    f"engine worker {self.id} is {self.status}; {method} was not sent, "
                    "try again shortly"
                ) from None
        writer = self._writer
        assert writer is not None
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, method)
        try:
            async with self._write_lock:
                await protocol.write_frame(
                    writer, protocol.request(request_id, method, instance, args)
                )
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise EngineFailure(
                f"engine worker {self.id} did not answer {method} within {timeout:g}s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise EngineFailure(f"engine worker {self.id} is gone ({exc})") from None
        finally:
            self._pending.pop(request_id, None)

    async def attach(self, instance_id: str) -> None:
        """Starts one instance on the live process; a refusal is reported, not raised."""
        options = self.started.get(instance_id)
        if options is None:
            return
        try:
            await self.request("start", instance_id, {"options": options})
        except DomainError as exc:
            if self.ready and instance_id in self.started:  # else the restart reports it
                reason = f"{exc.code}: {exc}"
                self._report(instance_id, "disconnected", reason=reason, willReconnect=False)

    def _report(self, instance_id: str, event_type: str, **data: Any) -> None:
        # Through the same queue as the worker's own events, so the listener sees one order.
        self._events.put_nowait(protocol.event(instance_id, event_type, data))

    # --- the process ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._closing:
            began = loop.time()
            try:
                await self._run_once()
                reason = RESTARTED
            except WorkerStartFailed as exc:
                reason = f"engine_unavailable: engine worker {self.id} failed to start ({exc})"
            except Exception:  # a bug here must not end supervision: restart as for a crash
                self.log.exception("supervising engine worker %s failed", self.id)
                reason = RESTARTED
            self._lost(reason)
            await self._reap(patient=True)
            if self._closing:
                break
            failures = 1 if loop.time() - began >= self._timing.stable_after_s else failures + 1
            base = self._timing.restart_base_s * 2 ** (failures - 1)
            delay = min(self._timing.restart_max_s, base) * (0.5 + self._jitter() / 2)
            self.status = "restarting"
            self.log.warning(
                "engine worker %s (pid %s) is gone: %s; restarting in %.1fs (attempt %d)",
                self.id,
                self.pid,
                reason,
                delay,
                failures,
            )
            self.pid = None  # that process is gone; the next one's pid shows once it runs
            for instance_id in list(self.started):
                self._report(instance_id, "disconnected", reason=reason, willReconnect=True)
                self._report(
                    instance_id, "reconnecting", attempt=failures, delayMs=int(delay * 1000)
                )
            await asyncio.sleep(delay)
            self.restarts += 1
        self.status = "stopped"

    async def _run_once(self) -> None:
        """Spawns a process, waits for its hello, attaches, serves until its stream ends."""
        self.status = "starting"
        parent, child = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command,
                "--fd",
                str(child.fileno()),
                "--worker-id",
                self.id,
                "--instances-dir",
                str(self._instances_dir.resolve()),
                "--max-clients",
                str(self._max_clients),
                "--log-level",
                self._log_level,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self._env,
                limit=STDERR_LINE_LIMIT,
            )
        except OSError as exc:
            parent.close()
            raise WorkerStartFailed(str(exc)) from exc
        finally:
            child.close()  # the child's copy: our end now sees EOF when the process dies
        self.pid = self._proc.pid
        assert self._proc.stderr is not None
        stderr = asyncio.create_task(self._forward_stderr(self._proc.stderr))
        reader, self._writer = await asyncio.open_connection(sock=parent, limit=2**16)
        try:
            try:
                hello = await asyncio.wait_for(
                    protocol.read_frame(reader), self._timing.start_timeout_s
                )
            except (TimeoutError, protocol.ProtocolError, ConnectionError) as exc:
                raise WorkerStartFailed(f"no hello: {exc or type(exc).__name__}") from None
            if hello is None or hello.get("kind") != "hello":
                with contextlib.suppress(TimeoutError):  # its last words, if it has any
                    await asyncio.wait_for(asyncio.shield(stderr), self._timing.shutdown_grace_s)
                detail = self._stderr_tail[-1] if self._stderr_tail else "no output"
                raise WorkerStartFailed(f"it exited before saying hello: {detail}")
            self.pid = int(hello.get("pid") or self.pid)
            self.started_at = utc_now()
            self.status = "running"
            self.log.info("engine worker %s running (pid %s)", self.id, self.pid)
            # No await between these two lines: an instance started concurrently is either
            # in this snapshot or sees `ready` and attaches itself, never both.
            self._ready.set()
            for instance_id in list(self.started):
                task = asyncio.create_task(self.attach(instance_id))
                self._attaching.add(task)
                task.add_done_callback(self._attaching.discard)
            await self._read(reader)
        finally:
            self._ready.clear()
            if not stderr.done():
                # Keep forwarding until the process closes its stderr (it is dying).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stderr), self._timing.shutdown_grace_s)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                message = await protocol.read_frame(reader)
            except protocol.ProtocolError as exc:
                self.log.error("engine worker %s sent a broken frame: %s", self.id, exc)
                if self._proc is not None and self._proc.returncode is None:
                    self._proc.kill()  # the stream cannot be trusted past this point
                return
            except (ConnectionError, OSError):
                return
            if message is None:
                return
            kind = message.get("kind")
            if kind == "event":
                self._events.put_nowait(message)
            elif kind == "response":
                self._resolve(message)
            else:
                self.log.warning("engine worker %s sent an unexpected %r", self.id, kind)

    def _resolve(self, message: dict[str, Any]) -> None:
        pending = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if pending is None or pending[0].done():
            return  # timed out already
        future = pending[0]
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            future.set_exception(protocol.error_from_wire(message.get("error") or {}))

    def _lost(self, reason: str) -> None:
        for future, method in self._pending.values():
            if not future.done():
                future.set_exception(
                    EngineFailure(f"engine worker {self.id} stopped during {method}: {reason}")
                )
        self._pending.clear()

    async def _reap(self, *, patient: bool) -> None:
        """Ends the process: waits for it (if `patient`), then SIGTERM, then SIGKILL."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        proc = self._proc
        if proc is None:
            return
        steps = (None, proc.terminate, proc.kill) if patient else (proc.terminate, proc.kill)
        for stop in steps:
            if stop is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    stop()
            try:
                await asyncio.wait_for(proc.wait(), self._timing.shutdown_grace_s)
                break
            except TimeoutError:
                continue
        if proc.returncode not in (0, None):
            self.log.warning("engine worker %s exited with code %s", self.id, proc.returncode)

    async def _forward_stderr(self, stream: asyncio.StreamReader) -> None:
        """Puts the worker's stderr (its log, Go's output) into the server's log."""
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over the limit; the rest of it is dropped
                continue
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip()
            if not text:
                continue
            self._stderr_tail.append(text)
            level = logging.getLevelName(text.split(" ", 1)[0])
            self.log.log(
                level if isinstance(level, int) else logging.WARNING,
                "[%s pid %s] %s",
                self.id,
                self.pid,
                text,
            )

    async def _deliver(self) -> None:
        while True:
            message = await self._events.get()
            try:
                await protocol.deliver(self._listener, message)
            except Exception:
                self.log.exception("delivering %s for %s failed", message.get("type"), self.id)

    # --- admin and shutdown -------------------------------------------------------------------

    async def info(self) -> WorkerInfo:
        rss: int | None = None
        if self.ready:
            with contextlib.suppress(DomainError):
                stats = await self.request("stats", None, timeout_s=self._timing.stats_timeout_s)
                rss = stats.get("rssBytes")
        if rss is None and self.pid is not None and self.status != "stopped":
            rss = await asyncio.to_thread(proc_rss_bytes, self.pid)
        return WorkerInfo(
            id=self.id,
            pid=self.pid,
            status=self.status,
            instances=tuple(sorted(self.placed)),
            rss_bytes=rss,
            restarts=self.restarts,
            started_at=self.started_at,
        )

    async def close(self) -> None:
        self._closing = True
        said_yes = False
        if self.ready:
            with contextlib.suppress(DomainError):
                await self.request("shutdown", None, timeout_s=self._timing.shutdown_grace_s)
                said_yes = True
        await self._reap(patient=said_yes)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.status = "stopped"
