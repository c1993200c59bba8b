"""Webhook delivery throughput and enqueue-to-delivered latency, against a local receiver.

Starts the real server (sandbox engine, SQLite in a temporary directory), pairs --instances
instances whose webhooks point at a receiver running in this process on 127.0.0.1, then:

1. latency: produces --events incoming messages at a steady pace and measures, for each
   `message_received` delivery, arrival time minus the event's own timestamp (p50/p90/p99);
2. throughput: holds the receiver's answers while --backlog events queue up, releases it and
   measures how fast the outbox drains (deliveries/s);
3. baseline: the same receiver hit directly by this process's HTTP client, to show what the
   receiver and client alone can do in the same run.

    .venv/bin/python bench/webhooks.py [--instances 20] [--events 600] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from send_text import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    HOST,
    BenchError,
    expect,
    free_port,
    start_wamux,
    wait_healthy,
    wait_status,
)


@dataclass
class Receiver:
    """A minimal keep-alive HTTP/1.1 server; records arrivals, can hold its answers."""

    port: int = field(default_factory=free_port)
    arrivals: list[tuple[float, str, dict]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    duplicates: int = 0

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.open = asyncio.Event()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(self.open.set)
            server = self.loop.run_until_complete(
                asyncio.start_server(self._serve, HOST, self.port)
            )
            ready.set()
            self.loop.run_forever()
            server.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def hold(self) -> None:
        self.loop.call_soon_threadsafe(self.open.clear)

    def release(self) -> None:
        self.loop.call_soon_threadsafe(self.open.set)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await self.open.wait()
                now = time.time()
                delivery_id = headers.get("x-webhook-id", "")
                if delivery_id in self.ids:
                    self.duplicates += 1
                else:
                    self.ids.add(delivery_id)
                    self.arrivals.append((now, delivery_id, json.loads(body) if body else {}))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def received(self, event: str) -> list[tuple[float, str, dict]]:
        return [a for a in list(self.arrivals) if a[2].get("event") == event]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def produce(
    base: str, key: str, instances: list[str], count: int, rate: float | None
) -> float:
    """`count` incoming messages spread over the instances; returns the seconds it took."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": key}, timeout=30) as client:
        gate = asyncio.Semaphore(8)

        async def one(n: int) -> None:
            if rate:
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            async with gate:
                instance_id = instances[n % len(instances)]
                r = await client.post(
                    f"/api/sandbox/{instance_id}/incoming",
                    json={
                        "from": f"7900{n % 1000:07d}",
                        "body": f"bench {n} 你好",
                        "pushName": "Bench",
                    },
                )
                expect(r, 200)

        await asyncio.gather(*(one(n) for n in range(count)))
    return time.monotonic() - started


async def wait_for(receiver: Receiver, event: str, total: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while len(receiver.received(event)) < total:
        if time.monotonic() > deadline:
            raise BenchError(
                f"only {len(receiver.received(event))}/{total} {event} deliveries arrived"
            )
        await asyncio.sleep(0.05)


async def baseline(receiver: Receiver, requests: int) -> float:
    body = json.dumps({"event": "baseline", "data": {}, "timestamp": ""}).encode()
    url = f"http://{HOST}:{receiver.port}/"
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        gate = asyncio.Semaphore(20)

        async def one(n: int) -> None:
            async with gate:
                r = await client.post(url, content=body, headers={"x-webhook-id": f"baseline-{n}"})
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


async def run(args: argparse.Namespace) -> dict[str, float]:
    receiver = Receiver()
    receiver.start()
    tmp = Path(tempfile.mkdtemp(prefix="wamux-bench-webhooks-"))
    server = start_wamux(
        tmp, extra={"WEBHOOK_TIMEOUT_MS": "120000", "WEBHOOK_POLL_INTERVAL_MS": "200"}
    )
    try:
        wait_healthy(server)
        key, instances = await asyncio.to_thread(setup, server.url, receiver.port, args.instances)

        # 1. latency at a steady, moderate pace
        produced = await produce(server.url, key, instances, args.events, args.rate)
        await wait_for(receiver, "message_received", args.events, 120)
        latencies = []
        for arrived, _, payload in receiver.received("message_received"):
            stamp = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp()
            latencies.append((arrived - stamp) * 1000)

        # 2. throughput: a backlog drained at once
        receiver.hold()
        await asyncio.sleep(0.5)
        queued_in = await produce(server.url, key, instances, args.backlog, None)
        before = len(receiver.received("message_received"))
        released = time.monotonic()
        receiver.release()
        await wait_for(receiver, "message_received", args.events + args.backlog, 300)
        drained = time.monotonic() - released
        drained_count = len(receiver.received("message_received")) - before

        # 3. the receiver on its own
        direct = await baseline(receiver, args.backlog)
        rss = server.proc_status("VmHWM") or 0
        return {
            "instances": args.instances,
            "latency_events": len(latencies),
            "production_rate": args.events / produced,
            "latency_p50_ms": percentile(latencies, 0.5),
            "latency_p90_ms": percentile(latencies, 0.9),
            "latency_p99_ms": percentile(latencies, 0.99),
            "latency_mean_ms": statistics.fmean(latencies),
            "backlog": args.backlog,
            "backlog_queued_s": queued_in,
            "drain_deliveries_per_s": drained_count / drained,
            "baseline_receiver_per_s": direct,
            "duplicates": receiver.duplicates,
            "wamux_peak_rss_mib": rss / 2**20,
        }
    finally:
        server.stop()
        receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--events", type=int, default=600, help="events for the latency phase")
    parser.add_argument("--rate", type=float, default=50.0, help="events/s in the latency phase")
    parser.add_argument("--backlog", type=int, default=2000, help="events for the drain phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"webhooks to a local receiver, {result['instances']} instances (sandbox, SQLite)")
    print(
        f"  latency (enqueue -> delivered), {result['latency_events']} events at "
        f"{result['production_rate']:.0f}/s: p50 {result['latency_p50_ms']:.1f} ms, "
        f"p90 {result['latency_p90_ms']:.1f} ms, p99 {result['latency_p99_ms']:.1f} ms"
    )
    print(
        f"  throughput (draining a backlog of {result['backlog']}): "
        f"{result['drain_deliveries_per_s']:.0f} deliveries/s"
    )
    direct = result["baseline_receiver_per_s"]
    print(f"  baseline (this process posting to the same receiver): {direct:.0f} req/s")
    rss = result["wamux_peak_rss_mib"]
    print(
        f"  duplicates seen by X-Webhook-Id: {result['duplicates']}; wamux peak RSS {rss:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
