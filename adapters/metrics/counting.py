"""Wrappers that count what passes through a port, so the use cases need no metric calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from adapters.metrics.prometheus import Metrics
from domain.entities import Event
from domain.ports import EventBus, WebhookTransport
from domain.webhook_targets import WebhookTarget
from domain.webhooks import AttemptResult

_TIMESTAMP = b'"timestamp":"'


class CountingEventBus:
    """Every event is published once, after its transaction committed: the place to count
    messages sent and received, and reconnects."""

    def __init__(self, inner: EventBus, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def publish(self, event: Event) -> None:
        self._metrics.observe_event(event.instance_id, event.type.value)
        await self._inner.publish(event)

    def subscribe(self, instance_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        return self._inner.subscribe(instance_id)

    def subscribe_all(self) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        return self._inner.subscribe_all()

    async def close(self) -> None:
        await self._inner.close()


def enqueued_at(body: bytes) -> datetime | None:
    """The event's timestamp, which every webhook body ends with (domain.webhooks.body_of):
    the delivery was queued in the transaction that recorded the event."""
    start = body.rfind(_TIMESTAMP)
    if start < 0:
        return None
    start += len(_TIMESTAMP)
    end = body.find(b'"', start)
    try:
        return datetime.fromisoformat(body[start:end].decode("ascii"))
    except ValueError:
        return None


class CountingWebhookTransport:
    def __init__(self, inner: WebhookTransport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        result = await self._inner.post(target, body, headers)
        outcome = result.outcome.value
        self._metrics.observe_webhook_attempt(
            outcome, enqueued_at(body) if outcome == "delivered" else None
        )
        return result

    async def close(self) -> None:
        await self._inner.close()
