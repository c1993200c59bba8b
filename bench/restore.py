"""Start-up restore: how long 1,000 paired sandbox instances take to come back, and the RSS.

    .venv/bin/python bench/restore.py [--instances 1000] [--json]

1. starts the real server once (sandbox engine, SQLite under a temporary directory in /tmp),
   logs in and reads the idle server's resident memory (the baseline of this run);
2. stops it and seeds N paired sandbox instances through the storage adapter (rows marked
   `connected`, each with its sandbox session file, as a paired device leaves them);
3. starts the server again and measures from /healthz answering until every instance has
   emitted its `connected` event of this start (read from the database file, so polling
   does not load the server), then the server's RSS (VmRSS, and the peak VmHWM);
4. checks through the API that every instance shows `connected`.

Targets (issue 12): all connected under 5 s after /healthz answers; RSS under 200 MB.
Exit status 1 if a check fails (an instance never connected, or the API disagrees).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from adapters.security import FernetBox  # noqa: E402
from adapters.storage.sql.uow import SqlStorage  # noqa: E402
from adapters.transport.sandbox.engine import SESSION_FILE  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain.entities import Engine, Instance, InstanceStatus, WebhookSettings  # noqa: E402
from tests.realserver import RealServer  # noqa: E402

JWT_SECRET = "bench-jwt-secret-" + "x" * 32  # the server's, so seeded rows open there

ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-123"
TARGET_CONNECTED_S = 5.0
TARGET_RSS_MB = 200.0
CONNECT_TIMEOUT_S = 120.0


class BenchError(Exception):
    pass


@dataclass
class RestoreResult:
    instances: int
    seed_s: float
    spawn_to_healthz_s: float
    healthz_to_all_connected_s: float
    idle_rss_mb: float  # the same server with no instance, this run
    rss_mb: float  # once every instance is connected
    peak_rss_mb: float
    restore_cpu_s: float  # the server's CPU time (user + system) from /healthz to all connected
    restore_concurrency: str


def server(tmp: Path, extra: dict[str, str]) -> RealServer:
    return RealServer(
        tmp / "data",
        tmp,
        "wamux",
        extra,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        jwt_secret=JWT_SECRET,
    )


def mb(value: int | None) -> float:
    return round((value or 0) / 2**20, 1)


def login(base_url: str) -> tuple[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        if answer.status_code != 200:
            raise BenchError(f"login -> {answer.status_code}: {answer.text[:300]}")
        user = answer.json()["user"]
        return user["id"], user["apiKey"]


async def seed(db_path: Path, instances_dir: Path, user_id: str, count: int) -> list[str]:
    """N instances as a paired sandbox device leaves them: `connected`, with a session file."""
    storage = SqlStorage(f"sqlite+aiosqlite:///{db_path}", FernetBox(JWT_SECRET))
    now = datetime.now(UTC)
    ids: list[str] = []
    try:
        async with storage.unit_of_work() as uow:
            for n in range(count):
                instance_id = str(uuid.uuid4())
                phone = f"1555{n:07d}"
                await uow.instances.add(
                    Instance(
                        id=instance_id,
                        user_id=user_id,
                        name=f"restore {n}",
                        description=None,
                        engine=Engine.SANDBOX,
                        status=InstanceStatus.CONNECTED,
                        webhook_url=None,
                        webhook_enabled=False,
                        webhook=WebhookSettings(),
                        created_at=now,
                        updated_at=now,
                        phone=phone,
                        push_name=f"Bench {n}",
                    )
                )
                session = instances_dir / instance_id / SESSION_FILE
                session.parent.mkdir(parents=True, exist_ok=True)
                session.write_text(
                    json.dumps({"phone": phone, "pushName": f"Bench {n}", "pairedAt": "x"})
                )
                ids.append(instance_id)
            await uow.commit()
    finally:
        await storage.close()
    return ids


def connected_since(db_path: Path, since_ms: int) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute(
            "SELECT COUNT(DISTINCT instance_id) FROM events "
            "WHERE type = 'connected' AND timestamp_ms >= ?",
            (since_ms,),
        ).fetchone()
    return int(row[0])


def wait_until_healthy(srv: RealServer, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=srv.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not srv.running:
                raise BenchError(f"server exited:\n{srv.log_tail()}")
            try:
                if client.get("/healthz").status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise BenchError(f"no /healthz within {timeout}s:\n{srv.log_tail()}")


def run(count: int, extra: dict[str, str]) -> RestoreResult:
    tmp = Path(tempfile.mkdtemp(prefix="wamux-restore-", dir="/tmp"))
    srv = server(tmp, extra)
    try:
        srv.spawn()
        wait_until_healthy(srv)
        user_id, api_key = login(srv.base_url)
        time.sleep(1.0)  # let start-up work settle before reading the idle RSS
        idle_rss = srv.proc_status("VmRSS")
        srv.stop()
        db_path = srv.data_dir / "whatsapp-api.db"
        started = time.monotonic()
        ids = asyncio.run(seed(db_path, srv.data_dir / "instances", user_id, count))
        seed_s = time.monotonic() - started

        since_ms = int(time.time() * 1000)
        spawned = time.monotonic()
        srv.spawn()
        healthy = wait_until_healthy(srv)
        cpu_at_healthy = srv.cpu_seconds() or 0.0
        done = 0
        while done < count:
            if time.monotonic() - healthy > CONNECT_TIMEOUT_S:
                raise BenchError(f"only {done}/{count} connected after {CONNECT_TIMEOUT_S}s")
            if not srv.running:
                raise BenchError(f"server exited:\n{srv.log_tail()}")
            done = connected_since(db_path, since_ms)
            if done < count:
                time.sleep(0.02)
        all_connected = time.monotonic()
        rss, peak = srv.proc_status("VmRSS"), srv.proc_status("VmHWM")
        restore_cpu = (srv.cpu_seconds() or 0.0) - cpu_at_healthy

        with httpx.Client(base_url=srv.base_url, timeout=60, headers={"x-api-key": api_key}) as c:
            listed = c.get("/api/instances")
            if listed.status_code != 200:
                raise BenchError(f"GET /api/instances -> {listed.status_code}")
            statuses = {i["id"]: i["status"] for i in _instances(listed.json())}
        wrong = [i for i in ids if statuses.get(i) != "connected"]
        if wrong:
            raise BenchError(f"{len(wrong)} instance(s) not connected per the API, e.g. {wrong[0]}")
        return RestoreResult(
            instances=count,
            seed_s=round(seed_s, 2),
            spawn_to_healthz_s=round(healthy - spawned, 2),
            healthz_to_all_connected_s=round(all_connected - healthy, 2),
            idle_rss_mb=mb(idle_rss),
            rss_mb=mb(rss),
            peak_rss_mb=mb(peak),
            restore_cpu_s=round(restore_cpu, 2),
            restore_concurrency=extra.get(
                "RESTORE_CONCURRENCY",
                f"{Settings.model_fields['restore_concurrency'].default} (default)",
            ),
        )
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _instances(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    for key in ("instances", "data", "items"):
        if isinstance(body.get(key), list):
            return list(body[key])
    raise BenchError(f"cannot read the instance list: {str(body)[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--concurrency", help="RESTORE_CONCURRENCY for the restarted server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    extra = {"LOG_LEVEL": "warning"}
    if args.concurrency:
        extra["RESTORE_CONCURRENCY"] = args.concurrency
    try:
        result = run(args.instances, extra)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(result)))
        return 0
    ok_time = result.healthz_to_all_connected_s < TARGET_CONNECTED_S
    ok_rss = result.rss_mb < TARGET_RSS_MB and result.peak_rss_mb < TARGET_RSS_MB
    print(f"instances                        {result.instances}")
    print(f"seeded in                        {result.seed_s:.2f} s")
    print(f"spawn -> /healthz                {result.spawn_to_healthz_s:.2f} s")
    print(
        f"/healthz -> all connected        {result.healthz_to_all_connected_s:.2f} s   "
        f"(target < {TARGET_CONNECTED_S:g} s: {'ok' if ok_time else 'MISSED'})"
    )
    print(f"server CPU time while restoring  {result.restore_cpu_s:.2f} s")
    print(f"RSS idle server (no instance)    {result.idle_rss_mb:.1f} MB   (baseline, this run)")
    print(
        f"RSS all connected / peak         {result.rss_mb:.1f} / {result.peak_rss_mb:.1f} MB   "
        f"(target < {TARGET_RSS_MB:g} MB: {'ok' if ok_rss else 'MISSED'})"
    )
    print(f"RESTORE_CONCURRENCY              {result.restore_concurrency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
