"""Throughput and latency of wamux's text send endpoint, against a bare FastAPI baseline.

Starts the real server (`python -m api serve`, sandbox engine, SQLite in a temporary
directory) and a webhook receiver (bench/webhook_receiver.py, a process of its own), pairs
one instance whose webhook (every event: sent, delivered, read) points at the receiver, and
drives POST /api/whatsapp/{id}/send with wrk until --messages messages have been answered;
then does the same against bench/baseline_app.py (a one-endpoint FastAPI app under the same
uvicorn settings). Then a paced run at half the throughput wamux reached, for its latency
there. Checks that wamux stored every 200 exactly once (and answered nothing else), that
every message reached `read` and its webhooks the receiver, and prints a table (or --json)
with the ratio to the baseline.

    .venv/bin/python bench/send_text.py [--messages 10000] [--connections 32] [--threads 2]
                                        [--no-webhooks] [--paced-messages 2000]
                                        [--provider sqlite|postgresql|mongodb]
                                        [--postgres-url URL] [--mongo-url URL]

`--provider postgresql` runs wamux on a fresh PostgreSQL database instead (bench/postgres.py;
--postgres-url names the server, default the local one the tests use), dropped at the end.
`--provider mongodb` runs it on a fresh MongoDB database (bench/mongo.py): on a SecantusDB
server the bench starts on a free port and stops at the end, or on the server of --mongo-url
(the database dropped at the end).

Needs wrk (Debian/Ubuntu: apt-get install wrk). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from tests.realserver import RealServer, ServerFailed  # noqa: E402

sys.path.insert(0, str(HERE))
import mongo as mdb  # noqa: E402
import postgres as pg  # noqa: E402
from direct_posts import baseline_aiohttp  # noqa: E402
from wrk_run import RECIPIENT, BenchError, WrkResult, run_wrk  # noqa: E402

BASELINE = HERE / "baseline_app.py"
RECEIVER = HERE / "webhook_receiver.py"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-123"
# how long to wait after the run for the background receipts to reach every message
RECEIPT_WAIT_S = 120
# webhooks each send causes here: message_sent, then message_status delivered and read
WEBHOOKS_PER_SEND = 3
CEILING_POSTS = 6000


# --- servers (tests/realserver.py: the harness the e2e tests use too) ----------------------------


def start_wamux(tmp: Path, extra: dict[str, str] | None = None) -> RealServer:
    server = RealServer(
        tmp / "wamux-data",
        tmp,
        "wamux",
        extra,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        jwt_secret="bench-jwt-secret-" + "x" * 32,
    )
    server.spawn()
    return server


def start_baseline(tmp: Path) -> RealServer:
    server = RealServer(
        tmp / "baseline-data", tmp, "baseline", command=[sys.executable, str(BASELINE)]
    )
    server.spawn()
    return server


def wait_healthy(server: RealServer, timeout: float = 60.0) -> None:
    try:
        server.wait_healthy(timeout)
    except ServerFailed as exc:
        raise BenchError(str(exc)) from None


def stop(server: RealServer) -> None:
    server.stop(signal.SIGINT)  # uvicorn's graceful shutdown


# --- wamux setup --------------------------------------------------------------------------------


def expect(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in codes:
        raise BenchError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def wait_status(client: httpx.Client, instance_id: str, wanted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = expect(client.get(f"/api/instances/{instance_id}/status"), 200)["status"]
        if status == wanted:
            return
        time.sleep(0.05)
    raise BenchError(f"instance {instance_id} is {status!r}, not {wanted!r}, after {timeout}s")


def start_receiver(tmp: Path) -> RealServer:
    server = RealServer(
        tmp / "receiver-data", tmp, "receiver", command=[sys.executable, str(RECEIVER)]
    )
    server.spawn()
    return server


def webhook_body(receiver: RealServer | None) -> dict[str, Any]:
    if receiver is None:
        return {}
    return {
        "webhookUrl": f"{receiver.base_url}/hook",
        "webhookEnabled": True,
        "webhookSecret": "bench-secret",
        "notifySent": True,
        "notifyDelivery": True,
        "notifyRead": True,
    }


def webhooks_received(receiver: RealServer, event: str) -> tuple[int, int]:
    """(deliveries of `event` the receiver got, repeated deliveries of any event)."""
    with httpx.Client(base_url=receiver.base_url, timeout=10) as client:
        found = expect(client.get("/_bench/count", params={"event": event}), 200)
    return int(found["count"]), int(found["duplicates"])


def wait_webhooks(receiver: RealServer, event: str, total: int) -> dict[str, Any]:
    started = time.monotonic()
    got, duplicates = webhooks_received(receiver, event)
    while got < total and time.monotonic() - started < RECEIPT_WAIT_S:
        time.sleep(0.5)
        got, duplicates = webhooks_received(receiver, event)
    return {"event": event, "received": got, "expected": total, "duplicates": duplicates}


def pair_instance(server: RealServer, receiver: RealServer | None) -> tuple[str, str]:
    """Log in, create a sandbox instance, pair it; returns (api key, instance id)."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        login = expect(
            client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            200,
        )
        api_key = login["user"]["apiKey"]
        client.headers["x-api-key"] = api_key
        body = {"name": "bench", "engine": "sandbox", **webhook_body(receiver)}
        created = expect(client.post("/api/instances", json=body), 201)
        instance_id = created["id"]
        wait_status(client, instance_id, "qr")
        expect(client.post(f"/api/sandbox/{instance_id}/scan", json={}), 200)
        wait_status(client, instance_id, "connected")
    return api_key, instance_id


