"""Tenant isolation over every REST route and every GraphQL query and mutation, generated
from the route table and the schema (tests/isolation.py): tenant B aiming at tenant A's
objects gets 404 or 403, no credential gets 401, and nothing of A's changes. Subscriptions
are swept the same way over a real websocket in tests/e2e/test_isolation_subscriptions.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from api.app import create_app
from api.settings import Settings
from tests.conftest import Api, AppFactory
from tests.isolation import (
    OUTSIDE,
    GqlAttempt,
    RestAttempt,
    Tenant,
    graphql_attempts,
    rest_attempts,
)
from tests.webhook_receiver import WebhookReceiver

DUMMY = Tenant(user="u", instance="i", media="m", message="msg", delivery="d")


def test_every_route_and_field_has_a_sample() -> None:
    """Fails with the list of what to add to tests/isolation.py when a new route or field
    takes a parameter, body or argument the generator has no sample for."""
    app = create_app(Settings(_env_file=None))
    rest, rest_missing = rest_attempts(app, DUMMY)
    gql, gql_missing = graphql_attempts(DUMMY)
    missing = rest_missing + gql_missing
    assert not missing, "add samples to tests/isolation.py for:\n" + "\n".join(missing)
    # The sweep covers what it should (guards against a generator that finds nothing).
    assert sum(a.scoped for a in rest) >= 40 and sum(a.scoped for a in gql) >= 30
    assert any(a.operation == "subscription" for a in gql)


def _state(data_dir: Path) -> tuple[str, list[str]]:
    """Everything stored: the whole database and the media files."""
    conn = sqlite3.connect(data_dir / "whatsapp-api.db")
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    files = sorted(str(p.relative_to(data_dir)) for p in (data_dir / "uploads").rglob("*"))
    return dump, files


async def _settled(api: Api, h: dict[str, str], iid: str) -> None:
    """Waits until A's message is read and every webhook delivery is done, so that nothing
    changes in the background while B tries its luck."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        messages = (
            await api.client.get(f"/api/instances/{iid}/chats/{OUTSIDE}/messages", headers=h)
        ).json()["messages"]
        deliveries = (
            await api.client.get(f"/api/instances/{iid}/webhooks/deliveries", headers=h)
        ).json()["deliveries"]
        if (
            messages
            and all(m["status"] == "read" for m in messages)
            and deliveries
            and all(d["status"] == "succeeded" for d in deliveries)
        ):
            return
        assert loop.time() < deadline, (
            [m["status"] for m in messages],
            [(d["event"], d["status"], d["lastError"]) for d in deliveries],
        )
        await asyncio.sleep(0.05)


async def _tenant_a(api: Api, receiver: WebhookReceiver) -> tuple[Tenant, dict[str, str]]:
    alice = await api.new_user("alice@example.com")
    inst = await api.paired_instance(
        alice, name="alice's", webhookUrl=receiver.url, webhookEnabled=True
    )
    iid = inst["id"]
    r = await api.client.post(
        f"/api/whatsapp/{iid}/send-file",
        data={"phone": OUTSIDE},
        files={"file": ("a.png", b"\x89PNG alice", "image/png")},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    await _settled(api, alice, iid)
    message = (
        await api.client.get(f"/api/instances/{iid}/chats/{OUTSIDE}/messages", headers=alice)
    ).json()["messages"][0]
    delivery = (
        await api.client.get(f"/api/instances/{iid}/webhooks/deliveries", headers=alice)
    ).json()["deliveries"][0]
    me = (await api.client.get("/api/auth/me", headers=alice)).json()
    tenant = Tenant(
        user=me["id"],
        instance=iid,
        media=message["mediaUrl"].rsplit("/", 1)[-1],
        message=message["messageId"],
        delivery=delivery["id"],
    )
    return tenant, alice


async def _rest(api: Api, attempt: RestAttempt, headers: dict[str, str]) -> Any:
    return await api.client.request(attempt.method, attempt.path, headers=headers, **attempt.kwargs)


async def _gql(api: Api, attempt: GqlAttempt, headers: dict[str, str]) -> dict[str, Any]:
    body = {"query": attempt.document, "variables": attempt.variables}
    if attempt.uploads:
        files = {str(i): ("a.txt", b"abc", "text/plain") for i in range(len(attempt.uploads))}
        mapping = {str(i): [f"variables.{v}"] for i, v in enumerate(attempt.uploads)}
        r = await api.client.post(
            "/graphql",
            data={"operations": json.dumps(body), "map": json.dumps(mapping)},
            files=files,
            headers=headers,
        )
    else:
        r = await api.client.post("/graphql", json=body, headers=headers)
    assert r.status_code == 200, (str(attempt), r.status_code, r.text)
    return dict(r.json())


def _status(answer: dict[str, Any]) -> int | None:
    errors = answer.get("errors") or []
    return errors[0].get("extensions", {}).get("status") if errors else None


async def test_second_tenant_and_strangers_reach_nothing_of_the_first(
    api_factory: AppFactory, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(port=0)
    await receiver.start()
    try:
        api = await api_factory(
            sandbox_receipt_delay_ms=10,
            webhook_poll_interval_ms=50,
            webhook_private_urls="allow",  # a user's webhook on 127.0.0.1 (the receiver)
        )
        a, alice = await _tenant_a(api, receiver)
        bob = await api.new_user("bob@example.com")
        own = {a.user, a.instance, a.media, a.message, a.delivery}
        rest, rest_missing = rest_attempts(api.app, a)
        gql, gql_missing = graphql_attempts(a)
        assert not rest_missing + gql_missing, rest_missing + gql_missing
        before = _state(tmp_path)

        wrong: list[str] = []
        for attempt in rest:
            r = await _rest(api, attempt, {})
            if r.status_code != 401:
                wrong.append(f"{attempt} without credentials: {r.status_code} {r.text[:120]}")
            if attempt.scoped:
                r = await _rest(api, attempt, bob)
                if r.status_code not in (403, 404) or set(r.json()) - {"error", "message"}:
                    wrong.append(f"{attempt} as B: {r.status_code} {r.text[:120]}")
            elif attempt.method == "GET":
                r = await _rest(api, attempt, bob)
                if r.status_code < 300 and any(x in r.text for x in own):
                    wrong.append(f"{attempt} as B shows A's objects: {r.text[:200]}")
        for attempt in (g for g in gql if g.operation != "subscription"):
            answer = await _gql(api, attempt, {})
            if _status(answer) != 401:
                wrong.append(f"{attempt} without credentials: {answer}")
            if attempt.scoped:
                answer = await _gql(api, attempt, bob)
                data = answer.get("data") or {}
                if _status(answer) not in (403, 404) or data.get(attempt.field) is not None:
                    wrong.append(f"{attempt} as B: {answer}")
            elif attempt.operation == "query":
                answer = await _gql(api, attempt, bob)
                if any(x in json.dumps(answer) for x in own):
                    wrong.append(f"{attempt} as B shows A's objects: {answer}")
        assert not wrong, "\n".join(wrong)
        assert _state(tmp_path) == before, "B's attempts changed something of A's"

        # A still has everything, unchanged, through the same API.
        mine = (await api.client.get(f"/api/instances/{a.instance}", headers=alice)).json()
        assert mine["name"] == "alice's" and mine["status"] == "connected"
        media = await api.client.get(f"/api/media/{a.media}", headers=alice)
        assert media.content == b"\x89PNG alice"
    finally:
        await receiver.stop()
