"""How long writes wait during a live switch with `migrate` (SQLite -> PostgreSQL).

Fills a SQLite database with N messages and N events (synthetic rows written through the
inventory), then switches to a fresh PostgreSQL database (the use case `POST /api/db/switch`
calls) while a task keeps writing over HTTP (an instance rename per request) and reports the
bulk copy's duration (writes flowing), how long writes were held at the gate (the catch-up
and the swap), and the slowest and median write.

    python -m bench.db_switch --records 20000
Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres); the database is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.app import create_app
from api.bootstrap import build
from tests.conftest import Api, make_settings
from tests.fakes.webhooks import StaticResolver

SERVER = "postgresql://postgres@127.0.0.1:5432"


def _rows(instance_id: str, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages, events = [], []
    for i in range(n):
        at = (start + timedelta(seconds=i)).isoformat()
        messages.append(
            {
                "id": str(uuid.uuid4()),
                "instance_id": instance_id,
                "remote_jid": f"7900{i % 500:07d}@s.whatsapp.net",
                "from_me": i % 2 == 0,
                "message_type": "text",
                "content": f"message {i}",
                "message_id": f"3EB0{i:016X}",
                "status": "read",
                "has_media": False,
                "metadata": {},
                "created_at": at,
                "updated_at": at,
            }
        )
        events.append(
            {
                "id": str(uuid.uuid4()),
                "instance_id": instance_id,
                "type": "message_received",
                "data": {"n": i},
                "timestamp_ms": 1_767_225_600_000 + i,
            }
        )
    return messages, events


async def run(records: int) -> None:
    name = f"wamux_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), postgres_database_url=f"{SERVER}/{name}")
            app = create_app(settings, build(settings, resolver=StaticResolver()))
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench"
                ) as client,
            ):
                await _measure(Api(client, app), records)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(api: Api, records: int) -> None:
    h = await api.admin()
    instance = await api.new_instance(h)
    messages, events = _rows(instance["id"], records)
    for i in range(0, records, 1000):
        await api.container.inventory.write("messages", messages[i : i + 1000])
        await api.container.inventory.write("events", events[i : i + 1000])
    latencies: list[float] = []
    stop = asyncio.Event()

    async def writes() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            began = time.perf_counter()
            r = await api.client.put(
                f"/api/instances/{instance['id']}", json={"name": f"n{n}"}, headers=h
            )
            assert r.status_code == 200, r.text
            latencies.append(time.perf_counter() - began)

    writer = asyncio.create_task(writes())
    await asyncio.sleep(0.5)
    began = time.perf_counter()
    result = await api.container.databases.run("postgresql", True)
    took = time.perf_counter() - began
    await asyncio.sleep(0.5)
    stop.set()
    await writer
    copied = sum((result.migrated or {}).values())
    print(
        f"{copied} records on the target after {took * 1000:.0f} ms; "
        f"bulk copy {result.bulk_ms:.0f} ms ({copied / result.bulk_ms * 1000:.0f}/s, writes "
        f"flowing), writes held {result.held_ms:.0f} ms; {len(latencies)} writes, slowest "
        f"{max(latencies) * 1000:.0f} ms, median "
        f"{sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    # The switch's own lines (bulk copy, each catch-up, writes held) beside the figures.
    switch_log = logging.getLogger("domain.database")
    switch_log.addHandler(logging.StreamHandler())
    switch_log.setLevel(logging.INFO)
    switch_log.propagate = False
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000, help="messages, and as many events")
    asyncio.run(run(parser.parse_args().records))