# --- checks -------------------------------------------------------------------------------------


def statuses(client: httpx.Client, path: str, total: int) -> tuple[Counter[str], int]:
    """How many of the stored messages are at each status, right now; and how many
    distinct WhatsApp ids they have."""
    found: Counter[str] = Counter()
    ids: set[str] = set()
    for skip in range(0, total, 1000):
        page = expect(client.get(path, params={"limit": 1000, "skip": skip}), 200)
        found.update(m["status"] for m in page["messages"])
        ids.update(m["messageId"] for m in page["messages"])
    return found, len(ids)


def receipts(server: RealServer, api_key: str, instance_id: str) -> dict[str, Any]:
    """Messages stored for RECIPIENT and their statuses as the last send has just been
    answered; then waits (up to RECEIPT_WAIT_S) until every one has reached `read`."""
    path = f"/api/instances/{instance_id}/chats/{RECIPIENT}/messages"
    headers = {"x-api-key": api_key}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        started = time.monotonic()
        total = expect(client.get(path, params={"limit": 1}), 200)["pagination"]["total"]
        at_last_answer, distinct = statuses(client, path, total)
        now = at_last_answer
        all_read_after = 0.0 if now["read"] == total else None
        while all_read_after is None and time.monotonic() - started < RECEIPT_WAIT_S:
            time.sleep(0.5)
            now, distinct = statuses(client, path, total)
            if now["read"] == total:
                all_read_after = time.monotonic() - started
    return {
        "total": total,
        "distinct_ids": distinct,
        "at_last_answer": dict(at_last_answer),
        "final": dict(now),
        "all_read_after_s": None if all_read_after is None else round(all_read_after, 3),
    }


def cpu_ms_per(seconds: float | None, count: int) -> float | None:
    return None if seconds is None or count == 0 else round(seconds * 1000 / count, 3)


# --- report -------------------------------------------------------------------------------------


def mib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:.1f} MiB"


