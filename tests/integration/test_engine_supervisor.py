"""WorkerEngine over real worker processes (real sockets, real SIGKILL); WhatsApp is scripted.

The host inside each worker is tests/integration/scripted_worker.py; everything between the
server-side engine and that host (spawning, framing, timeouts, restarts) is the real code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.transport.neonize import protocol
from adapters.transport.neonize.process import WorkerTiming
from adapters.transport.neonize.supervisor import WorkerEngine, WorkerSettings
from domain.entities import MessageStatus
from domain.errors import Conflict, EngineFailure
from domain.wire import IncomingMessage, WorkerInfo
from tests.integration.scripted_worker import DIAL_ERROR

SCRIPTED = (sys.executable, "-m", "tests.integration.scripted_worker")
DEADLINE_S = 60.0  # generous: CI machines are loaded
FAST_RESTARTS = WorkerTiming(
    call_timeout_s=60.0, restart_base_s=0.05, restart_max_s=0.5, shutdown_grace_s=10.0
)


class RecordingListener:
    """The domain's ConnectionListener, reduced to a list of what it was told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []

    def of(self, instance_id: str) -> list[tuple[str, tuple[Any, ...]]]:
        return [(name, args) for name, inst, args in self.calls if inst == instance_id]

    async def on_connecting(self, instance_id: str) -> None:
        self.calls.append(("connecting", instance_id, ()))

    async def on_qr(self, instance_id: str, qr_code: str) -> None:
        self.calls.append(("qr", instance_id, (qr_code,)))

    async def on_connected(self, instance_id: str, phone: str | None, name: str | None) -> None:
        self.calls.append(("connected", instance_id, (phone, name)))

    async def on_disconnected(self, instance_id: str, reason: str, again: bool) -> None:
        self.calls.append(("disconnected", instance_id, (reason, again)))

    async def on_reconnecting(self, instance_id: str, attempt: int, delay_ms: int) -> None:
        self.calls.append(("reconnecting", instance_id, (attempt,)))

    async def on_logged_out(self, instance_id: str, reason: str) -> None:
        self.calls.append(("logged_out", instance_id, (reason,)))

    async def on_message(self, instance_id: str, message: IncomingMessage) -> None:
        self.calls.append(("message", instance_id, (message.message_id,)))

    async def on_receipt(
        self, instance_id: str, chat_jid: str, ids: Any, status: MessageStatus
    ) -> None:
        self.calls.append(("receipt", instance_id, (status,)))


