"""A real server process on 127.0.0.1: the one harness of tests/e2e/ and bench/.

`RealServer` runs `python -m api serve` (or any other command that serves /healthz) with its
own free port, a data dir it is given, cwd in that dir (so no developer's `.env` is read) and
its stdout/stderr in files, for failure messages. Synchronous where bench/ needs it, with async
twins for the e2e tests, which share their event loop with websockets and receivers.

    server = RealServer(data_dir, log_dir, "wamux", {"LOG_LEVEL": "warning"})
    server.spawn(); server.wait_healthy()      # or: await server.wait_healthy_async()
    ...
    server.stop()                              # or: await server.astop(signal.SIGKILL)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# Settings a developer's shell may carry that must not leak into a server under test.
_FOREIGN = (
    "DATABASE_URL",
    "SQLITE_DATABASE_URL",
    "DATABASE_PROVIDER",
    "POSTGRES_DATABASE_URL",
    "UPLOADS_DIR",
)


class ServerFailed(Exception):
    """The server exited, or did not answer /healthz in time; the message has its stderr."""


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wamux_env(
    port: int,
    data_dir: Path,
    *,
    admin_email: str,
    admin_password: str,
    jwt_secret: str,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of `python -m api serve` on the sandbox engine and SQLite in data_dir."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "HOST": HOST,
            "PORT": str(port),
            "DATA_DIR": str(data_dir),
            "WHATSAPP_ENGINE": "sandbox",
            "JWT_SECRET": jwt_secret,
            "ADMIN_EMAIL": admin_email,
            "ADMIN_PASSWORD": admin_password,
            "SANDBOX_QR_DELAY_MS": "50",
            "LOG_LEVEL": "warning",
            # Tests and benches aim webhooks at receivers on 127.0.0.1; a test of the target
            # policy sets WEBHOOK_PRIVATE_URLS itself.
            "WEBHOOK_PRIVATE_URLS": "allow",
        }
    )
    env.update(overrides or {})
    return env


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU time process `pid` has used so far (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after the ")" that ends the command name: utime and stime are fields 12 and 13
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RealServer:
    """One server process. `command=None` is wamux itself; `env` is its whole environment
    when a command is given, else the overrides of `wamux_env`."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        name: str,
        env: dict[str, str] | None = None,
        *,
        command: list[str] | None = None,
        admin_email: str = "admin@example.com",
        admin_password: str = "admin-password-1",
        jwt_secret: str = "real-server-secret-" + "x" * 40,
    ) -> None:
        self.data_dir = data_dir
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.ws_url = f"ws://{HOST}:{self.port}/graphql"
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        if command is None:
            self.command = [sys.executable, "-m", "api", "serve"]
            self.env = wamux_env(
                self.port,
                data_dir,
                admin_email=admin_email,
                admin_password=admin_password,
                jwt_secret=jwt_secret,
                overrides=env,
            )
        else:
            self.command = [*command, "--host", HOST, "--port", str(self.port)]
            self.env = dict(env if env is not None else os.environ)
        self.proc: subprocess.Popen[bytes] | None = None

    # --- process ---------------------------------------------------------------------------

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.data_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def proc_status(self, key: str) -> int | None:
        """A kB figure of /proc/<pid>/status (VmHWM: peak resident set), in bytes."""
        if self.proc is None:
            return None
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.M)
        return int(match.group(1)) * 1024 if match else None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
        return None if self.proc is None else cpu_seconds_of(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Sends `sig` (SIGKILL if it lingers past STOP_TIMEOUT_S); returns the exit code."""
        return self._stop(sig, STOP_TIMEOUT_S)

    async def astop(self, sig: int = signal.SIGTERM) -> int | None:
        return await asyncio.to_thread(self._stop, sig, STOP_TIMEOUT_S)

    def _stop(self, sig: int, timeout: float) -> int | None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout)

    # --- readiness -------------------------------------------------------------------------

    def _exited(self) -> None:
        assert self.proc is not None, "spawn() first"
        code = self.proc.poll()
        if code is not None:
            raise ServerFailed(
                f"{self.name} exited with code {code} before answering /healthz; "
                f"stderr:\n{self.stderr()}"
            )

    def _late(self, timeout: float) -> ServerFailed:
        self._stop(signal.SIGKILL, STOP_TIMEOUT_S)
        return ServerFailed(
            f"{self.name} did not answer /healthz within {timeout:g}s; stderr:\n{self.stderr()}"
        )

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                self._exited()
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/healthz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise self._late(timeout)
                time.sleep(0.05)

    async def wait_healthy_async(self, within_s: float = START_TIMEOUT_S) -> None:
        timeout = within_s
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while True:
                self._exited()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise self._late(timeout)
                await asyncio.sleep(0.05)
