"""Reads at scale: chat history, conversation list and instance stats over 1,000,000 messages.

    .venv/bin/python bench/reads.py [--messages 1000000] [--chats 1000] [--duration 10] [--json]
                                    [--provider sqlite|postgresql|mongodb]
                                    [--postgres-url URL] [--mongo-url URL] [--connections 4]

1. starts the real server (sandbox engine, SQLite in a temporary directory under /tmp),
   logs in, creates one instance, stops the server;
2. seeds --messages messages over --chats chats of that instance straight into the SQLite
   file with executemany (half sent, half received; the last 3 received of each chat
   unread; spread over 100 days), then builds what the server keeps beside them the way the
   server does: the chat summaries with the 0006 migration's own backfill statement, the
   per-day usage counters from the same rows, and a contact per chat;
3. starts the server again and times one cold call of each read, then drives each with
   `wrk -t1 -c4 --latency` (`--connections`) for --duration seconds: GET /healthz (the
   baseline: the same server's HTTP floor, this run), a chat-history page (limit=50, a
   random chat per request), the conversation list (limit=50) and the instance stats (period=all);
4. checks the answers (totals, counts, no non-2xx) and prints p50/p99 against the targets
   of issue 12: history p99 < 10 ms, conversation list p99 < 20 ms, stats p99 < 20 ms (on
   MongoDB issue 13's: each under 20 ms);
5. stops the server and times the same three reads on the repositories alone (in this
   process, one after another, each in a read-only unit of work): what the storage costs
   without HTTP, authentication and the per-call usage counting every request also does.

`--provider postgresql` runs all of it on PostgreSQL instead (bench/postgres.py): a fresh
database on the server of --postgres-url (default: the local one the tests use), seeded
with COPY and analysed, dropped at the end unless --keep. `--provider mongodb` runs it on
MongoDB (bench/mongo.py): a SecantusDB server of its own on a free port (or the server of
--mongo-url), a fresh database seeded with insert_many in unordered batches.

The seeded database is deleted afterwards, unless --keep names a directory to seed into and
keep (a later run with the same figures reuses it, which saves the seeding). Exit status: 1 if
a check fails, 2 without wrk.
Numbers depend on the machine: wrk, the server and everything else share its CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from adapters.security import FernetBox  # noqa: E402
from adapters.storage.mongo.uow import MongoStorage  # noqa: E402
from adapters.storage.sql.uow import SqlStorage  # noqa: E402
from tests.realserver import RealServer, ServerFailed  # noqa: E402

sys.path.insert(0, str(HERE))
import mongo as mdb  # noqa: E402
import postgres as pg  # noqa: E402

JWT_SECRET = "bench-jwt-secret-" + "x" * 32  # the server's, so seeded rows open there

LUA = HERE / "reads.lua"
MIGRATION = ROOT / "migrations" / "versions" / "0006_chat_summaries.py"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-123"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=100)
UNREAD_PER_CHAT = 3
TARGETS_MS = {"history": 10.0, "chats": 20.0, "stats": 20.0}
# Issue 13's on MongoDB: every read's p99 under 20 ms.
PROVIDER_TARGETS_MS = {"mongodb": {"history": 20.0, "chats": 20.0, "stats": 20.0}}
STORAGE_CALLS = 500
CONNECTIONS = 4  # wrk's connections (--connections): the requests in flight


class BenchError(Exception):
    pass


@dataclass
class Latency:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    target_p99_ms: float | None
    cpu_ms_per_request: float  # server CPU time (user + system) during the run / requests
    # the same of the database server, when the bench started it (SecantusDB), else None
    db_cpu_ms_per_request: float | None
    load: float  # the machine's 1-minute load average at the end of the run


def phone(chat: int) -> str:
    return f"7900{chat:07d}"


def sql_time(moment: datetime) -> str:
    """How the UTCDateTime column stores a moment in SQLite (naive UTC, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- server -------------------------------------------------------------------------------------


def make_server(tmp: Path, storage_env: dict[str, str]) -> RealServer:
    return RealServer(
        tmp / "data",
        tmp,
        "wamux",
        {"LOG_LEVEL": "warning", **storage_env},
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        jwt_secret=JWT_SECRET,
    )


def start(server: RealServer) -> None:
    server.spawn()
    try:
        server.wait_healthy(120)
    except ServerFailed as exc:
        raise BenchError(str(exc)) from None


def expect(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in codes:
        raise BenchError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json()


def create_instance(server: RealServer) -> tuple[str, str]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        login = expect(
            client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            200,
        )
        key = login["user"]["apiKey"]
        client.headers["x-api-key"] = key
        created = expect(
            client.post("/api/instances", json={"name": "reads", "engine": "sandbox"}), 201
        )
    return key, created["id"]


# --- seeding ------------------------------------------------------------------------------------


def backfill_sql() -> str:
    spec = importlib.util.spec_from_file_location("migration_0006", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.BACKFILL)


def message_rows(instance_id: str, total: int, chats: int) -> Any:
    """The seeded messages, oldest first, as SQLite stores them (text moments, 0/1 flags)."""
    per_chat = total // chats
    step = SPAN / total
    for k in range(per_chat):
        from_me = k % 2 == 0
        unread = not from_me and k >= per_chat - 2 * UNREAD_PER_CHAT
        for chat in range(chats):
            g = k * chats + chat
            at = sql_time(T0 + step * g)
            yield (
                f"{g:08x}-0000-4000-8000-{chat:012x}",
                instance_id,
                f"{phone(chat)}@s.whatsapp.net",
                int(from_me),
                "text",
                f"bench message {g} 你好",
                f"BENCH{g:010d}",
                "read" if not unread else "received",
                0,
                "{}",
                at,
                at,
                at,
            )


def contact_rows(instance_id: str, chats: int) -> Any:
    now = sql_time(T0)
    for chat in range(chats):
        jid = f"{phone(chat)}@s.whatsapp.net"
        yield (f"c-{chat}", instance_id, phone(chat), jid, f"Contact {chat}", now, now)


def seed(db_path: Path, instance_id: str, total: int, chats: int) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO messages (id, instance_id, remote_jid, from_me, message_type, content,"
            " message_id, status, has_media, metadata, created_at, updated_at, status_updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            message_rows(instance_id, total, chats),
        )
        db.execute(backfill_sql())
        # The per-day counters the server keeps for the same messages.
        db.execute(
            "INSERT INTO usage_daily (instance_id, day, messages_sent, messages_received,"
            " media_sent, media_received, media_bytes, api_calls, webhook_sent)"
            " SELECT instance_id, substr(created_at, 1, 10), SUM(from_me), SUM(1 - from_me),"
            " 0, 0, 0, 0, 0 FROM messages WHERE instance_id = ? GROUP BY 1, 2",
            (instance_id,),
        )
        db.executemany(
            "INSERT INTO contacts (id, instance_id, number, remote_jid, name, is_group,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            contact_rows(instance_id, chats),
        )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


# --- measuring ----------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk time {text!r}")
    return round(float(match.group(1)) * _UNITS[match.group(2)], 3)


def wrk(
    server: RealServer,
    name: str,
    path: str,
    key: str,
    seconds: int,
    chats: int,
    targets: dict[str, float] = TARGETS_MS,
    database: Callable[[], float | None] | None = None,
) -> Latency:
    """`database`: the CPU seconds the database server has used so far (SecantusDB's)."""
    env = {**os.environ, "BENCH_KEY": key, "BENCH_PATH": path, "BENCH_CHATS": str(chats)}
    cpu_before = server.cpu_seconds() or 0.0
    db_before = database() if database else None
    out = subprocess.run(
        [
            *("wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"),
            *("-s", str(LUA), server.base_url),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu_s = (server.cpu_seconds() or 0.0) - cpu_before
    db_after = database() if database else None
    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    maximum = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not (dist.keys() == {"50", "99"} and total and rps and maximum):
        raise BenchError(f"cannot read wrk's output:\n{out}")
    return Latency(
        name=name,
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p50_ms=ms(dist["50"]),
        p99_ms=ms(dist["99"]),
        max_ms=ms(maximum.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        target_p99_ms=targets.get(name),
        cpu_ms_per_request=round(cpu_s * 1000 / max(1, int(total.group(1))), 3),
        db_cpu_ms_per_request=(
            None
            if db_before is None or db_after is None
            else round((db_after - db_before) * 1000 / max(1, int(total.group(1))), 3)
        ),
        load=round(os.getloadavg()[0], 1),
    )


def cold_calls(client: httpx.Client, paths: dict[str, str]) -> dict[str, float]:
    timings: dict[str, float] = {}
    for name, path in paths.items():
        started = time.perf_counter()
        expect(client.get(path), 200)
        timings[name] = round((time.perf_counter() - started) * 1e3, 1)
    return timings


def check_answers(client: httpx.Client, paths: dict[str, str], total: int, chats: int) -> None:
    per_chat = total // chats
    listed = expect(client.get(paths["chats"]), 200)
    first = listed["chats"][0]
    if listed["pagination"]["total"] != chats or len(listed["chats"]) != 50:
        raise BenchError(f"chat list: {listed['pagination']}")
    newest = f"{phone(chats - 1)}@s.whatsapp.net"  # the last message seeded is in the last chat
    if (first["remoteJid"], first["messageCount"], first["unreadCount"], first["name"]) != (
        newest,
        per_chat,
        UNREAD_PER_CHAT,
        f"Contact {chats - 1}",
    ):
        raise BenchError(f"chat list's first chat: {str(first)[:300]}")
    history = expect(client.get(paths["history"] % phone(7)), 200)
    stamps = [m["createdAt"] for m in history["messages"]]
    if history["pagination"]["total"] != per_chat or stamps != sorted(stamps, reverse=True):
        raise BenchError(f"history: {history['pagination']}, newest first: {stamps[:3]}")
    stats = expect(client.get(paths["stats"]), 200)["usage"]
    received = total // 2
    if (stats["messagesReceived"], stats["messagesSent"]) != (received, total - received):
        raise BenchError(f"stats: {str(stats)[:300]}")


async def repository_reads(url: str, instance_id: str, chats: int) -> dict[str, Any]:
    """p50/p99 of each read on the repositories alone, one unit of work per call."""
    box = FernetBox(JWT_SECRET)
    storage: Any = MongoStorage(url, box) if url.startswith("mongodb") else SqlStorage(url, box)
    rng = random.Random(1)

    async def history(uow: Any) -> None:
        jid = f"{phone(rng.randrange(chats))}@s.whatsapp.net"
        await uow.messages.list_chat(instance_id, jid, start=None, end=None, limit=50, skip=0)

    async def chat_list(uow: Any) -> None:
        await uow.messages.chats(instance_id, limit=50, skip=0)

    async def stats(uow: Any) -> None:
        await uow.usage.daily(instance_id, None)

    found: dict[str, Any] = {}
    try:
        for name, read in (("history", history), ("chats", chat_list), ("stats", stats)):
            times: list[float] = []
            for _ in range(STORAGE_CALLS):
                started = time.perf_counter()
                # Read-only, as the use cases behind these routes open them.
                async with storage.unit_of_work(read_only=True) as uow:
                    await read(uow)
                times.append((time.perf_counter() - started) * 1e3)
            times.sort()
            found[name] = {
                "p50_ms": round(times[len(times) // 2], 2),
                "p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
            }
    finally:
        await storage.close()
    return found


def seeded(
    server: RealServer,
    total: int,
    chats: int,
    pg_url: str | None,
    mongo: tuple[str, str] | None = None,
) -> tuple[str, str, float | None]:
    """(API key, instance id, seconds it took to seed, None when reused): a directory kept
    by an earlier run with the same figures is used as it is. `mongo`: (the database's URL,
    its name) on MongoDB."""
    marker = server.data_dir.parent / "seeded.json"
    wanted: dict[str, Any] = {"messages": total, "chats": chats, "postgres": pg_url}
    if mongo is not None:
        wanted["mongo"] = mongo[1]  # the name: a kept SecantusDB restarts on another port
    if marker.exists():
        kept = json.loads(marker.read_text())
        if {k: kept.get(k) for k in wanted} == wanted:
            return kept["key"], kept["instance_id"], None
        raise BenchError(f"{marker} was seeded with {kept}, not {wanted}")
    start(server)
    key, instance_id = create_instance(server)
    server.stop()
    started = time.monotonic()
    if mongo is not None:
        mdb.seed(
            mongo[0], message_rows(instance_id, total, chats), contact_rows(instance_id, chats)
        )
    elif pg_url is None:
        seed(server.data_dir / "whatsapp-api.db", instance_id, total, chats)
    else:
        pg.seed(
            pg_url,
            instance_id,
            message_rows(instance_id, total, chats),
            contact_rows(instance_id, chats),
            backfill_sql(),
        )
    marker.write_text(json.dumps({**wanted, "key": key, "instance_id": instance_id}))
    return key, instance_id, round(time.monotonic() - started, 1)


def postgres_database(tmp: Path, keep: bool, admin_url: str) -> str:
    """The run's PostgreSQL database: the one a kept directory names, else a fresh one."""
    marker = tmp / "seeded.json"
    if keep and marker.exists() and json.loads(marker.read_text()).get("postgres"):
        return str(json.loads(marker.read_text())["postgres"])
    return pg.create(admin_url)


def mongo_database(tmp: Path, keep: bool) -> str:
    """The run's MongoDB database name: the one a kept directory names, else a fresh one."""
    marker = tmp / "seeded.json"
    if keep and marker.exists() and json.loads(marker.read_text()).get("mongo"):
        return str(json.loads(marker.read_text())["mongo"])
    return mdb.fresh_name()


def run(
    total: int,
    chats: int,
    seconds: int,
    keep: Path | None,
    provider: str,
    admin_url: str,
    mongo_url: str | None = None,
) -> dict[str, Any]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    tmp = keep or Path(tempfile.mkdtemp(prefix="wamux-reads-", dir="/tmp"))
    pg_url = (
        postgres_database(tmp, keep is not None, admin_url) if provider == "postgresql" else None
    )
    secantus: mdb.SecantusServer | None = None
    mongo: tuple[str, str] | None = None
    env = pg.server_env(pg_url) if pg_url else {}
    if provider == "mongodb":
        if mongo_url is None:
            secantus = mdb.SecantusServer(tmp / "secantus")
            secantus.start()
        name = mongo_database(tmp, keep is not None)
        base = mongo_url or (secantus.base_url if secantus else "")
        mongo = (mdb.database_url(base, name), name)
        env = mdb.server_env(mongo[0])
    server = make_server(tmp, env)
    db_path = server.data_dir / "whatsapp-api.db"
    try:
        key, instance_id, seed_s = seeded(server, total, chats, pg_url, mongo)
        if mongo is not None:
            db_mb = mdb.size_mb(mongo[0])
        else:
            db_mb = pg.size_mb(pg_url) if pg_url else round(db_path.stat().st_size / 2**20)
        start(server)
        base = f"/api/instances/{instance_id}"
        paths = {
            "history": base + "/chats/%s/messages?limit=50",
            "chats": base + "/chats?limit=50",
            "stats": f"/api/stats/instances/{instance_id}?period=all",
        }
        with httpx.Client(base_url=server.base_url, timeout=120, headers={"x-api-key": key}) as c:
            cold = cold_calls(c, {**paths, "history": paths["history"] % phone(3)})
            check_answers(c, paths, total, chats)
        targets = PROVIDER_TARGETS_MS.get(provider, TARGETS_MS)
        db_cpu = secantus.cpu_seconds if secantus is not None else None
        results = [wrk(server, "healthz (baseline)", "/healthz", key, seconds, 0)]
        for name, chats_of in (("history", chats), ("chats", 0), ("stats", 0)):
            results.append(wrk(server, name, paths[name], key, seconds, chats_of, targets, db_cpu))
        bad = [r.name for r in results if r.non_2xx or not r.requests]
        if bad:
            raise BenchError(f"non-2xx answers or no requests: {bad}")
        server.stop()
        url = pg.sqlalchemy_url(pg_url) if pg_url else f"sqlite+aiosqlite:///{db_path}"
        if mongo is not None:
            url = mongo[0]
        storage = asyncio.run(repository_reads(url, instance_id, chats))
        return {
            "provider": provider,
            "messages": total,
            "chats": chats,
            "seed_s": seed_s,
            "db_mb": db_mb,
            "cold_ms": cold,
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "wrk": [asdict(r) for r in results],
            "repository": storage,
        }
    finally:
        server.stop()
        if keep is None and mongo is not None and secantus is None:
            mdb.drop(mongo[0])  # on the server of --mongo-url
        if secantus is not None:
            secantus.stop()
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
            if pg_url is not None:
                pg.drop(pg_url)


def main() -> int:
    global CONNECTIONS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument(
        "--keep",
        type=Path,
        help="seed into this directory and keep it; a later run with the same figures reuses it",
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
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help="wrk's connections, the requests in flight (issue 12's figures: 4)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    CONNECTIONS = args.connections
    if shutil.which("wrk") is None:
        print("bench/reads.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    try:
        result = run(
            args.messages,
            args.chats,
            args.duration,
            args.keep,
            args.provider,
            args.postgres_url,
            args.mongo_url,
        )
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
        return 0
    took = "reused" if result["seed_s"] is None else f"in {result['seed_s']} s"
    print(
        f"{result['provider']}: seeded {result['messages']:,} messages over "
        f"{result['chats']:,} chats {took} "
        f"({result['db_mb']} MB); load average {result['load']}"
    )
    print(
        "first call after start: " + ", ".join(f"{k} {v} ms" for k, v in result["cold_ms"].items())
    )
    print(
        f"{f'wrk -t1 -c{CONNECTIONS}':<20} {'requests':>9} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'CPU ms/req':>10} {'DB CPU':>7} {'load':>5}  target"
    )
    for r in result["wrk"]:
        target = r["target_p99_ms"]
        db = r["db_cpu_ms_per_request"]
        db_cpu = "" if db is None else f"{db:.2f}"
        verdict = (
            ""
            if target is None
            else (f"p99 < {target:g} ms: {'ok' if r['p99_ms'] < target else 'MISSED'}")
        )
        print(
            f"{r['name']:<20} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['max_ms']:>8.2f} {r['cpu_ms_per_request']:>10.2f} "
            f"{db_cpu:>7} {r['load']:>5.1f}  {verdict}"
        )
    print(f"repositories alone ({STORAGE_CALLS} calls each, one after another, no HTTP):")
    for name, figures in result["repository"].items():
        print(f"  {name:<18} p50 {figures['p50_ms']:>7.2f} ms   p99 {figures['p99_ms']:>7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
