"""The done-when test of the live switch: a switch with `migrate` while messages keep being
sent loses nothing and fails no request. Writes are not held during the bulk copy: the copy
is held after its first batch of messages (a hook) while a message is sent, an instance
renamed, a contact saved, a chat read and marked unread and a whole instance deleted — each
acknowledged while the copy waits — and every one of those ends right on the target. Each
leg is (from, to); a MongoDB leg is one more pair in LEGS (and its URL in `_urls`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.metrics.prometheus import Metrics
from adapters.security import FernetBox
from api.databases import ConfiguredBackends
from tests.conftest import Api, make_settings
from tests.services.mongo import fresh_url
from tests.services.pg_fixture import NewDatabase, pg_database  # noqa: F401
from tests.webhook_receiver import WebhookReceiver

AppFactory = Callable[..., Any]
LEGS = [
    ("sqlite", "postgresql"),
    ("postgresql", "sqlite"),
    ("sqlite", "mongodb"),
    ("mongodb", "postgresql"),
]
ALICE, BOB, CAROL = "15550001111", "15550002222", "15550003333"
OUTSIDE, QUIET = "79001234567", "79007654321"
# The fields that name a record, per kind (every other kind: "id").
KEYS = {
    "chat_summaries": ("instance_id", "remote_jid"),
    "usage_daily": ("instance_id", "day"),
    "limit_notices": ("instance_id", "day", "limit_name"),
}


async def _urls(tmp_path: Path, pg_database: NewDatabase) -> dict[str, Any]:  # noqa: F811
    return {
        "sqlite_database_url": f"file:{tmp_path / 'fresh.db'}",
        "postgres_database_url": await pg_database(),
        "database_url": await fresh_url(),
    }


async def _pair(api: Api, h: dict[str, str], phone: str, **body: Any) -> dict[str, Any]:
    inst = await api.new_instance(h, name=phone, **body)
    await api.wait_status(inst["id"], h, "qr")
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/scan", json={"phone": phone, "pushName": phone}, headers=h
    )
    assert r.status_code == 200, r.text
    await api.wait_status(inst["id"], h, "connected")
    return inst


async def _records(settings: Any, provider: str) -> dict[str, set[tuple[Any, ...]]]:
    """The names of every record the provider's database holds, per kind (read apart from
    the app: the app closed its old database after the switch)."""
    backend = ConfiguredBackends(settings, FernetBox(settings.jwt_secret), Metrics()).open(provider)
    found: dict[str, set[tuple[Any, ...]]] = {}
    try:
        async with backend.inventory.snapshot() as snap:
            for kind in backend.inventory.kinds():
                fields = KEYS.get(kind, ("id",))
                found[kind] = set()
                async for batch in snap.records(kind, 500):
                    found[kind].update(tuple(r[f] for f in fields) for r in batch)
    finally:
        await backend.storage.close()
    return found


@pytest.mark.parametrize(("source", "target"), LEGS)
async def test_switch_with_migrate_under_traffic_loses_nothing(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
    source: str,
    target: str,
) -> None:
    urls = await _urls(tmp_path, pg_database)
    overrides = {
        **urls,
        "database_provider": source,
        "webhook_poll_interval_ms": 50,
        "sandbox_receipt_delay_ms": 20,
    }
    api = await api_factory(**overrides)
    settings = make_settings(tmp_path, **overrides)
    h = await api.admin()
    user = await api.new_user("someone@example.com")
    # Slow answers: deliveries are in flight and queued when the switch comes.
    rx = await WebhookReceiver(delay_s=0.05).start()
    try:
        alice = await _pair(
            api, h, ALICE, webhookUrl=rx.url, webhookEnabled=True, retryInterval=100
        )
        bob = await _pair(api, user, BOB)
        r = await api.client.post(
            f"/api/instances/{bob['id']}/contacts/save",
            json={"number": ALICE, "name": "Alice"},
            headers=user,
        )
        assert r.status_code in (200, 201), r.text
        # Records the bulk copy takes that are deleted while it runs: a whole instance.
        carol = await _pair(api, user, CAROL)
        for n in range(3):
            r = await api.client.post(
                f"/api/sandbox/{carol['id']}/incoming",
                json={"from": OUTSIDE, "body": f"to carol {n}"},
                headers=user,
            )
            assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/sandbox/{bob['id']}/incoming", json={"from": QUIET, "body": "hi"}, headers=user
        )
        assert r.status_code == 200, r.text

        answers: list[tuple[int, str]] = []
        acknowledged: list[str] = []
        stop = asyncio.Event()

        async def traffic() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                r = await api.client.post(
                    f"/api/whatsapp/{alice['id']}/send",
                    json={"phone": BOB, "message": f"m{n}"},
                    headers=h,
                )
                answers.append((r.status_code, r.text))
                if r.status_code == 200:
                    acknowledged.append(r.json()["id"])
                r = await api.client.post(
                    f"/api/sandbox/{bob['id']}/incoming",
                    json={"from": OUTSIDE, "body": f"in{n}"},
                    headers=user,
                )
                answers.append((r.status_code, r.text))
                await asyncio.sleep(0.005)

        during_bulk: list[str] = []

        async def changes_while_copying() -> None:
            """Writes acknowledged while the bulk copy waits in its hook (with the gate
            closed they would wait for the copy, which waits for them: the timeout)."""
            held = await _records(settings, target)
            assert (carol["id"],) in held["instances"]  # copied already: its removal must follow
            r = await api.client.post(
                f"/api/whatsapp/{alice['id']}/send",
                json={"phone": BOB, "message": "during the bulk copy"},
                headers=h,
            )
            assert r.status_code == 200, r.text
            during_bulk.append(r.json()["id"])
            answers = [
                await api.client.put(
                    f"/api/instances/{alice['id']}", json={"name": "alice renamed"}, headers=h
                ),
                await api.client.post(
                    f"/api/instances/{bob['id']}/contacts/save",
                    json={"number": ALICE, "name": "Alice B."},
                    headers=user,
                ),
                await api.client.post(
                    f"/api/instances/{bob['id']}/chats/{QUIET}/read", headers=user
                ),
                await api.client.post(
                    f"/api/instances/{bob['id']}/chats/{QUIET}/unread", headers=user
                ),
                await api.client.delete(f"/api/instances/{carol['id']}", headers=user),
            ]
            assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]

        async def hook(kind: str) -> None:
            if kind == "messages" and not during_bulk:
                await asyncio.wait_for(asyncio.create_task(changes_while_copying()), 20)

        api.container.databases.after_bulk_batch = hook
        sender = asyncio.create_task(traffic())
        await _until(lambda: len(acknowledged) >= 15)
        r = await api.client.post(
            "/api/db/switch", json={"provider": target, "migrate": True}, headers=h
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True and body["provider"] == target
        assert body["message"] == f"Database provider switched to {target}"
        assert body["migrated"]["messages"] >= 30 and body["migrated"]["users"] == 2
        during = len(acknowledged)
        await _until(lambda: len(acknowledged) >= during + 15)
        stop.set()
        await sender

        assert [a for a in answers if a[0] != 200] == []
        status = (await api.client.get("/api/db/status", headers=h)).json()
        assert status["provider"] == target and status["healthy"] is True
        assert (await api.client.get("/readyz")).json()["storage"] == target
        # The webhook outbox carries on there: every delivery goes out (at least once).
        await _all_delivered(api, rx)
    finally:
        await rx.stop()
    on_source = await _records(settings, source)
    on_target = await _records(settings, target)
    for kind, names in on_source.items():
        assert names <= on_target[kind], f"{kind}: {len(names - on_target[kind])} missing"
    # Every message acknowledged, before, during and after the switch, is on the target.
    assert during_bulk and set(acknowledged + during_bulk) <= await _message_ids(settings, target)
    # The changes made during the bulk copy, as the target has them.
    rows = {kind: await _all(settings, target, kind) for kind in on_target}
    assert _one(rows["instances"], id=alice["id"])["name"] == "alice renamed"
    assert _one(rows["contacts"], instance_id=bob["id"], number=ALICE)["name"] == "Alice B."
    quiet = f"{QUIET}@s.whatsapp.net"
    assert _one(rows["chat_summaries"], instance_id=bob["id"], remote_jid=quiet)["marked_unread"]
    assert _one(rows["messages"], instance_id=bob["id"], remote_jid=quiet)["status"] == "read"
    left = {
        kind: [r for r in found if carol["id"] in (r.get("id"), r.get("instance_id"))]
        for kind, found in rows.items()
    }
    assert {kind: n for kind, n in left.items() if n} == {}
    assert on_target["messages"] and on_target["events"] and on_target["contacts"]
    assert on_target["webhook_deliveries"] and on_target["users"] and on_target["instances"]


async def _all(settings: Any, provider: str, kind: str) -> list[dict[str, Any]]:
    backend = ConfiguredBackends(settings, FernetBox(settings.jwt_secret), Metrics()).open(provider)
    try:
        return await _rows(backend.inventory, kind)
    finally:
        await backend.storage.close()


def _one(rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in fields.items())]
    assert len(found) == 1, (fields, found)
    return found[0]


async def _until(done: Callable[[], bool], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the traffic stalled"
        await asyncio.sleep(0.01)


async def _rows(inventory: Any, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with inventory.snapshot() as snap:
        async for batch in snap.records(kind, 500):
            rows.extend(batch)
    return rows


async def _message_ids(settings: Any, provider: str) -> set[str]:
    box = FernetBox(settings.jwt_secret)
    backend = ConfiguredBackends(settings, box, Metrics()).open(provider)
    try:
        return {str(m["message_id"]) for m in await _rows(backend.inventory, "messages")}
    finally:
        await backend.storage.close()


async def _all_delivered(api: Api, rx: WebhookReceiver) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        found = await _rows(api.container.inventory, "webhook_deliveries")
        waiting = [d for d in found if d["status"] != "succeeded"]
        if found and not waiting:
            break
        assert asyncio.get_running_loop().time() < deadline, waiting[:3]
        await asyncio.sleep(0.05)
    arrived = {x.id for x in rx.requests}
    assert {d["id"] for d in found} <= arrived