async def until(condition: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


MakeEngine = Callable[..., WorkerEngine]


@pytest.fixture
async def make_engine(tmp_path: Path) -> AsyncIterator[MakeEngine]:
    engines: list[WorkerEngine] = []

    def make(
        listener: RecordingListener,
        per_worker: int = 50,
        timing: WorkerTiming = FAST_RESTARTS,
        command: tuple[str, ...] = SCRIPTED,
    ) -> WorkerEngine:
        engine = WorkerEngine(
            listener,
            WorkerSettings(tmp_path / "instances", per_worker, timing=timing, command=command),
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.close()


async def running(engine: WorkerEngine) -> list[WorkerInfo]:
    return [w for w in await engine.workers() if w.status == "running"]


async def test_instances_start_on_lazily_started_workers_with_their_events(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    listener = RecordingListener()
    engine = make_engine(listener, per_worker=1)
    assert await engine.workers() == []  # nothing runs before the first instance
    await engine.start("a", {})
    await engine.start("b", {})
    for name in ("a", "b"):
        await until(lambda n=name: len(listener.of(n)) >= 2, f"events of {name}")  # type: ignore[misc]
        assert listener.of(name)[:2] == [
            ("connecting", ()),
            ("disconnected", (DIAL_ERROR, True)),
        ]
        assert (tmp_path / "instances" / name).is_dir()
    workers = await engine.workers()
    assert [(w.id, w.instances, w.status) for w in workers] == [
        ("w1", ("a",), "running"),
        ("w2", ("b",), "running"),
    ]
    assert workers[0].pid != workers[1].pid
    assert all(w.rss_bytes and w.rss_bytes > 1_000_000 for w in workers)
    assert all(w.restarts == 0 and w.started_at is not None for w in workers)


async def test_calls_answer_with_the_workers_results_and_errors(make_engine: MakeEngine) -> None:
    engine = make_engine(RecordingListener())
    await engine.start("a", {})
    contacts = await engine.contacts("a")
    assert [(c.jid, c.name) for c in contacts] == [("4915@s.whatsapp.net", "Ana")]
    checks = await engine.check_numbers("a", ["4911", "4912"])
    assert [(c.phone, c.exists) for c in checks] == [("4911", False), ("4912", True)]
    with pytest.raises(Conflict, match="no QR phase"):
        await engine.pairing_code("a", "4912345")
    with pytest.raises(Conflict):  # never started: refused here, no worker asked
        await engine.pairing_code("never-started", "4912345")
    with pytest.raises(EngineFailure, match="not running"):
        await engine.contacts("never-started")


async def test_a_call_without_answer_fails_with_a_timeout_and_blocks_no_other_call(
    make_engine: MakeEngine,
) -> None:
    timing = WorkerTiming(call_timeout_s=5.0, restart_base_s=0.05, shutdown_grace_s=10.0)
    engine = make_engine(RecordingListener(), timing=timing)
    await engine.start("slow-1", {})
    await engine.start("b", {})
    slow = asyncio.create_task(engine.contacts("slow-1"))
    assert len(await engine.contacts("b")) == 1  # answered while the slow call hangs
    with pytest.raises(EngineFailure, match="did not answer contacts within 5s"):
        await slow
    assert len(await engine.contacts("b")) == 1
    assert [w.restarts for w in await engine.workers()] == [0]


async def test_a_killed_worker_is_replaced_and_only_its_instances_notice(
    make_engine: MakeEngine,
) -> None:
    listener = RecordingListener()
    engine = make_engine(listener, per_worker=1)
    await engine.start("a", {})
    await engine.start("b", {})
    await until(lambda: len(listener.of("a")) >= 2 and len(listener.of("b")) >= 2, "first dials")
    before = {w.id: w for w in await engine.workers()}
    b_events = list(listener.of("b"))

    assert before["w1"].pid is not None
    os.kill(before["w1"].pid, signal.SIGKILL)

    async def replaced() -> bool:
        w1 = {w.id: w for w in await engine.workers()}["w1"]
        return w1.status == "running" and w1.pid != before["w1"].pid

    await until(replaced, "w1 replaced by a new process")
    after = {w.id: w for w in await engine.workers()}
    assert after["w1"].restarts == 1 and after["w1"].instances == ("a",)
    assert not alive(before["w1"].pid)
    # a saw the restart and was started again on the new process ...
    await until(lambda: listener.of("a").count(("connecting", ())) == 2, "a re-attached")
    assert ("disconnected", ("engine_restarted", True)) in listener.of("a")
    # ... while b's worker and b's events are untouched.
    assert after["w2"].pid == before["w2"].pid and after["w2"].restarts == 0
    assert listener.of("b") == b_events
    assert len(await engine.contacts("a")) == 1  # the new worker serves a


async def test_a_worker_dying_mid_call_fails_that_call_at_once(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = make_engine(RecordingListener())
    await engine.start("crash-1", {})
    with pytest.raises(EngineFailure, match="stopped during add_contact: engine_restarted"):
        await engine.add_contact("crash-1", "4915@s.whatsapp.net", "Ana")
    await until(lambda: "concurrent map writes" in caplog.text, "the worker's last words")

    def warned() -> bool:
        return any(r.levelno >= logging.WARNING and "is gone" in r.message for r in caplog.records)

    await until(warned, "a warning about the lost worker")


async def test_a_worker_writing_a_broken_frame_is_replaced(make_engine: MakeEngine) -> None:
    engine = make_engine(RecordingListener())
    await engine.start("garbage-1", {})
    with pytest.raises(EngineFailure, match="stopped during contacts"):
        await engine.contacts("garbage-1")

    async def replaced() -> bool:
        (worker,) = await engine.workers()
        return worker.status == "running" and worker.restarts == 1

    await until(replaced, "a new worker")


async def test_worker_output_reaches_the_server_log_not_the_socket(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.transport.neonize.process")
    listener = RecordingListener()
    engine = make_engine(listener)
    await engine.start("a", {})
    await until(lambda: "go: dialing for a" in caplog.text, "the worker's stdout in our log")
    record = next(r for r in caplog.records if "go: dialing for a" in r.message)
    assert record.name == "adapters.transport.neonize.process.w1"
    assert len(await engine.contacts("a")) == 1  # the socket carried nothing else


async def test_close_stops_every_worker(make_engine: MakeEngine) -> None:
    engine = make_engine(RecordingListener(), per_worker=1)
    for name in ("a", "b", "c"):
        await engine.start(name, {})
    await until(lambda: _count_running(engine, 3), "three workers")
    pids = [w.pid for w in await engine.workers() if w.pid is not None]
    await engine.close()
    assert len(pids) == 3 and not any(alive(pid) for pid in pids)
    assert {w.status for w in await engine.workers()} == {"stopped"}
    with pytest.raises(EngineFailure, match="shutting down"):
        await engine.start("d", {})


async def _count_running(engine: WorkerEngine, n: int) -> bool:
    return len(await running(engine)) == n


async def test_a_worker_that_cannot_start_is_reported_and_retried(
    make_engine: MakeEngine,
) -> None:
    broken = (sys.executable, "-c", "import sys; sys.exit('no neonize on this machine')")
    listener = RecordingListener()
    engine = make_engine(listener, command=broken)
    await engine.start("a", {})
    await until(lambda: len(listener.of("a")) >= 1, "a report for a")
    name, (reason, again) = listener.of("a")[0]
    assert name == "disconnected" and again is True
    assert reason.startswith("engine_unavailable:") and "no neonize on this machine" in reason

    async def retried() -> bool:
        return (await engine.workers())[0].restarts >= 2

    await until(retried, "restarts with backoff")


async def test_destroy_removes_the_device_store_and_the_placement(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    listener = RecordingListener()
    engine = make_engine(listener)
    await engine.start("a", {})
    await until(lambda: (tmp_path / "instances" / "a").is_dir(), "a's device dir")
    await engine.destroy("a")
    assert not (tmp_path / "instances" / "a").exists()
    assert (await engine.workers())[0].instances == ()
    with pytest.raises(EngineFailure):
        await engine.contacts("a")


async def test_logout_reaches_the_worker_and_stop_keeps_the_instance_placed(
    make_engine: MakeEngine,
) -> None:
    listener = RecordingListener()
    engine = make_engine(listener)
    await engine.start("a", {})
    await engine.stop("a")
    assert (await engine.workers())[0].instances == ("a",)
    await engine.start("a", {})
    await engine.logout("a")
    await until(lambda: ("logged_out", ("scripted",)) in listener.of("a"), "logged out")


async def test_the_worker_exits_when_the_server_end_of_the_socket_closes() -> None:
    """A server that dies (even by SIGKILL) leaves no orphan: the socket closes, and so do we."""
    ours, theirs = socket.socketpair()
    proc = await asyncio.create_subprocess_exec(
        *SCRIPTED,
        *("--fd", str(theirs.fileno()), "--worker-id", "w9"),
        *("--instances-dir", "/nonexistent", "--max-clients", "1"),
        pass_fds=(theirs.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    theirs.close()
    reader, writer = await asyncio.open_connection(sock=ours)
    hello = await asyncio.wait_for(protocol.read_frame(reader), DEADLINE_S)
    assert hello == protocol.hello(proc.pid)
    await protocol.write_frame(writer, protocol.request(1, "ping", None))
    assert await asyncio.wait_for(protocol.read_frame(reader), DEADLINE_S) == protocol.ok(
        1, {"pid": proc.pid}
    )
    writer.close()
    assert await asyncio.wait_for(proc.wait(), DEADLINE_S) == 0
