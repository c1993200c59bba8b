"""One SecantusDB server (a MongoDB-wire server, `secantusd-py`) per test session.

Started at the first use, on a free port of 127.0.0.1 with its storage in a temporary
directory; stopped, and the directory removed, when the test process exits. Each use gets a
database name of its own (`fresh_url()`), so tests never see each other's records.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

_START_TIMEOUT_S = 60.0


def _executable() -> str:
    beside = Path(sys.executable).parent / "secantusd-py"
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if found is None:
        raise RuntimeError("secantusd-py not found: pip install -e '.[dev]' (secantusdb)")
    return found


def wait_for_ping(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Returns once the server started as `process` answers `ping` at `url`; raises with the
    end of its `log` if it exits first, or after _START_TIMEOUT_S (also used by bench/mongo.py)."""
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + _START_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                output = log.read_text("utf-8", "replace")
                raise RuntimeError(f"secantusd-py exited at start:\n{output[-2000:]}")
            try:
                client.admin.command("ping")
                return
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise RuntimeError("secantusd-py did not answer ping in time") from None
                time.sleep(0.1)
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MongoService:
    """`standalone=True`: a server that does not present itself as a replica set (so, to
    drivers, one without transactions)."""

    def __init__(self, *, standalone: bool = False) -> None:
        self._standalone = standalone
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self.port = 0

    def base_url(self) -> str:
        """Starts the server on first use; its URL without a database name."""
        with self._lock:
            if self._process is None:
                self._start()
        return f"mongodb://127.0.0.1:{self.port}"

    def fresh_url(self) -> str:
        return f"{self.base_url()}/t{uuid.uuid4().hex[:16]}"

    def _start(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="wamux-secantus-"))
        self.port = _free_port()
        log = (self._dir / "server.log").open("wb")
        command = [_executable(), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--storage-path", str(self._dir / "data"), "--log-level", "WARNING"]
        if self._standalone:
            command.append("--standalone")
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
        atexit.register(self.stop)
        wait_for_ping(self._process, f"mongodb://127.0.0.1:{self.port}", self._dir / "server.log")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


SERVICE = MongoService()


async def fresh_url() -> str:
    """A URL naming a new, empty database on the session's server (started on first use)."""
    return await asyncio.to_thread(SERVICE.fresh_url)


async def dump(url: str) -> str:
    """Every document of the URL's database, one JSON line each (what a thief would read)."""
    from bson import json_util
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        db = client.get_default_database()
        lines = []
        for name in await db.list_collection_names():
            async for doc in db[name].find({}):
                lines.append(json_util.dumps(doc, ensure_ascii=False))
        return "\n".join(lines)
    finally:
        await client.close()
