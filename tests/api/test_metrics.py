"""/metrics after real traffic: requests by route template, messages, instances, webhooks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from domain.wire import WorkerInfo
from tests.conftest import Api
from tests.webhook_receiver import WebhookReceiver

OUTSIDE = "79001234567"
SEND_ROUTE = "/api/whatsapp/{instance_id}/send"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(api: Api, headers: dict[str, str] | None = None) -> Samples:
    r = await api.client.get("/metrics", headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def eventually(api: Api, check: Callable[[Samples], bool], within: float = 10.0) -> Samples:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        samples = await scrape(api)
        if check(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.02)


async def test_counters_move_with_traffic(api_factory: Callable[..., Any]) -> None:
    api = await api_factory(webhook_poll_interval_ms=50, sandbox_receipt_delay_ms=20)
    before = await scrape(api)
    h = await api.new_user("metrics@example.com")
    async with WebhookReceiver() as rx:
        # Only received messages (and this change itself, webhook_updated) are delivered.
        iid = (await api.paired_instance(h))["id"]
        quiet = {"notifySent": False, "notifyDelivery": False, "notifyRead": False}
        r = await api.client.put(
            f"/api/instances/{iid}",
            json={"webhookUrl": rx.url, "webhookEnabled": True, "webhookSettings": quiet},
            headers=h,
        )
        assert r.status_code == 200, r.text
        for i in range(3):
            r = await api.client.post(
                f"/api/whatsapp/{iid}/send", json={"phone": OUTSIDE, "message": f"m{i}"}, headers=h
            )
            assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming", json={"from": OUTSIDE, "body": "hi"}, headers=h
        )
        assert r.status_code == 200, r.text
        await rx.wait_for(lambda rs: any(x.event == "message_received" for x in rs))
        bad = await api.client.post(f"/api/whatsapp/{iid}/send", json={}, headers=h)
        assert bad.status_code == 400
        after = await eventually(
            api,
            # counted when answered; off the queue once the answer is written down
            lambda s: (
                value(s, "wamux_webhook_attempts_total", outcome="delivered") == len(rx.requests)
                and value(s, "wamux_webhook_queue_depth") == 0
            ),
        )
        delivered = len(rx.requests)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Requests by route TEMPLATE (never the instance id) and status, with a latency histogram.
    ok = {"method": "POST", "route": SEND_ROUTE}
    assert moved("wamux_http_requests_total", status="200", **ok) == 3
    assert moved("wamux_http_requests_total", status="400", **ok) == 1
    assert moved("wamux_http_request_duration_seconds_count", **ok) == 4
    assert moved("wamux_http_request_duration_seconds_bucket", le="+Inf", **ok) == 4
    assert not any(iid in dict(labels).get("route", "") for _, labels in after)
    assert value(after, "wamux_messages_total", direction="sent") == 3
    assert value(after, "wamux_messages_total", direction="received") == 1
    assert value(after, "wamux_instances", engine="sandbox", status="connected") == 1
    assert delivered == 2  # webhook_updated, message_received
    assert value(after, "wamux_webhook_attempts_total", outcome="delivered") == delivered
    assert value(after, "wamux_webhook_delivery_latency_seconds_count") == delivered
    assert value(after, "wamux_webhook_failures_total", outcome="http_status") == 0
    assert value(after, "wamux_webhook_queue_depth") == 0
    # The SQLite writer's group commits: every unit it committed, in some number of COMMITs.
    commits = moved("wamux_storage_commit_seconds_count")
    assert commits >= 1
    assert moved("wamux_storage_write_batch_units_count") == commits
    assert moved("wamux_storage_write_batch_units_sum") >= commits

    # An unknown path is one series, not one per path tried.
    await api.client.get("/no/such/path/1")
    await api.client.get("/no/such/path/2")
    last = await scrape(api)
    assert (
        value(last, "wamux_http_requests_total", method="GET", route="unmatched", status="404") == 2
    )


async def test_failed_webhooks_and_the_queue(api_factory: Callable[..., Any]) -> None:
    api = await api_factory(webhook_poll_interval_ms=50, sandbox_receipt_delay_ms=20)
    h = await api.new_user("failing@example.com")
    async with WebhookReceiver() as rx:
        rx.status = 500  # every answer fails
        # The first delivery fails, then waits a minute for its retry; the instance's later
        # deliveries queue behind it (each instance's deliveries go out in order).
        inst = await api.paired_instance(
            h, webhookUrl=rx.url, webhookEnabled=True, maxRetries=5, retryInterval=60_000
        )
        iid = inst["id"]
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming", json={"from": OUTSIDE, "body": "x"}, headers=h
        )
        assert r.status_code == 200, r.text
        await rx.wait_count(1)
        samples = await eventually(
            api, lambda s: value(s, "wamux_webhook_failures_total", outcome="http_status") == 1
        )
        r = await api.client.get(
            f"/api/instances/{iid}/webhooks/deliveries", params={"limit": 1000}, headers=h
        )
        pending = [d for d in r.json()["deliveries"] if d["status"] == "pending"]
    assert len(rx.requests) == 1
    assert value(samples, "wamux_webhook_attempts_total", outcome="http_status") == 1
    assert value(samples, "wamux_webhook_attempts_total", outcome="delivered") == 0
    assert len(pending) >= 3  # qr_received, connected, message_received, ...
    assert value(samples, "wamux_webhook_queue_depth") == len(pending)


class _Workers:
    """Two engine workers as the neonize engine reports them (admin view, /metrics)."""

    async def workers(self) -> list[WorkerInfo]:
        return [
            WorkerInfo("w1", 101, "running", ("a", "b"), 50_000_000, 0, None),
            WorkerInfo("w2", 102, "running", (), 40_000_000, 3, None),
        ]


async def test_engine_workers_memory_and_restarts(api_factory: Callable[..., Any]) -> None:
    api = await api_factory(ports={"engine_workers": _Workers()})
    samples = await scrape(api)
    assert value(samples, "wamux_engine_workers", status="running") == 2
    assert value(samples, "wamux_engine_worker_memory_bytes", worker="w1") == 50_000_000
    assert value(samples, "wamux_engine_worker_restarts_total", worker="w2") == 3
    assert value(samples, "wamux_engine_worker_restarts_total", worker="w1") == 0


async def test_metrics_token(api_factory: Callable[..., Any]) -> None:
    api = await api_factory(metrics_token="scrape-me-" + "z" * 20)
    r = await api.client.get("/metrics")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    samples = await scrape(api, {"Authorization": "Bearer scrape-me-" + "z" * 20})
    assert ("wamux_webhook_queue_depth", frozenset()) in samples


async def test_request_id_is_echoed_or_made(api: Api) -> None:
    made = await api.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", made.headers["x-request-id"])
    again = await api.client.get("/healthz")
    assert again.headers["x-request-id"] != made.headers["x-request-id"]
    kept = await api.client.get("/healthz", headers={"X-Request-Id": "trace-42.a"})
    assert kept.headers["x-request-id"] == "trace-42.a"
    # Not a plain token (spaces, too long): replaced, never echoed into the answer.
    odd = await api.client.get("/healthz", headers={"X-Request-Id": "a b<script>"})
    assert odd.headers["x-request-id"] != "a b<script>"
    refused = await api.client.get("/api/instances")
    assert refused.status_code == 401 and "x-request-id" in refused.headers
