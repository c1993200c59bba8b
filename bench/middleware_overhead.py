"""What the request-telemetry middleware (request id + Prometheus count and latency) costs.

Two measurements, both against a baseline taken in the same run:
1. In process, no network: the middleware around a trivial ASGI app, called N times, versus
   the trivial app alone -> microseconds per request.
2. wrk on GET /healthz of the whole wamux app served by uvicorn (sandbox engine, SQLite in a
   temporary dir), with and without the middleware, rounds interleaved (A B A B ...) so a
   shared, loaded machine weighs on both alike.

    python bench/middleware_overhead.py [--rounds 3] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from adapters.metrics.prometheus import Metrics  # noqa: E402
from api.request_telemetry import RequestTelemetry  # noqa: E402
from tests.realserver import RealServer  # noqa: E402


async def _trivial(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


class _Route:
    path = "/healthz"


async def _per_call(app: object, n: int) -> float:
    async def send(message: dict) -> None:  # type: ignore[type-arg]
        return None

    async def receive() -> dict:  # type: ignore[type-arg]
        return {"type": "http.request", "body": b""}

    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    start = time.perf_counter()
    for _ in range(n):
        scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": headers}
        scope["route"] = _Route()
        await app(scope, receive, send)  # type: ignore[operator]
    return (time.perf_counter() - start) / n


def in_process(n: int) -> tuple[float, float]:
    wrapped = RequestTelemetry(_trivial, Metrics())  # type: ignore[arg-type]
    bare, with_mw = [], []
    for _ in range(5):
        bare.append(asyncio.run(_per_call(_trivial, n)))
        with_mw.append(asyncio.run(_per_call(wrapped, n)))
    return min(bare), min(with_mw)


def serve(port: int, telemetry: bool) -> None:
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings())
    if not telemetry:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestTelemetry]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    assert p50 is not None
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--without", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, telemetry=not args.without)
        return

    bare, with_mw = in_process(args.calls)
    print(
        f"in process, {args.calls} calls x5 (best): trivial app {bare * 1e6:.2f} us, "
        f"with RequestTelemetry {with_mw * 1e6:.2f} us -> +{(with_mw - bare) * 1e6:.2f} us/request"
    )
    if args.rounds < 1:
        return
    results: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        for name in ("with", "without"):
            extra = ["--without"] if name == "without" else []
            env = {
                **os.environ,
                "DATA_DIR": str(Path(tmp) / name),
                "JWT_SECRET": "bench-" + "x" * 40,
                "WHATSAPP_ENGINE": "sandbox",
                "LOG_LEVEL": "warning",
                "PYTHONPATH": str(HERE.parent),
            }
            servers[name] = RealServer(
                Path(tmp) / name,
                Path(tmp),
                name,
                env,
                command=[sys.executable, str(Path(__file__).resolve()), "--serve", *extra],
            )
        for server in servers.values():
            server.spawn()
            server.wait_healthy()
        try:
            for _ in range(args.rounds):
                for name, server in servers.items():
                    results[name].append(
                        wrk(f"{server.base_url}/healthz", args.seconds, args.connections)
                    )
        finally:
            for server in servers.values():
                server.stop()
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p50 = statistics.median(p for _, p in runs)
        print(
            f"wrk /healthz {name:7} RequestTelemetry: median of {len(runs)} rounds "
            f"{rps:,.0f} req/s, p50 {p50:.2f} ms  (rounds: {[round(r) for r, _ in runs]})"
        )
    ratio = statistics.median(r for r, _ in results["with"]) / statistics.median(
        r for r, _ in results["without"]
    )
    print(f"throughput with / without: {ratio:.3f}")


if __name__ == "__main__":
    main()
