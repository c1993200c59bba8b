"""Webhook delivery throughput and enqueue-to-delivered latency, against a local receiver.

Starts the real server (sandbox engine, SQLite in a temporary directory) and a receiver in a
process of its own (bench/webhook_receiver.py), both on 127.0.0.1, pairs --instances instances
whose webhooks point at that receiver, then:

1. latency: wrk (bench/incoming.lua) posts --events incoming messages at a fixed --rate
   (500/s) over --connections connections, each a distinct message, spread over the
   instances, and the bench measures, for each `message_received` delivery, arrival time
   minus the event's own timestamp (p50/p90/p99), printing the rate wrk achieved next to the
   asked one (a Python client tops out near 300 requests/s here, below the server);
2. throughput: holds the receiver's answers while --backlog events queue up, releases it and
   measures how fast the outbox drains (deliveries/s);
3. baselines: the same receiver posted to directly by this process, with aiohttp (the client
   the dispatcher uses) and with httpx, each with as many requests in flight as there are
   instances (the dispatcher's in-order workers), in the same run.

Targets (printed, not enforced: figures depend on the machine): the drain reaches 2,000/s or
0.8 x the aiohttp baseline; p99 enqueue->delivered under 100 ms at 500 events/s.
Fails (exit 1) unless every event arrived exactly once (a repeated X-Webhook-Id is a failure).

    .venv/bin/python bench/webhooks.py [--instances 20] [--events 2000] [--rate 500]
                                       [--backlog 4000] [--connections 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from direct_posts import BASELINE_BODY, baseline_aiohttp  # noqa: E402
from send_text import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    BenchError,
    expect,
    start_wamux,
    stop,
    wait_healthy,
    wait_status,
)
from wrk_run import WrkResult, run_script  # noqa: E402

from tests.realserver import HOST, RealServer  # noqa: E402


class Receiver:
    """bench/webhook_receiver.py in its own process, driven over its /_bench/ endpoints."""

    def __init__(self, tmp: Path) -> None:
        self.server = RealServer(
            tmp / "receiver",
            tmp,
            "receiver",
            command=[sys.executable, str(HERE / "webhook_receiver.py")],
        )
        self.port = self.server.port
        self.url = self.server.base_url
        self.server.spawn()
        wait_healthy(self.server)
        self.client = httpx.AsyncClient(base_url=self.url, timeout=30)

    async def hold(self) -> None:
        expect(await self.client.post("/_bench/hold"), 200)

    async def release(self) -> None:
        expect(await self.client.post("/_bench/release"), 200)

    async def count(self, event: str) -> tuple[int, int]:
        """(deliveries of `event` with a new X-Webhook-Id, repeated ids of any event)."""
        found = expect(await self.client.get("/_bench/count", params={"event": event}), 200)
        return int(found["count"]), int(found["duplicates"])

    async def arrivals(self, event: str) -> list[tuple[float, str, str, str]]:
        found = expect(await self.client.get("/_bench/arrivals"), 200)
        return [tuple(a) for a in found if a[2] == event]  # type: ignore[misc]

    async def close(self) -> None:
        await self.client.aclose()
        stop(self.server)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def produce(
    base: str, key: str, instances: list[str], count: int, rate: float | None
) -> float:
    """`count` incoming messages spread over the instances; returns the seconds it took.

    Posted with aiohttp: httpx alone could not keep up a 500/s pace on this machine."""
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        base, headers={"x-api-key": key}, connector=connector
    ) as client:
        gate = asyncio.Semaphore(32)

        async def one(n: int) -> None:
            if rate:
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            async with gate:
                instance_id = instances[n % len(instances)]
                payload = {
                    "from": f"7900{n % 1000:07d}",
                    "body": f"bench {n} 你好",
                    "pushName": "Bench",
                }
                async with client.post(f"/api/sandbox/{instance_id}/incoming", json=payload) as r:
                    if r.status != 200:
                        raise BenchError(f"incoming answered {r.status}: {await r.text()}")

        await asyncio.gather(*(one(n) for n in range(count)))
    return time.monotonic() - started


def produce_wrk(
    wrk: str, base: str, key: str, instances: list[str], args: argparse.Namespace
) -> WrkResult:
    """--events incoming messages at --rate, posted by wrk; every one must answer 200."""
    script_args = [",".join(instances), key, str(args.events), str(args.threads), str(args.rate)]
    result, _ = run_script(
        wrk,
        "sandbox incoming",
        base,
        HERE / "incoming.lua",
        script_args,
        args.threads,
        args.connections,
        args.max_seconds,
    )
    if result.sent != args.events or result.ok != args.events or result.errors:
        raise BenchError(
            f"wrk posted {result.sent}/{args.events} incoming messages, {result.ok} answered 200, "
            f"errors {result.errors} ({result.socket_errors}, non-2xx {result.non_2xx})"
        )
    return result


async def wait_for(receiver: Receiver, event: str, total: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while (got := (await receiver.count(event))[0]) < total:
        if time.monotonic() > deadline:
            raise BenchError(f"only {got}/{total} {event} deliveries arrived")
        await asyncio.sleep(0.1)


async def baseline_httpx(url: str, requests: int, parallel: int) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        gate = asyncio.Semaphore(parallel)

        async def one(n: int) -> None:
            async with gate:
                headers = {"x-webhook-id": f"baseline-httpx-{n}"}
                r = await client.post(url, content=BASELINE_BODY, headers=headers)
                r.raise_for_status()

        await asyncio.gather(*(one(n) for n in range(requests)))
    return requests / (time.monotonic() - started)


def setup(base: str, receiver_port: int, count: int) -> tuple[str, list[str]]:
    """Logs in, creates `count` instances with webhooks to the receiver, pairs them."""
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        key = expect(login, 200)["user"]["apiKey"]
        client.headers["x-api-key"] = key
        instances = []
        for n in range(count):
            body = {
                "name": f"bench {n}",
                "engine": "sandbox",
                "webhookUrl": f"http://{HOST}:{receiver_port}/hook",
                "webhookEnabled": True,
                "webhookSecret": "bench-secret",
                "maxRetries": 5,
                "retryInterval": 1000,
            }
            instances.append(expect(client.post("/api/instances", json=body), 201)["id"])
        for instance_id in instances:
            wait_status(client, instance_id, "qr")
            expect(client.post(f"/api/sandbox/{instance_id}/scan", json={}), 200)
            wait_status(client, instance_id, "connected")
    return key, instances


async def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="wamux-bench-webhooks-"))
    receiver = Receiver(tmp)
    # Held answers must outlast producing the backlog, or timed-out attempts are re-sent
    # (and the receiver, answering late, would count the same id twice).
    server = start_wamux(
        tmp, extra={"WEBHOOK_TIMEOUT_MS": "1800000", "WEBHOOK_POLL_INTERVAL_MS": "200"}
    )
    try:
        wait_healthy(server)
        key, instances = await asyncio.to_thread(
            setup, server.base_url, receiver.port, args.instances
        )

        # 1. latency at a steady, moderate pace
        cpu_before = server.cpu_seconds() or 0.0
        posted = await asyncio.to_thread(produce_wrk, wrk, server.base_url, key, instances, args)
        await wait_for(receiver, "message_received", args.events, 120)
        cpu_latency = (server.cpu_seconds() or 0.0) - cpu_before
        load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())  # as `uptime` shows
        latencies = []
        for arrived, _, _, stamp_text in await receiver.arrivals("message_received"):
            stamp = datetime.fromisoformat(stamp_text.replace("Z", "+00:00")).timestamp()
            latencies.append((arrived - stamp) * 1000)

        # 2. throughput: a backlog drained at once
        await receiver.hold()
        queued_in = await produce(server.base_url, key, instances, args.backlog, None)
        before, _ = await receiver.count("message_received")
        released = time.monotonic()
        cpu_before = server.cpu_seconds() or 0.0
        await receiver.release()
        await wait_for(receiver, "message_received", args.events + args.backlog, 300)
        drained = time.monotonic() - released
        cpu_drain = (server.cpu_seconds() or 0.0) - cpu_before
        after, duplicates = await receiver.count("message_received")

        # 3. the receiver on its own, posted to by this process with each client
        url = f"http://{HOST}:{receiver.port}/"
        direct_aiohttp = await baseline_aiohttp(url, args.backlog, args.instances)
        direct_httpx = await baseline_httpx(url, args.backlog, args.instances)
        rss = server.proc_status("VmHWM") or 0
        _, duplicates = await receiver.count("message_received")
        return {
            "instances": args.instances,
            "latency_events": len(latencies),
            "asked_rate": args.rate,
            "production_rate": args.events / (posted.span_s or posted.seconds),
            "incoming_p50_ms": posted.p50_ms,
            "incoming_p99_ms": posted.p99_ms,
            "latency_p50_ms": percentile(latencies, 0.5),
            "latency_p90_ms": percentile(latencies, 0.9),
            "latency_p99_ms": percentile(latencies, 0.99),
            "latency_mean_ms": statistics.fmean(latencies),
            # wamux's own CPU (user + system): less sensitive to a loaded machine than rates
            "cpu_ms_per_event": 1000 * cpu_latency / args.events,
            "cpu_ms_per_drained_delivery": 1000 * cpu_drain / args.backlog,
            "backlog": args.backlog,
            "backlog_queued_s": queued_in,
            "drain_deliveries_per_s": (after - before) / drained,
            "baseline_aiohttp_per_s": direct_aiohttp,
            "baseline_httpx_per_s": direct_httpx,
            "delivered_once": after == args.events + args.backlog,
            "duplicates": duplicates,
            "wamux_peak_rss_mib": rss / 2**20,
            "load_average": load_average,
        }
    finally:
        stop(server)
        await receiver.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--events", type=int, default=2000, help="events for the latency phase")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s in the latency phase")
    parser.add_argument("--backlog", type=int, default=4000, help="events for the drain phase")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections in the latency phase"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads in the latency phase")
    parser.add_argument("--max-seconds", type=int, default=300, help="wrk's -d (a bound)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    failed = result["duplicates"] != 0 or not result["delivered_once"]
    if args.json:
        print(json.dumps(result, indent=2))
        return 1 if failed else 0
    print(f"webhooks to a local receiver, {result['instances']} instances (sandbox, SQLite)")
    print(
        f"  latency (enqueue -> delivered), {result['latency_events']} events, asked "
        f"{args.rate:.0f}/s, achieved {result['production_rate']:.0f}/s: "
        f"p50 {result['latency_p50_ms']:.1f} ms, p90 {result['latency_p90_ms']:.1f} ms, "
        f"p99 {result['latency_p99_ms']:.1f} ms"
    )
    print(
        f"  the incoming POSTs themselves (wrk -t{args.threads} -c{args.connections}, paced): "
        f"p50 {result['incoming_p50_ms']:.1f} ms, p99 {result['incoming_p99_ms']:.1f} ms; "
        f"load average {result['load_average']}"
    )
    print(
        f"  wamux CPU: {result['cpu_ms_per_event']:.2f} ms per incoming message with its "
        f"webhook; {result['cpu_ms_per_drained_delivery']:.2f} ms per drained delivery"
    )
    drain = result["drain_deliveries_per_s"]
    print(
        f"  throughput (draining a backlog of {result['backlog']}): "
        f"{result['drain_deliveries_per_s']:.0f} deliveries/s"
    )
    direct = result["baseline_aiohttp_per_s"]
    print(
        f"  baselines (this process posting to the same receiver, {result['instances']} in "
        f"flight): aiohttp {direct:.0f} req/s, httpx {result['baseline_httpx_per_s']:.0f} req/s"
    )
    print(f"  drain / aiohttp baseline: {drain / direct:.2f}")
    drain_met = drain >= 2000 or drain >= 0.8 * direct
    latency_met = result["latency_p99_ms"] < 100 and result["production_rate"] >= 0.9 * args.rate
    print(
        f"  targets: drain >= 2000/s or >= 0.8 x baseline: {'met' if drain_met else 'NOT met'}; "
        f"p99 < 100 ms at {args.rate:.0f} events/s: {'met' if latency_met else 'NOT met'}"
    )
    rss = result["wamux_peak_rss_mib"]
    print(
        f"  duplicates seen by X-Webhook-Id: {result['duplicates']}; wamux peak RSS {rss:.0f} MiB"
    )
    if failed:
        print(
            "bench failed: every event must arrive exactly once "
            f"(duplicates {result['duplicates']}, all delivered: {result['delivered_once']})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
