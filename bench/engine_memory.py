"""Resident memory of the neonize engine: per worker process and per idle client, offline.

For each client count (default 50 and 200) it starts the real server on 127.0.0.1 with the
neonize engine, creates that many instances, waits until every one has reported its failed
first connect (the workers dial through a local port that refuses every connection, so
nothing leaves the machine), and reads each worker's resident set (`/api/engine/workers`,
VmRSS) and the server's. An empty worker (neonize imported, no client) gives the fixed cost;
the rest divided by the clients is the cost of one idle client. Beside it, the same number of
sandbox instances in one server process.

    .venv/bin/python bench/engine_memory.py [--clients 50 200] [--per-worker 50]

Offline figures are lower bounds: a paired session holds its keys, app state and caches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.transport.neonize import protocol  # noqa: E402

HOST = "127.0.0.1"
ADMIN = {"email": "admin@example.com", "password": "bench-admin-password"}
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    def __init__(self, tmp: Path, engine: str, proxy: str, per_worker: int) -> None:
        self.port = free_port()
        data = tmp / f"data-{engine}-{self.port}"
        data.mkdir()
        env = {
            **os.environ,
            "HOST": HOST,
            "PORT": str(self.port),
            "DATA_DIR": str(data),
            "WHATSAPP_ENGINE": engine,
            "ENGINE_PROXY_URL": proxy,
            "ENGINE_WORKER_INSTANCES": str(per_worker),
            "JWT_SECRET": "bench-jwt-secret-" + "x" * 32,
            "ADMIN_EMAIL": ADMIN["email"],
            "ADMIN_PASSWORD": ADMIN["password"],
            "LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
        for var in ("DATABASE_URL", "SQLITE_DATABASE_URL", "DATABASE_PROVIDER", "UPLOADS_DIR"):
            env.pop(var, None)
        self.log = open(tmp / f"server-{engine}-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api", "serve"],
            cwd=data,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        token = self.http.post("/api/auth/login", json=ADMIN).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def create(self, count: int, engine: str) -> list[str]:
        ids = []
        for i in range(count):
            r = self.http.post("/api/instances", json={"name": f"bench-{i}", "engine": engine})
            r.raise_for_status()
            ids.append(r.json()["id"])
        return ids

    def wait_all(self, ids: list[str], done: Any) -> None:
        deadline = time.monotonic() + 600
        pending = set(ids)
        while pending:
            for iid in list(pending):
                if done(self.http.get(f"/api/instances/{iid}/status").json()):
                    pending.discard(iid)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} instance(s) never settled")
            time.sleep(0.5)

    def settle(self) -> None:
        time.sleep(3)  # let allocators and Go's GC settle; a bench, not a test

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


async def empty_worker_rss(tmp: Path) -> int:
    """A worker with neonize loaded and no client: the fixed cost of one worker process."""
    ours, theirs = socket.socketpair()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api.cli", "engine-worker", "--fd", str(theirs.fileno())),
        *("--worker-id", "w0", "--instances-dir", str(tmp), "--max-clients", "50"),
        pass_fds=(theirs.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    theirs.close()
    reader, writer = await asyncio.open_connection(sock=ours)
    await asyncio.wait_for(protocol.read_frame(reader), 120)  # hello: neonize is imported
    await asyncio.sleep(3)
    await protocol.write_frame(writer, protocol.request(1, "stats", None))
    stats = await asyncio.wait_for(protocol.read_frame(reader), 30)
    writer.close()
    await proc.wait()
    assert stats is not None
    return int(stats["result"]["rssBytes"])


def neonize_row(tmp: Path, proxy: str, clients: int, per_worker: int, empty: int) -> list[str]:
    server = Server(tmp, "neonize", proxy, per_worker)
    try:
        ids = server.create(clients, "neonize")
        server.wait_all(
            ids,
            lambda s: s["status"] == "disconnected" and "refused" in str(s.get("reason")),
        )
        server.settle()
        workers = server.http.get("/api/engine/workers").json()["workers"]
        per = [w["rssBytes"] for w in workers]
        total = sum(per)
        per_client = (total - empty * len(workers)) / clients
        return [
            "neonize",
            str(clients),
            str(len(workers)),
            " / ".join(f"{r / MIB:.0f}" for r in per),
            f"{total / MIB:.0f}",
            f"{per_client / MIB:.2f}",
            f"{rss_bytes(server.proc.pid) / MIB:.0f}",
        ]
    finally:
        server.stop()


def sandbox_row(tmp: Path, proxy: str, clients: int) -> list[str]:
    server = Server(tmp, "sandbox", proxy, 50)
    try:
        server.settle()
        before = rss_bytes(server.proc.pid)
        ids = server.create(clients, "sandbox")
        server.wait_all(ids, lambda s: s["status"] == "qr")
        server.settle()
        after = rss_bytes(server.proc.pid)
        return [
            "sandbox",
            str(clients),
            "-",
            "-",
            f"{(after - before) / MIB:.0f}",
            f"{(after - before) / clients / MIB:.2f}",
            f"{after / MIB:.0f}",
        ]
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--per-worker", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, socket.socket() as refusing:
        tmp = Path(name)
        refusing.bind((HOST, 0))  # bound, never listening: every dial through it is refused
        proxy = f"http://{HOST}:{refusing.getsockname()[1]}"
        empty = asyncio.run(empty_worker_rss(tmp / "empty"))
        rows = [
            [
                "engine",
                "clients",
                "workers",
                "RSS per worker MiB",
                "engine MiB",
                "MiB per client",
                "server MiB",
            ]
        ]
        for clients in args.clients:
            rows.append(neonize_row(tmp, proxy, clients, args.per_worker, empty))
            rows.append(sandbox_row(tmp, proxy, clients))
    print(f"empty worker (neonize loaded, no client): {empty / MIB:.0f} MiB")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print(
        "engine MiB: the sum of the workers' RSS (neonize) or the server's growth (sandbox); "
        "MiB per client: beyond an empty worker's fixed cost."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
