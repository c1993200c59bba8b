"""Webhooks against a real HTTP receiver on 127.0.0.1: bytes, signatures, flags, retries, order.

The app runs in-process (its dispatcher posts over real sockets to the receiver, which runs
on the same event loop); events come from the sandbox engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.webhooks.http import HttpWebhookTransport
from domain.webhook_targets import WebhookTarget
from domain.webhooks import Outcome
from tests.conftest import Api
from tests.webhook_checks import (
    ISO_MS,
    WEBHOOK_EVENTS,
    check_body,
    hmac_hex,
    node_verify,
)
from tests.webhook_receiver import Received, Reply, WebhookReceiver, free_port

OUTSIDE = "79001234567"
OUTSIDE_JID = f"{OUTSIDE}@s.whatsapp.net"
TEXT = '你好！😀 "quoted" \\ back'
SECRET = "wh-secret-ключ-密钥"

ReceiverFactory = Callable[..., Any]


@pytest.fixture
async def receivers() -> AsyncIterator[ReceiverFactory]:
    """Makes receivers (listening unless start=False); stops them all at the end."""
    made: list[WebhookReceiver] = []

    async def make(port: int = 0, start: bool = True, **options: Any) -> WebhookReceiver:
        rx = WebhookReceiver(port=port, **options)
        made.append(rx)
        if start:
            await rx.start()
        return rx

    yield make
    for rx in made:
        await rx.stop()


async def start_app(api_factory: Callable[..., Any], **overrides: Any) -> Api:
    settings: dict[str, Any] = {"webhook_poll_interval_ms": 50, "sandbox_receipt_delay_ms": 20}
    settings.update(overrides)
    return await api_factory(**settings)


def hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"webhookUrl": url, "webhookEnabled": True, "retryInterval": 100, **extra}


# --- API helpers ---------------------------------------------------------------------------


async def incoming(api: Api, h: dict[str, str], iid: str, body: str, push: str = "张三") -> str:
    r = await api.client.post(
        f"/api/sandbox/{iid}/incoming",
        json={"from": OUTSIDE, "body": body, "pushName": push},
        headers=h,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["messageId"])


async def send(api: Api, h: dict[str, str], iid: str, text: str) -> str:
    r = await api.client.post(
        f"/api/whatsapp/{iid}/send", json={"phone": OUTSIDE, "message": text}, headers=h
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def deliveries(api: Api, h: dict[str, str], iid: str, **params: Any) -> dict[str, Any]:
    r = await api.client.get(f"/api/instances/{iid}/webhooks/deliveries", params=params, headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def all_deliveries(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    """Every delivery of the instance, oldest first (the API lists newest first)."""
    page = await deliveries(api, h, iid, limit=1000)
    assert not page["pagination"]["hasMore"]
    return list(reversed(page["deliveries"]))


async def events(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/events?limit=1000", headers=h)
    assert r.status_code == 200, r.text
    assert not r.json()["hasMore"]
    return list(r.json()["events"])


async def settle(
    api: Api, h: dict[str, str], iid: str, within: float = 5.0
) -> list[dict[str, Any]]:
    """Waits until no delivery of the instance is pending; returns them all, oldest first."""
    deadline = time.monotonic() + within
    while True:
        found = await all_deliveries(api, h, iid)
        if all(d["status"] != "pending" for d in found):
            return found
        assert time.monotonic() < deadline, f"deliveries still pending: {found}"
        await asyncio.sleep(0.03)


async def wait_events(
    api: Api, h: dict[str, str], iid: str, check: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5.0
    while True:
        found = await events(api, h, iid)
        if check(found):
            return found
        assert time.monotonic() < deadline, f"events never matched: {found}"
        await asyncio.sleep(0.02)


def has_status(status: str) -> Callable[[list[dict[str, Any]]], bool]:
    def check(found: list[dict[str, Any]]) -> bool:
        return any(
            e["type"] == "message_status" and e["data"].get("status") == status for e in found
        )

    return check


async def wait_delivery(
    api: Api,
    h: dict[str, str],
    iid: str,
    delivery_id: str,
    check: Callable[[dict[str, Any]], bool],
    within: float = 5.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        found = {d["id"]: d for d in await all_deliveries(api, h, iid)}
        if delivery_id in found and check(found[delivery_id]):
            return found[delivery_id]
        assert time.monotonic() < deadline, f"delivery never matched: {found.get(delivery_id)}"
        await asyncio.sleep(0.02)


async def flush(
    api: Api, h: dict[str, str], iid: str, rx: WebhookReceiver, *, keep: bool = False
) -> None:
    """Stands in for "wait a little and see that nothing else comes". Changes a setting, which
    queues one `webhook_updated` delivery behind every earlier delivery of the instance, and
    waits for it: one instance's deliveries go out in order, so nothing queued before it can
    still arrive. Unless `keep`, that marker is then taken out of rx.requests, so the test's
    assertions see only its own traffic."""
    r = await api.client.get(f"/api/instances/{iid}", headers=h)
    assert r.status_code == 200, r.text
    interval = r.json()["webhookSettings"]["retryInterval"] + 1
    seen = len(rx.requests)
    r = await api.client.put(
        f"/api/instances/{iid}", json={"webhookSettings": {"retryInterval": interval}}, headers=h
    )
    assert r.status_code == 200, r.text

    def marker_in(requests: list[Received]) -> bool:
        return any(x.event == "webhook_updated" for x in requests[seen:])

    await rx.wait_for(marker_in, within=10.0)
    if not keep:
        rx.requests.remove(next(x for x in rx.requests[seen:] if x.event == "webhook_updated"))


def summary(requests: list[Received]) -> list[tuple[str | None, dict[str, Any]]]:
    return [(r.event, r.json()["data"]) for r in requests]


def eligible(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in found if e["type"] in WEBHOOK_EVENTS]


# --- bytes, headers, signatures ------------------------------------------------------------


async def test_body_is_exact_js_json_signed_and_node_verifies_it(
    api_factory: Callable[..., Any], receivers: ReceiverFactory, tmp_path: Path
) -> None:
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    inst = await api.paired_instance(
        h,
        **hook(
            rx.url,
            webhookSecret=SECRET,
            headers={"X-Custom-Trace": "trace-123", "Authorization": "Bearer receiver-token"},
            notifyReceived=True,
            notifySent=True,
            notifyDelivery=True,
            notifyRead=True,
        ),
    )
    iid = inst["id"]
    received_id = await incoming(api, h, iid, TEXT, push="张三 😀")
    sent_id = await send(api, h, iid, TEXT + " ⟨sent⟩")
    await wait_events(api, h, iid, has_status("read"))
    r = await api.client.put(
        f"/api/instances/{iid}", json={"webhookSettings": {"notifyRead": False}}, headers=h
    )
    assert r.status_code == 200, r.text
    listed = await settle(api, h, iid)
    got = await rx.wait_count(len(listed))
    produced = eligible(await events(api, h, iid))

    # One request per event, in order, each the exact compact JS text of the event.
    assert len(got) == len(listed) == len(produced) == 7, summary(got)
    assert [r.event for r in got] == [
        "qr_received",
        "connected",
        "message_received",
        "message_sent",
        "message_status",
        "message_status",
        "webhook_updated",
    ]
    for request, event, delivery in zip(got, produced, listed, strict=True):
        body = check_body(request)
        assert body == {
            "event": event["type"],
            "data": event["data"],
            "timestamp": event["timestamp"],
        }
        assert delivery["payload"] == body and delivery["id"] == request.id
        assert delivery["eventId"] == event["id"] and delivery["status"] == "succeeded"
        # Signature: hex HMAC-SHA256 of exactly the bytes received.
        assert request.headers["X-Webhook-Signature"] == hmac_hex(SECRET, request.body)
        assert request.headers.get_all("X-Webhook-Signature") == [
            request.headers["X-Webhook-Signature"]
        ]
        # The instance's custom headers ride along, once each.
        assert request.headers.get_all("X-Custom-Trace") == ["trace-123"]
        assert request.headers.get_all("Authorization") == ["Bearer receiver-token"]
        assert request.headers.get_all("X-Webhook-Attempt") == ["1"]
    ids = [r.id for r in got]
    assert all(ids) and len(set(ids)) == len(ids), ids

    # Chinese text and emoji travel as raw UTF-8, quotes and backslashes escaped as JS does.
    received = got[2].json()
    assert received["data"]["body"] == TEXT and received["data"]["messageId"] == received_id
    assert received["data"]["from"] == OUTSIDE_JID and received["data"]["pushName"] == "张三 😀"
    assert received["data"]["type"] == "conversation" and received["data"]["hasMedia"] is False
    assert isinstance(received["data"]["timestamp"], int)
    assert '"body":"你好！😀 \\"quoted\\" \\\\ back"'.encode() in got[2].body
    assert '"pushName":"张三 😀"'.encode() in got[2].body
    sent = got[3].json()
    assert sent["data"]["to"] == OUTSIDE_JID and sent["data"]["messageId"] == sent_id
    assert sent["data"]["body"] == TEXT + " ⟨sent⟩" and sent["data"]["type"] == "text"
    assert [g.json()["data"]["status"] for g in got[4:6]] == ["delivered", "read"]
    assert got[6].json()["data"] == {
        "instanceId": iid,
        "timestamp": got[6].json()["data"]["timestamp"],
    }
    assert ISO_MS.match(got[6].json()["data"]["timestamp"])
    for request in got:
        assert b"\\u" not in request.body, request.body  # nothing escaped as \uXXXX

    # Node.js, running the spec's Express verifier, accepts every body both ways.
    verdicts = node_verify(tmp_path, [(request, SECRET) for request in got])
    for verdict, request in zip(verdicts, got, strict=True):
        assert verdict == {
            "id": request.id,
            "raw": True,
            "reparsed": True,
            "explicitRaw": True,
            "explicitReparsed": True,
            "stringifyIsIdentity": True,
            "byteLength": len(request.body),
        }, (verdict, request.text)

    # A wrong secret does not verify: the check above could fail.
    wrong = node_verify(tmp_path, [(got[2], SECRET + "x")])
    assert wrong[0]["raw"] is False and wrong[0]["reparsed"] is False


async def test_unusual_text_still_matches_json_stringify(
    api_factory: Callable[..., Any], receivers: ReceiverFactory, tmp_path: Path
) -> None:
    """Control characters, U+2028, astral emoji, slashes, HTML: byte-identical to Node."""
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    inst = await api.paired_instance(h, **hook(rx.url, webhookSecret="s"))
    tricky = "tab\there\nline\r\x01\x1f\x7f / </script> \u2028\u2029 é 𝄞 👨‍👩‍👧 \ufeff'"
    await incoming(api, h, inst["id"], tricky, push="Zoë")
    await settle(api, h, inst["id"])
    (request,) = rx.of_event("message_received")
    assert check_body(request)["data"]["body"] == tricky
    (verdict,) = node_verify(tmp_path, [(request, "s")])
    assert verdict["stringifyIsIdentity"] and verdict["raw"] and verdict["reparsed"], verdict


async def test_no_secret_means_no_signature_header(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    inst = await api.paired_instance(h, **hook(rx.url))
    await incoming(api, h, inst["id"], TEXT)
    listed = await settle(api, h, inst["id"])
    got = await rx.wait_count(len(listed))
    assert [r.event for r in got] == ["qr_received", "connected", "message_received"]
    for request in got:
        check_body(request)
        assert "X-Webhook-Signature" not in request.headers, request.headers
        assert request.id and request.event


async def test_reserved_header_names_are_refused(api: Api) -> None:
    h = await api.admin()
    for name in ("X-Webhook-Signature", "x-webhook-id", "Content-Type"):
        r = await api.client.post(
            "/api/instances",
            json={"name": "x", "webhookUrl": "http://127.0.0.1:9/h", "headers": {name: "v"}},
            headers=h,
        )
        assert r.status_code == 400, (name, r.text)


# --- which events are sent -----------------------------------------------------------------


async def test_notify_flags_select_events(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx_a, rx_b = await receivers(), await receivers()
    h = await api.admin()
    a = await api.paired_instance(
        h,
        **hook(
            rx_a.url, notifyReceived=True, notifySent=False, notifyDelivery=True, notifyRead=False
        ),
    )
    b = await api.paired_instance(
        h,
        **hook(
            rx_b.url, notifyReceived=False, notifySent=True, notifyDelivery=False, notifyRead=True
        ),
    )
    for inst in (a, b):
        await incoming(api, h, inst["id"], "in")
        await send(api, h, inst["id"], "out")
    for inst in (a, b):
        # Every event happened (events do not depend on webhooks) ...
        found = await wait_events(api, h, inst["id"], has_status("read"))
        types = [e["type"] for e in found]
        assert {"message_received", "message_sent"} <= set(types), types
        assert has_status("delivered")(found)
    listed_a = await settle(api, h, a["id"])
    listed_b = await settle(api, h, b["id"])
    got_a = await rx_a.wait_count(len(listed_a))
    got_b = await rx_b.wait_count(len(listed_b))
    await flush(api, h, a["id"], rx_a)  # nothing else trickles in
    await flush(api, h, b["id"], rx_b)
    # ... but each receiver got only what its flags asked for.
    assert [(r.event, r.json()["data"].get("status")) for r in rx_a.requests] == [
        ("qr_received", None),
        ("connected", None),
        ("message_received", "received"),
        ("message_status", "delivered"),
    ], summary(got_a)
    assert [(r.event, r.json()["data"].get("status")) for r in rx_b.requests] == [
        ("qr_received", None),
        ("connected", None),
        ("message_sent", "sent"),
        ("message_status", "read"),
    ], summary(got_b)
    assert all(r.json()["data"]["instanceId"] == a["id"] for r in rx_a.requests)
    assert all(r.json()["data"]["instanceId"] == b["id"] for r in rx_b.requests)


async def test_disabled_or_urlless_webhooks_send_nothing(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    off = await api.paired_instance(
        h, webhookUrl=rx.url, webhookEnabled=False, notifyDelivery=True, notifyRead=True
    )
    no_url = await api.paired_instance(h, webhookEnabled=True, notifyDelivery=True, notifyRead=True)
    for inst in (off, no_url):
        await incoming(api, h, inst["id"], "in")
        await send(api, h, inst["id"], "out")
        found = await wait_events(api, h, inst["id"], has_status("read"))
        assert len(eligible(found)) >= 6, found
    # Nothing was queued (a delivery is queued with its event), so nothing can come later.
    for inst in (off, no_url):
        page = await deliveries(api, h, inst["id"])
        assert page["deliveries"] == [] and page["pagination"]["total"] == 0
    assert rx.requests == []


async def test_settings_change_sends_webhook_updated_to_the_new_url(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    old, new = await receivers(), await receivers()
    h = await api.admin()
    inst = await api.paired_instance(h, **hook(old.url))
    iid = inst["id"]
    await settle(api, h, iid)
    assert [r.event for r in old.requests] == ["qr_received", "connected"]

    # A change that does not touch the webhook sends nothing.
    r = await api.client.put(f"/api/instances/{iid}", json={"name": "renamed"}, headers=h)
    assert r.status_code == 200, r.text
    r = await api.client.put(
        f"/api/instances/{iid}",
        json={"webhookUrl": new.url, "webhookSettings": {"notifyReceived": False}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    (updated,) = await new.wait_count(1)
    body = check_body(updated)
    assert body["event"] == "webhook_updated" and updated.event == "webhook_updated"
    assert set(body["data"]) == {"instanceId", "timestamp"} and body["data"]["instanceId"] == iid
    assert ISO_MS.match(body["data"]["timestamp"])
    (event,) = [e for e in await events(api, h, iid) if e["type"] == "webhook_updated"]
    assert body == {
        "event": "webhook_updated",
        "data": event["data"],
        "timestamp": event["timestamp"],
    }

    # The new settings hold from then on: received messages are no longer sent; sent ones go
    # to the new URL only.
    await incoming(api, h, iid, "not wanted any more")
    await send(api, h, iid, "still wanted")
    await settle(api, h, iid)
    await flush(api, h, iid, new)
    assert [r.event for r in new.requests] == ["webhook_updated", "message_sent"]
    assert [r.event for r in old.requests] == ["qr_received", "connected"]
    # the settings change, and the flush marker after it (listed newest first)
    marker, listed = (await deliveries(api, h, iid, event="webhook_updated"))["deliveries"]
    assert listed["url"] == new.url and listed["status"] == "succeeded"
    assert marker["url"] == new.url  # (its outcome may still be being recorded)


# --- retries -------------------------------------------------------------------------------


async def test_failed_attempts_are_retried_after_retry_interval(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers()
    rx.fail_next(2, status=500)
    h = await api.admin()
    inst = await api.new_instance(h, **hook(rx.url, maxRetries=3, retryInterval=300))
    iid = inst["id"]

    # The first event (qr_received) fails: between attempts it is pending, failure recorded.
    (first,) = await rx.wait_count(1)
    assert first.event == "qr_received"
    pending = await wait_delivery(
        api, h, iid, str(first.id), lambda d: d["attempts"] >= 1 and d["status"] == "pending"
    )
    assert pending["attempts"] in (1, 2) and pending["maxAttempts"] == 4
    assert pending["lastStatusCode"] == 500 and pending["lastError"] == "HTTP 500"
    assert ISO_MS.match(pending["nextAttemptAt"])

    # Pair meanwhile: `connected` must wait behind the retried qr_received.
    await api.wait_status(iid, h, "qr")
    r = await api.client.post(f"/api/sandbox/{iid}/scan", json={}, headers=h)
    assert r.status_code == 200, r.text

    got = await rx.wait_count(4)
    assert [r.event for r in got] == ["qr_received"] * 3 + ["connected"]
    assert len({r.id for r in got[:3]}) == 1 and got[3].id != first.id
    assert [r.headers["X-Webhook-Attempt"] for r in got[:3]] == ["1", "2", "3"]
    assert [r.answered for r in got] == [500, 500, 200, 200]
    assert got[0].body == got[1].body == got[2].body  # the same bytes every time
    gaps = [later.at - earlier.at for earlier, later in zip(got, got[1:3], strict=False)]
    # never before the interval; no upper bound on a loaded machine (the exact spacing is
    # checked from nextAttemptAt in test_retry_interval_spacing.py)
    assert all(gap >= 0.27 for gap in gaps), gaps

    done = await wait_delivery(api, h, iid, str(first.id), lambda d: d["status"] != "pending")
    assert done["status"] == "succeeded" and done["attempts"] == 3
    assert done["lastStatusCode"] == 200 and done["lastError"] is None
    assert ISO_MS.match(done["deliveredAt"]) and done["nextAttemptAt"] is None


async def test_exhausted_delivery_fails_then_manual_retry_succeeds(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers(status=500)
    h = await api.admin()
    inst = await api.new_instance(h, **hook(rx.url, maxRetries=1, retryInterval=100))
    iid = inst["id"]
    got = await rx.wait_count(2)
    (delivery_id,) = {r.id for r in got}
    failed = await wait_delivery(api, h, iid, str(delivery_id), lambda d: d["status"] != "pending")
    assert failed["status"] == "failed" and failed["attempts"] == 2 and failed["maxAttempts"] == 2
    assert failed["lastError"] == "HTTP 500" and failed["lastStatusCode"] == 500
    assert failed["deliveredAt"] is None and failed["nextAttemptAt"] is None
    rx.status = 200  # the receiver recovers
    await flush(api, h, iid, rx)  # a third attempt would come before this marker
    assert len(rx.requests) == 2  # given up: no third attempt
    assert (await deliveries(api, h, iid, status="failed"))["pagination"]["total"] == 1

    r = await api.client.post(
        f"/api/instances/{iid}/webhooks/deliveries/{delivery_id}/retry", headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["delivery"]["id"] == delivery_id
    assert r.json()["delivery"]["status"] == "pending"
    got = await rx.wait_count(3, within=10.0)
    assert got[2].id == delivery_id and got[2].body == got[0].body and got[2].answered == 200
    done = await wait_delivery(api, h, iid, str(delivery_id), lambda d: d["status"] != "pending")
    assert done["status"] == "succeeded" and done["attempts"] == 3
    assert done["lastStatusCode"] == 200 and done["lastError"] is None
    await flush(api, h, iid, rx)
    assert len(rx.requests) == 3


# --- order and availability ----------------------------------------------------------------


async def test_order_per_instance_is_kept_through_failures(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    answered: dict[str | None, int] = {}

    def flaky(request: Received, index: int) -> Reply:
        # Every third new delivery fails on its first attempt; answers take varying time.
        seen = answered.get(request.id, 0)
        answered[request.id] = seen + 1
        if seen == 0 and len(answered) % 3 == 0:
            return Reply(503, delay_s=0.01)
        return Reply(200, delay_s=(index % 4) * 0.005)

    api = await start_app(api_factory)
    rx = await receivers(responder=flaky)
    h = await api.admin()
    inst = await api.paired_instance(
        h, **hook(rx.url, maxRetries=5, retryInterval=100, notifyDelivery=True, notifyRead=True)
    )
    iid = inst["id"]
    for n in range(6):
        await incoming(api, h, iid, f"sequential {n}")
    await send(api, h, iid, "with receipts")
    # Some produced concurrently: whatever order the server gave them is the order to keep.
    await asyncio.gather(*(incoming(api, h, iid, f"concurrent {n}") for n in range(6)))
    await wait_events(api, h, iid, has_status("read"))
    listed = await settle(api, h, iid, within=10.0)
    await rx.wait_for(lambda rs: len({r.id for r in rs}) >= len(listed))
    produced = eligible(await events(api, h, iid))

    assert len(listed) == len(produced) == 2 + 6 + 1 + 2 + 6
    assert all(d["status"] == "succeeded" for d in listed), listed
    assert any(r.answered == 503 for r in rx.requests)  # some were retried
    # The arrivals, repeated attempts collapsed, are the deliveries in order ...
    runs: list[str | None] = []
    for request in rx.requests:
        if not runs or runs[-1] != request.id:
            runs.append(request.id)
    assert runs == [d["id"] for d in listed], "an id came back after a later one"
    # ... which are the events in the order they were produced.
    assert [
        (r.json()["event"], r.json()["data"], r.json()["timestamp"]) for r in rx.distinct_in_order()
    ] == [(e["type"], e["data"], e["timestamp"]) for e in produced]
    firsts = [r for r in rx.distinct_in_order() if r.event == "message_received"]
    assert [r.json()["data"]["body"] for r in firsts][:6] == [f"sequential {n}" for n in range(6)]


async def test_receiver_down_then_up_gets_every_event_once_in_order(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    port = free_port()
    rx = await receivers(port=port, start=False)  # nothing listens on the port yet
    h = await api.admin()
    inst = await api.paired_instance(
        h, **hook(f"http://127.0.0.1:{port}/hook", maxRetries=20, retryInterval=150)
    )
    iid = inst["id"]
    for n in range(5):
        await incoming(api, h, iid, f"while down {n}")
    first = (await all_deliveries(api, h, iid))[0]
    head = await wait_delivery(api, h, iid, first["id"], lambda d: d["attempts"] >= 2)
    assert head["status"] == "pending" and head["lastStatusCode"] is None
    assert head["lastError"], head  # connection refused, recorded
    listed = await all_deliveries(api, h, iid)
    assert len(listed) == 7 and all(d["status"] == "pending" for d in listed)

    await rx.start()
    await rx.wait_count(7, within=5.0)
    await flush(api, h, iid, rx, keep=True)  # no late duplicates: the marker comes after all
    listed = await settle(api, h, iid)
    assert rx.id_counts() == {d["id"]: 1 for d in listed}
    assert rx.ids() == [d["id"] for d in listed]
    assert all(d["status"] == "succeeded" for d in listed)
    produced = eligible(await events(api, h, iid))
    assert [r.json() for r in rx.requests] == [
        {"event": e["type"], "data": e["data"], "timestamp": e["timestamp"]} for e in produced
    ]


async def test_slow_receiver_does_not_delay_another_instance(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory, webhook_timeout_ms=5000)
    slow, fast = await receivers(), await receivers()
    h = await api.admin()
    s = await api.paired_instance(h, **hook(slow.url))
    f = await api.paired_instance(h, **hook(fast.url))
    await settle(api, h, s["id"])
    await settle(api, h, f["id"])
    slow.delay_s = 2.0
    for n in range(3):
        await incoming(api, h, s["id"], f"slow {n}")
    await slow.wait_count(3)  # qr_received, connected, the first of the three
    started = time.monotonic()
    for n in range(3):
        await incoming(api, h, f["id"], f"fast {n}")
    got = await fast.wait_count(5, within=2.0)
    # Well inside the slow receiver's 2 s answer: the fast instance never waited for it.
    assert got[-1].at - started < 1.5, got[-1].at - started
    assert [r.json()["data"]["body"] for r in got[2:]] == ["fast 0", "fast 1", "fast 2"]
    # The slow one is still on its first message, which has not been answered yet.
    assert len(slow.requests) == 3 and slow.requests[-1].answered is None

    slow.delay_s = 0.0  # the next ones are quick
    listed = await settle(api, h, s["id"], within=5.0)
    assert all(d["status"] == "succeeded" for d in listed)
    slow_one = next(d for d in listed if d["payload"]["data"].get("body") == "slow 0")
    assert slow_one["attempts"] == 1 and slow_one["lastDurationMs"] >= 1900
    assert [r.json()["data"]["body"] for r in slow.of_event("message_received")] == [
        "slow 0",
        "slow 1",
        "slow 2",
    ]


async def test_timeout_counts_as_a_failed_attempt(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory, webhook_timeout_ms=200)
    # The answer would come far later than any loaded machine's lateness, so the attempt
    # ending before it proves the timeout, without asserting how fast this machine is.
    rx = await receivers(delay_s=30.0)
    h = await api.admin()
    inst = await api.new_instance(h, **hook(rx.url, maxRetries=0))
    (first,) = await rx.wait_count(1)
    done = await wait_delivery(
        api, h, inst["id"], str(first.id), lambda d: d["status"] != "pending"
    )
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["lastStatusCode"] is None and "timeout" in done["lastError"].lower()
    assert 150 <= done["lastDurationMs"] < 30_000


async def test_non_ascii_custom_header_is_refused_and_cannot_block_the_queue(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    """HTTP header values are ASCII: the API refuses others, and the transport turns one it
    cannot encode into a failed attempt instead of an exception that stalls the queue."""
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    r = await api.client.post(
        "/api/instances",
        json={"name": "x", "engine": "sandbox", **hook(rx.url, headers={"X-Name": "值"})},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["details"]["field"] == "headers", r.text
    transport = HttpWebhookTransport(5.0)
    try:
        result = await transport.post(WebhookTarget(rx.url, "127.0.0.1"), b"{}", {"X-Name": "值"})
    finally:
        await transport.close()
    assert not result.ok and result.status_code is None
    assert "encode" in (result.error or "").lower()
    assert result.outcome is Outcome.INVALID_REQUEST
    assert rx.requests == []


async def test_custom_headers_cannot_duplicate_the_standard_ones(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    """Header names are case-insensitive: a lower-case custom one must not add a second
    User-Agent or X-Webhook-Attempt line next to the standard one."""
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    custom = {"user-agent": "mine/1", "x-webhook-attempt": "99", "x-extra": "kept"}
    await api.new_instance(h, **hook(rx.url, headers=custom))
    (request,) = await rx.wait_count(1)
    assert request.headers.get_all("X-Webhook-Attempt") == ["1"], request.headers
    assert len(request.headers.get_all("User-Agent")) == 1, request.headers
    assert request.headers.get_all("X-Extra") == ["kept"]
    assert len(request.headers.get_all("X-Webhook-Id")) == 1
    assert len(request.headers.get_all("Content-Type")) == 1


# --- the test endpoint ---------------------------------------------------------------------


async def test_test_endpoint_reports_the_live_result(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers(delay_s=0.3)
    h = await api.admin()
    # webhookEnabled false: a test is still sent (testing comes before switching it on).
    inst = await api.new_instance(
        h, webhookUrl=rx.url, webhookEnabled=False, webhookSecret=SECRET, headers={"X-A": "b"}
    )
    iid = inst["id"]
    r = await api.client.post(f"/api/instances/{iid}/webhooks/test", headers=h)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["success"] is True and result["statusCode"] == 200 and result["error"] is None
    assert isinstance(result["durationMs"], int) and 250 <= result["durationMs"] < 3000
    (request,) = rx.requests
    body = check_body(request)
    assert body["event"] == "webhook_test" and body["data"]["instanceId"] == iid
    assert request.headers["X-Webhook-Signature"] == hmac_hex(SECRET, request.body)
    assert request.headers["X-A"] == "b" and request.id == result["delivery"]["id"]
    assert result["delivery"]["status"] == "succeeded" and result["delivery"]["attempts"] == 1
    # (sent once, not again: below, the webhook_updated queued once webhooks are enabled
    # arrives with no second webhook_test before it)
    assert len(rx.requests) == 1, [r.event for r in rx.requests]
    (listed,) = (await deliveries(api, h, iid, event="webhook_test"))["deliveries"]
    assert listed["id"] == request.id and listed["status"] == "succeeded"
    assert listed["lastStatusCode"] == 200 and listed["payload"] == body

    # Once enabled (a webhook_updated is queued too), a slow test is still sent only once.
    r = await api.client.put(f"/api/instances/{iid}", json={"webhookEnabled": True}, headers=h)
    assert r.status_code == 200, r.text
    await settle(api, h, iid)
    assert [r.event for r in rx.requests] == ["webhook_test", "webhook_updated"]
    r = await api.client.post(f"/api/instances/{iid}/webhooks/test", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["delivery"]["status"] == "succeeded"
    await flush(api, h, iid, rx)
    assert [r.event for r in rx.requests] == ["webhook_test", "webhook_updated", "webhook_test"]
    tests = (await deliveries(api, h, iid, event="webhook_test"))["deliveries"]
    assert [(d["status"], d["attempts"]) for d in tests] == [("succeeded", 1)] * 2

    # A receiver answering 500: reported as a failure with its status.
    rx.delay_s, rx.status = 0.0, 500
    r = await api.client.post(f"/api/instances/{iid}/webhooks/test", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["success"] is False and r.json()["statusCode"] == 500
    assert r.json()["error"] == "HTTP 500" and r.json()["delivery"]["status"] == "failed"


async def test_test_endpoint_against_a_closed_port_and_without_url(
    api_factory: Callable[..., Any],
) -> None:
    api = await start_app(api_factory)
    h = await api.admin()
    closed = await api.new_instance(
        h, webhookUrl=f"http://127.0.0.1:{free_port()}/hook", webhookEnabled=False
    )
    r = await api.client.post(f"/api/instances/{closed['id']}/webhooks/test", headers=h)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["success"] is False and result["statusCode"] is None
    assert isinstance(result["error"], str) and result["error"]
    assert isinstance(result["durationMs"], int) and result["durationMs"] >= 0
    assert result["delivery"]["status"] == "failed"
    assert result["delivery"]["lastError"] == result["error"]

    bare = await api.new_instance(h)
    r = await api.client.post(f"/api/instances/{bare['id']}/webhooks/test", headers=h)
    assert r.status_code == 409, r.text
    assert r.json()["error"] and r.json()["message"]
    assert (await deliveries(api, h, bare["id"]))["pagination"]["total"] == 0


# --- the delivery log ----------------------------------------------------------------------


async def test_deliveries_listing_filters_pages_and_guards(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start_app(api_factory)
    rx = await receivers()
    h = await api.admin()
    inst = await api.paired_instance(h, **hook(rx.url, maxRetries=0))
    iid = inst["id"]
    await settle(api, h, iid)
    for n in range(4):
        if n == 2:
            rx.fail_next(1, status=502)
        await incoming(api, h, iid, f"m{n}")
        await settle(api, h, iid)
    listed = await all_deliveries(api, h, iid)
    assert [d["event"] for d in listed] == ["qr_received", "connected"] + ["message_received"] * 4
    assert [d["status"] for d in listed] == ["succeeded"] * 4 + ["failed", "succeeded"]
    assert rx.ids() == [d["id"] for d in listed]

    everything = await deliveries(api, h, iid)
    assert everything["pagination"] == {"total": 6, "limit": 50, "skip": 0, "hasMore": False}
    assert [d["id"] for d in everything["deliveries"]] == [d["id"] for d in reversed(listed)]

    failed = await deliveries(api, h, iid, status="failed")
    assert [d["id"] for d in failed["deliveries"]] == [listed[4]["id"]]
    assert failed["deliveries"][0]["lastError"] == "HTTP 502"
    assert failed["deliveries"][0]["payload"]["data"]["body"] == "m2"
    assert failed["pagination"]["total"] == 1
    succeeded = await deliveries(api, h, iid, status="succeeded")
    assert succeeded["pagination"]["total"] == 5
    assert all(d["status"] == "succeeded" for d in succeeded["deliveries"])
    assert (await deliveries(api, h, iid, status="pending"))["pagination"]["total"] == 0
    received = await deliveries(api, h, iid, event="message_received")
    assert [d["payload"]["data"]["body"] for d in received["deliveries"]] == [
        "m3",
        "m2",
        "m1",
        "m0",
    ]
    both = await deliveries(api, h, iid, event="message_received", status="succeeded")
    assert [d["payload"]["data"]["body"] for d in both["deliveries"]] == ["m3", "m1", "m0"]
    connected = await deliveries(api, h, iid, event="connected")
    assert [d["event"] for d in connected["deliveries"]] == ["connected"]
    assert (await deliveries(api, h, iid, event="message_sent"))["deliveries"] == []

    page = await deliveries(api, h, iid, limit=2, skip=1)
    assert page["pagination"] == {"total": 6, "limit": 2, "skip": 1, "hasMore": True}
    assert [d["id"] for d in page["deliveries"]] == [listed[4]["id"], listed[3]["id"]]
    last = await deliveries(api, h, iid, limit=2, skip=4)
    assert last["pagination"]["hasMore"] is False
    assert [d["id"] for d in last["deliveries"]] == [listed[1]["id"], listed[0]["id"]]
    assert (await deliveries(api, h, iid, skip=10))["deliveries"] == []

    base = f"/api/instances/{iid}/webhooks/deliveries"
    for params in (
        {"status": "bogus"},
        {"status": "SUCCEEDED"},
        {"event": "bogus"},
        {"limit": 0},
        {"limit": 5000},
        {"limit": "abc"},
        {"skip": -1},
    ):
        r = await api.client.get(base, params=params, headers=h)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"] and r.json()["message"], r.text
    assert (await api.client.get(base)).status_code == 401

    # Another user sees none of it: the instance and its deliveries are 404 to them.
    other = await api.new_user("other-webhooks@example.com")
    own = await api.new_instance(other, name="theirs")
    delivery_id = listed[4]["id"]
    for method, path in (
        ("GET", base),
        ("POST", f"{base}/{delivery_id}/retry"),
        ("POST", f"/api/instances/{iid}/webhooks/test"),
    ):
        r = await api.client.request(method, path, headers=other)
        assert r.status_code == 404, (path, r.text)
    # Their own instance does not reach this one's deliveries either.
    r = await api.client.post(
        f"/api/instances/{own['id']}/webhooks/deliveries/{delivery_id}/retry", headers=other
    )
    assert r.status_code == 404, r.text
    r = await api.client.post(f"{base}/no-such-delivery/retry", headers=h)
    assert r.status_code == 404, r.text
    r = await api.client.get("/api/instances/no-such-instance/webhooks/deliveries", headers=h)
    assert r.status_code == 404, r.text
    # None of that changed anything.
    assert (await deliveries(api, h, iid, status="failed"))["deliveries"][0]["attempts"] == 1
    await flush(api, h, iid, rx)
    assert len(rx.requests) == 6
