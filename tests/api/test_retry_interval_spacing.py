"""A failed webhook attempt is retried after the instance's own retryInterval.

Two instances with different intervals fail against one receiver; each pending delivery's
nextAttemptAt is its last attempt (updatedAt, set from the same clock reading) plus that
instance's interval, exactly: no wall-clock measurement, so the machine's speed cannot matter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, AppFactory
from tests.webhook_receiver import WebhookReceiver


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def failing_receiver() -> AsyncIterator[WebhookReceiver]:
    rx = WebhookReceiver()
    await rx.start()
    rx.fail_next(1_000, status=500)
    yield rx
    await rx.stop()


async def first_pending_failure(api: Api, h: dict[str, str], iid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        r = await api.client.get(f"/api/instances/{iid}/webhooks/deliveries", headers=h)
        assert r.status_code == 200, r.text
        for d in r.json()["deliveries"]:
            if d["attempts"] >= 1 and d["status"] == "pending":
                return dict(d)
        assert time.monotonic() < deadline, r.json()
        await asyncio.sleep(0.02)


async def test_each_instance_retries_after_its_own_interval(
    api_factory: AppFactory, failing_receiver: WebhookReceiver
) -> None:
    api = await api_factory(webhook_poll_interval_ms=50)
    h = await api.admin()
    spacing: dict[int, timedelta] = {}
    for interval_ms in (1_000, 7_000):
        inst = await api.new_instance(
            h,
            webhookUrl=failing_receiver.url,
            webhookEnabled=True,
            maxRetries=5,
            retryInterval=interval_ms,
        )
        pending = await first_pending_failure(api, h, inst["id"])
        assert pending["lastStatusCode"] == 500
        spacing[interval_ms] = moment(pending["nextAttemptAt"]) - moment(pending["updatedAt"])
    assert spacing == {1_000: timedelta(seconds=1), 7_000: timedelta(seconds=7)}
