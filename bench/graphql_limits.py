"""What hostile GraphQL documents cost the server, and what /healthz feels meanwhile.

Starts the real server (sandbox engine, SQLite in a temporary directory, on 127.0.0.1), then:

1. baseline: /healthz latency on the idle server (--probes sequential requests);
2. flood: --clients concurrent clients without credentials, for --seconds, each sending in
   turn a 0.6 MB document, 2,000 aliases of `instanceEvents(limit: 1000)`, and a document
   near every default limit (validated in full, off the event loop); /healthz is probed all
   along;
3. with --unlimited, the same two hostile documents once each against a second server whose
   document limits are set out of reach: the behaviour before the limits, for comparison.

Prints the refusal latency per document (p50/p99/max), /healthz latency idle and under the
flood (p50/p99/max), and the server's peak RSS (VmHWM). Exit 1 if a hostile document was not
refused with 413/400 or /healthz failed.

    .venv/bin/python bench/graphql_limits.py [--clients 8] [--seconds 10] [--unlimited] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.realserver import RealServer  # noqa: E402

LARGE = "{ " + "instances { id } " * 36_000 + "}"
ALIASES = (
    "{ "
    + " ".join(
        f'a{i}: instanceEvents(id: "x", limit: 1000) {{ events {{ data }} }}' for i in range(2000)
    )
    + " }"
)
# Near every default limit at once: 100 repeats of one field (the overlap bound), 29 aliases,
# ~1,700 tokens, validated in full (an unknown instance id: nothing is read).
HEAVIEST_VALID = (
    "{ me { "
    + "id " * 100
    + "} "
    + " ".join(
        f'a{i}: instanceEvents(id: "x", limit: 50) {{ count hasMore events {{ id type '
        "timestamp instanceId data } }"
        for i in range(29)
    )
    + " }"
)
DOCUMENTS = {
    "0.6 MB document": LARGE,
    "2,000 aliases": ALIASES,
    "costliest admitted": HEAVIEST_VALID,
}
UNLIMITED = {
    "GRAPHQL_MAX_QUERY_BYTES": str(10**9),
    "GRAPHQL_MAX_TOKENS": str(10**9),
    "GRAPHQL_MAX_DEPTH": str(10**6),
    "GRAPHQL_MAX_ALIASES": str(10**9),
    "GRAPHQL_MAX_COST": str(10**15),
}


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def start(tmp: Path, name: str, env: dict[str, str] | None = None) -> RealServer:
    server = RealServer(tmp / name, tmp, name, env)
    server.spawn()
    server.wait_healthy(60.0)
    return server


async def probe_healthz(http: httpx.AsyncClient, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.monotonic()
        answer = await http.get("/healthz")
        assert answer.status_code == 200, answer.text
        took.append(time.monotonic() - started)
    return took


async def flood(server: RealServer, clients: int, seconds: float) -> dict[str, Any]:
    failures: list[str] = []
    latency: dict[str, list[float]] = {name: [] for name in DOCUMENTS}
    healthz: list[float] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120.0) as http:
        idle = await probe_healthz(http, 200)

        async def client() -> None:
            while time.monotonic() < deadline:
                for name, query in DOCUMENTS.items():
                    started = time.monotonic()
                    answer = await http.post("/graphql", json={"query": query})
                    latency[name].append(time.monotonic() - started)
                    hostile = name != "costliest admitted"
                    if hostile and answer.status_code not in (400, 413):
                        failures.append(f"{name}: {answer.status_code} {answer.text[:200]}")

        async def probe() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                answer = await http.get("/healthz")
                if answer.status_code != 200:
                    failures.append(f"/healthz: {answer.status_code}")
                healthz.append(time.monotonic() - started)
                await asyncio.sleep(0.02)

        await asyncio.gather(probe(), *(client() for _ in range(clients)))
    return {
        "healthz_idle": summary(idle),
        "healthz_under_flood": summary(healthz),
        "documents": {name: summary(values) for name, values in latency.items()},
        "peak_rss_mib": round((server.proc_status("VmHWM") or 0) / 2**20, 1),
        "failures": failures,
    }


async def _probe_until(http: httpx.AsyncClient, finished: asyncio.Event, out: list[float]) -> None:
    while not finished.is_set():
        started = time.monotonic()
        await http.get("/healthz")
        out.append(time.monotonic() - started)
        await asyncio.sleep(0.02)


async def unlimited(server: RealServer) -> dict[str, Any]:
    """One of each hostile document with the limits out of reach, /healthz probed meanwhile."""
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=300.0) as http:
        for name in ("0.6 MB document", "2,000 aliases"):
            healthz: list[float] = []
            finished = asyncio.Event()
            prober = asyncio.create_task(_probe_until(http, finished, healthz))
            started = time.monotonic()
            answer = await http.post("/graphql", json={"query": DOCUMENTS[name]})
            took = time.monotonic() - started
            finished.set()
            await prober
            out[name] = {
                "status": answer.status_code,
                "answer_bytes": len(answer.content),
                "took_ms": round(took * 1000, 1),
                "healthz_meanwhile": summary(healthz),
            }
    out["peak_rss_mib"] = round((server.proc_status("VmHWM") or 0) / 2**20, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--unlimited", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as directory:
        tmp = Path(directory)
        server = start(tmp, "limited")
        try:
            report["limited"] = asyncio.run(flood(server, args.clients, args.seconds))
        finally:
            server.stop()
        if args.unlimited:
            server = start(tmp, "unlimited", UNLIMITED)
            try:
                report["unlimited"] = asyncio.run(unlimited(server))
            finally:
                server.stop()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        limited = report["limited"]
        print(f"/healthz idle:        {limited['healthz_idle']}")
        print(f"/healthz under flood: {limited['healthz_under_flood']}")
        for name, figures in limited["documents"].items():
            print(f"{name:>20}: {figures}")
        print(f"peak RSS: {limited['peak_rss_mib']} MiB")
        if "unlimited" in report:
            print("without limits (for comparison):")
            for name, figures in report["unlimited"].items():
                print(f"  {name}: {figures}")
        for failure in limited["failures"]:
            print("FAILED:", failure)
    return 1 if report["limited"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