def print_table(results: list[WrkResult], report: dict[str, Any]) -> None:
    head = ("target", "requests", "req/s", "p50", "p90", "p99", "errors")
    rows = [
        (
            r.target,
            str(r.messages),
            f"{r.rps:.0f}",
            f"{r.p50_ms:.2f} ms",
            f"{r.p90_ms:.2f} ms",
            f"{r.p99_ms:.2f} ms",
            str(r.errors),
        )
        for r in results
    ]
    if len(results) == 2 and results[1].rps:
        w, b = results
        rows.append(
            (
                "wamux/baseline",
                "",
                f"{w.rps / b.rps:.2f}x",
                f"{w.p50_ms / b.p50_ms:.1f}x",
                f"{w.p90_ms / b.p90_ms:.1f}x",
                f"{w.p99_ms / b.p99_ms:.1f}x",
                "",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for i, row in enumerate([head, *rows]):
        pairs = zip(row, widths, strict=True)
        cells = [c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(pairs)]
        print("  ".join(cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    cfg = report["config"]
    print(
        f"wamux on {cfg['provider']}; wrk -t{cfg['threads']} -c{cfg['connections']}, "
        f"{cfg['messages']} POSTs per target"
    )
    for r in results:
        print(
            f"  {r.target}: {r.sent} POSTs sent, {r.requests} answered in {r.seconds:.2f}s, "
            f"max latency {r.max_ms:.1f} ms"
        )
    p = report.get("paced")
    if p:
        print(
            f"  paced at half wamux's rate (target {p['target_rps']:.0f}/s, "
            f"-t1 -c{p['connections']}, {p['pace_ms']} ms between POSTs per connection): "
            f"{p['rps']:.0f} req/s, "
            f"p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, errors {p['errors']}"
        )
    c = report.get("webhook_ceiling")
    if c:
        print(
            f"  webhook ceiling: aiohttp alone posts {c['client_posts_per_s']} req/s to the same "
            f"receiver (this process, nothing else to do); at {c['webhooks_per_send']} webhooks "
            f"per send that caps sends at {c['sends_per_s']}/s, {c['ratio']:.2f}x the baseline"
        )
        per = c["cpu_ms_per_webhook"]
        if per:
            print(
                f"  CPU per webhook posted so: client {per['client']:.3f} ms, receiver "
                f"{per['receiver']:.3f} ms; at 0.40x the baseline ({WEBHOOKS_PER_SEND} per send) "
                f"the webhooks alone need {c['cores_for_webhooks_at_0_40x']} cores "
                f"of this machine's {os.cpu_count()}"
            )
        if c["one_process_ratio"]:
            print(
                f"  one process that only answered as the baseline does "
                f"({c['baseline_cpu_ms_per_request']:.3f} ms CPU per request) and posted its "
                f"{WEBHOOKS_PER_SEND} webhooks: at most {c['one_process_ratio']:.2f}x the baseline"
            )
    v = report["verification"]
    print(
        f"stored messages: {v['stored']} ({v['distinct_ids']} distinct ids) for {v['ok_200']} "
        f"answers 200 ({'OK' if v['stored_matches'] else 'MISMATCH'}); non-2xx: {v['non_2xx']}"
    )
    print(
        f"statuses as the last send was answered: {v['statuses_at_last_answer']}; every "
        + (
            f"message read {v['all_read_after_s']}s after that"
            if v["all_read"]
            else f"message NOT read within {RECEIPT_WAIT_S}s: {v['statuses_final']}"
        )
    )
    for hook in v["webhooks"]:
        print(
            f"webhooks {hook['event']}: {hook['received']} received of {hook['expected']}, "
            f"{hook['duplicates']} repeated"
        )
    cpu = report["cpu"]
    print(
        f"wamux CPU per send: {cpu['wamux_ms_per_send_during_run']} ms while sending, "
        f"{cpu['wamux_ms_per_send_with_receipts']} ms with its receipts"
    )
    rss = report["rss"]
    print(f"peak RSS (VmHWM): wamux {mib(rss['wamux_peak'])}, baseline {mib(rss['baseline_peak'])}")


# --- main ---------------------------------------------------------------------------------------


def paced_settings(rate: float) -> tuple[int, int]:
    """(connections, ms between POSTs per connection) for about `rate` POSTs a second.
    Each connection waits at least 50 ms, so the time answers take (added to the wait)
    slows the rate little."""
    connections = max(1, math.ceil(rate * 50 / 1000))
    return connections, max(1, round(connections * 1000 / rate))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="POSTs per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--paced-messages", type=int, default=2_000, help="POSTs of the paced run (0: none)"
    )
    parser.add_argument(
        "--no-webhooks", dest="webhooks", action="store_false", help="no webhook receiver"
    )
    parser.add_argument(
        "--max-seconds", type=int, default=300, help="give up on a wrk run after this long"
    )
    parser.add_argument("--provider", choices=("sqlite", "postgresql", "mongodb"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=pg.ADMIN_URL,
        help="PostgreSQL server (its maintenance database) to create the bench's database on",
    )
    parser.add_argument(
        "--mongo-url",
        help="MongoDB server to create the bench's database on (default: a SecantusDB of its own)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--wrk-output", action="store_true", help="also print wrk's own output")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.connections < args.threads or args.messages < args.threads:
        parser.error("need threads >= 1, connections >= threads and messages >= threads")

    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "bench: wrk is not installed; install it first (Debian/Ubuntu: apt-get install wrk)",
            file=sys.stderr,
        )
        return 2

    servers: list[RealServer] = []

    def log(*parts: object) -> None:
        print(*parts, file=sys.stderr if args.json else sys.stdout, flush=True)

    paced: WrkResult | None = None
    pace = (0, 0)
    direct_posts_per_s: float | None = None
    posting_cpu_ms: dict[str, float] = {}  # CPU per webhook posted straight to the receiver
    baseline_ms: float | None = None  # the baseline's CPU per request
    pg_url = pg.create(args.postgres_url) if args.provider == "postgresql" else None
    secantus: mdb.SecantusServer | None = None
    mongo_db: str | None = None
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            env = pg.server_env(pg_url) if pg_url else None
            if args.provider == "mongodb":
                if args.mongo_url is None:
                    log("starting SecantusDB ...")
                    secantus = mdb.SecantusServer(tmp / "secantus")
                    secantus.start()
                base = args.mongo_url or (secantus.base_url if secantus else "")
                mongo_db = mdb.database_url(base, mdb.fresh_name())
                env = mdb.server_env(mongo_db)
            log(f"starting wamux on {args.provider}, the baseline and the webhook receiver ...")
            wamux = start_wamux(tmp, env)
            servers.append(wamux)
            baseline = start_baseline(tmp)
            servers.append(baseline)
            receiver = start_receiver(tmp) if args.webhooks else None
            if receiver is not None:
                servers.append(receiver)
            for server in servers:
                wait_healthy(server)
            api_key, instance_id = pair_instance(wamux, receiver)
            log(f"instance {instance_id} connected; {args.messages} messages to {RECIPIENT} ...")
            send_path = f"/api/whatsapp/{instance_id}/send"

            cpu_before = wamux.cpu_seconds()
            w, w_out = run_wrk(wrk, "wamux send", wamux, send_path, api_key, args)
            cpu_sent = wamux.cpu_seconds()
            # the baseline runs only once wamux is idle: its receipts must not compete with it
            log("waiting for every message to reach read ...")
            stored = receipts(wamux, api_key, instance_id)
            cpu_read = wamux.cpu_seconds()
            log("baseline ...")
            baseline_cpu = baseline.cpu_seconds()
            b, b_out = run_wrk(wrk, "baseline", baseline, "/send", None, args)
            baseline_after = baseline.cpu_seconds()
            if baseline_cpu is not None and baseline_after is not None:
                baseline_ms = 1000 * (baseline_after - baseline_cpu) / b.messages
            baseline_peak = baseline.proc_status("VmHWM")
            if args.paced_messages and w.rps:
                pace = paced_settings(w.rps / 2)
                log(f"paced run at {w.rps / 2:.0f}/s ...")
                paced, _ = run_wrk(
                    wrk,
                    "wamux paced",
                    wamux,
                    send_path,
                    api_key,
                    args,
                    messages=args.paced_messages,
                    connections=pace[0],
                    threads=1,
                    pace_ms=pace[1],
                )
                stored = receipts(wamux, api_key, instance_id)
            wamux_peak = wamux.proc_status("VmHWM")
            ok_total = w.ok + (paced.ok if paced else 0)
            hooks = []
            if receiver is not None:
                log("waiting for the webhooks ...")
                hooks = [
                    wait_webhooks(receiver, "message_sent", ok_total),
                    wait_webhooks(receiver, "message_status", 2 * ok_total),  # delivered, read
                ]
                log("the webhook client alone against the same receiver ...")
                receiver_cpu = receiver.cpu_seconds()
                client_cpu = time.process_time()
                direct_posts_per_s = asyncio.run(
                    baseline_aiohttp(f"{receiver.base_url}/hook", CEILING_POSTS, args.connections)
                )
                client_cpu = time.process_time() - client_cpu
                receiver_after = receiver.cpu_seconds()
                if receiver_cpu is not None and receiver_after is not None:
                    posting_cpu_ms = {
                        "client": 1000 * client_cpu / CEILING_POSTS,
                        "receiver": 1000 * (receiver_after - receiver_cpu) / CEILING_POSTS,
                    }
            if args.wrk_output:
                log(w_out + "\n" + b_out)
            for s in servers:
                if not s.running:
                    raise BenchError(f"{s.name} died during the run:\n{s.log_tail()}")
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        finally:
            for s in reversed(servers):
                stop(s)
            if pg_url is not None:
                pg.drop(pg_url)
            if mongo_db is not None and secantus is None:
                mdb.drop(mongo_db)  # on the server of --mongo-url
            if secantus is not None:
                secantus.stop()

    runs = [w] + ([paced] if paced else [])
    verification = {
        "stored": stored["total"],
        "distinct_ids": stored["distinct_ids"],
        "ok_200": ok_total,
        "stored_matches": stored["total"] == stored["distinct_ids"] == ok_total,
        "all_answered": all(r.sent == r.messages == r.requests == args.messages for r in (w, b))
        and (paced is None or paced.sent == paced.messages == args.paced_messages),
        "non_2xx": sum(r.non_2xx for r in (*runs, b)),
        "statuses_at_last_answer": stored["at_last_answer"],
        "statuses_final": stored["final"],
        "all_read": stored["final"].get("read", 0) == stored["total"],
        "all_read_after_s": stored["all_read_after_s"],
        "webhooks": hooks,
        "all_webhooks": all(h["received"] == h["expected"] and h["duplicates"] == 0 for h in hooks),
    }
    # CPU of the wamux process (user + system, /proc) per answered send: while wrk ran, and
    # with the background receipts of those sends too
    cpu = {
        "wamux_ms_per_send_during_run": cpu_ms_per(
            None if cpu_sent is None or cpu_before is None else cpu_sent - cpu_before, w.messages
        ),
        "wamux_ms_per_send_with_receipts": cpu_ms_per(
            None if cpu_read is None or cpu_before is None else cpu_read - cpu_before, w.messages
        ),
    }
    report = {
        "config": {
            "provider": args.provider,
            "messages": args.messages,
            "connections": args.connections,
            "threads": args.threads,
            "recipient": RECIPIENT,
            "webhooks": args.webhooks,
        },
        "results": [{**asdict(r), "errors": r.errors} for r in (w, b)],
        "ratio": {
            "rps": round(w.rps / b.rps, 4) if b.rps else None,
            "p50": round(w.p50_ms / b.p50_ms, 2) if b.p50_ms else None,
            "p90": round(w.p90_ms / b.p90_ms, 2) if b.p90_ms else None,
            "p99": round(w.p99_ms / b.p99_ms, 2) if b.p99_ms else None,
        },
        "paced": None
        if paced is None
        else {
            "target_rps": w.rps / 2,
            "connections": pace[0],
            "pace_ms": pace[1],
            "rps": paced.rps,
            "p50_ms": paced.p50_ms,
            "p99_ms": paced.p99_ms,
            "errors": paced.errors,
        },
        "webhook_ceiling": None
        if direct_posts_per_s is None or not b.rps
        else {
            "client_posts_per_s": round(direct_posts_per_s),
            "webhooks_per_send": WEBHOOKS_PER_SEND,
            "sends_per_s": round(direct_posts_per_s / WEBHOOKS_PER_SEND),
            "ratio": round(direct_posts_per_s / WEBHOOKS_PER_SEND / b.rps, 4),
            "cpu_ms_per_webhook": {k: round(v, 3) for k, v in posting_cpu_ms.items()},
            # CPU the webhooks alone (client + receiver) would need at 0.40x the baseline
            "cores_for_webhooks_at_0_40x": round(
                0.40 * b.rps * WEBHOOKS_PER_SEND * sum(posting_cpu_ms.values()) / 1000, 2
            )
            if posting_cpu_ms
            else None,
            # One process (one core, the GIL) that only answered like the baseline and posted
            # each send's webhooks like aiohttp alone: the most it could reach.
            "one_process_ratio": round(
                1000 / (baseline_ms + WEBHOOKS_PER_SEND * posting_cpu_ms["client"]) / b.rps, 4
            )
            if posting_cpu_ms and baseline_ms
            else None,
            "baseline_cpu_ms_per_request": None if baseline_ms is None else round(baseline_ms, 3),
        },
        "verification": verification,
        "cpu": cpu,
        "rss": {"wamux_peak": wamux_peak, "baseline_peak": baseline_peak},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print()
        print_table([w, b], report)
    ok = (
        verification["stored_matches"]
        and verification["all_answered"]
        and verification["all_read"]
        and verification["all_webhooks"]
        and all(r.errors == 0 for r in (*runs, b))
    )
    if not ok:
        print("bench: FAILED verification (see above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
