"""GraphQL twins of webhook visibility: deliveries, retry and the test delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.webhook_receiver import WebhookReceiver

DELIVERIES = """
query($id: ID!, $status: String, $event: String, $limit: Int) {
  webhookDeliveries(instanceId: $id, status: $status, event: $event, limit: $limit) {
    deliveries { id event status attempts maxAttempts lastStatusCode lastError payload }
    pagination { total limit skip hasMore }
  }
}"""
RETRY = """
mutation($id: ID!, $d: ID!) {
  retryWebhookDelivery(instanceId: $id, deliveryId: $d) { id status }
}"""
TEST = """
mutation($id: ID!) {
  testWebhook(instanceId: $id) { success statusCode error durationMs delivery { event } }
}"""


@pytest.fixture
async def rx() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def _deliveries(api: Api, h: dict[str, str], iid: str, **variables: Any) -> dict[str, Any]:
    out = await api.gql(DELIVERIES, {"id": iid, **variables}, h)
    assert "errors" not in out, out
    return dict(out["data"]["webhookDeliveries"])


async def _settled(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        found = (await _deliveries(api, h, iid, limit=100))["deliveries"]
        if found and all(d["status"] != "pending" for d in found):
            return list(found)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.03)


async def test_deliveries_retry_and_test_through_graphql(
    api_factory: Any, rx: WebhookReceiver
) -> None:
    api: Api = await api_factory(webhook_poll_interval_ms=50)
    rx.fail_next(1000)  # everything fails until we say otherwise
    h = await api.admin()
    inst = await api.new_instance(
        h, webhookUrl=rx.url, webhookEnabled=True, maxRetries=0, retryInterval=100
    )
    failed = await _settled(api, h, inst["id"])
    assert failed[0]["status"] == "failed" and failed[0]["lastStatusCode"] == 500
    assert failed[0]["payload"]["event"] == failed[0]["event"] == "qr_received"

    only_failed = await _deliveries(api, h, inst["id"], status="failed", event="qr_received")
    assert only_failed["pagination"]["total"] == len(failed)

    rx.queued.clear()
    out = await api.gql(RETRY, {"id": inst["id"], "d": failed[0]["id"]}, h)
    assert out["data"]["retryWebhookDelivery"]["status"] == "pending", out
    await rx.wait_for(lambda reqs: any(r.id == failed[0]["id"] for r in reqs))
    done = {d["id"]: d for d in await _settled(api, h, inst["id"])}
    assert done[failed[0]["id"]]["status"] == "succeeded"

    out = await api.gql(TEST, {"id": inst["id"]}, h)
    result = out["data"]["testWebhook"]
    assert result["success"] is True and result["statusCode"] == 200
    assert result["delivery"]["event"] == "webhook_test"

    bad = await api.gql(DELIVERIES, {"id": inst["id"], "status": "maybe"}, h)
    assert bad["errors"][0]["extensions"]["status"] == 400
    other = await api.new_user("other-gql-hooks@example.com")
    foreign = await api.gql(DELIVERIES, {"id": inst["id"]}, other)
    assert foreign["errors"][0]["extensions"]["status"] == 404
