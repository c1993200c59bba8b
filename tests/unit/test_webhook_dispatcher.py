"""The webhook dispatcher's wake-ups, with in-memory storage and a recording transport."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.net.addresses import ListeningAddress
from adapters.webhooks.targets import CheckedTargets
from domain.entities import Engine, Instance, InstanceStatus, WebhookSettings
from domain.webhook_delivery import WebhookDispatcher
from domain.webhook_targets import PrivateTargets, WebhookTargetPolicy
from domain.webhooks import DeliveryStatus, WebhookDelivery
from tests.fakes import (
    FakeClock,
    MemoryStorage,
    MemoryUnitOfWork,
    RecordingTransport,
    StaticResolver,
)

NOW = datetime(2023, 1, 1, 12, 0, tzinfo=UTC)
ALLOW = WebhookTargetPolicy(
    CheckedTargets(StaticResolver(), ListeningAddress("127.0.0.1", 3000)), PrivateTargets.ALLOW
)


def delivery(delivery_id: str, instance_id: str) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery_id,
        instance_id=instance_id,
        event_id=None,
        event="connected",
        url="http://127.0.0.1:9/hook",
        body='{"event":"connected"}',
        status=DeliveryStatus.PENDING,
        attempts=0,
        max_attempts=1,
        retry_interval_ms=100,
        next_attempt_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


async def add(storage: MemoryStorage, item: WebhookDelivery) -> None:
    async with storage.unit_of_work() as uow:
        await uow.webhooks.add(item)
        await uow.commit()


async def test_a_wake_while_the_worker_finds_nothing_is_not_lost() -> None:
    """An event committing while the worker's "anything pending?" query runs is delivered
    at once, not only at the next poll (which here never comes)."""
    storage = MemoryStorage()
    async with storage.unit_of_work() as uow:
        await uow.instances.add(
            Instance(
                id="inst",
                user_id="u",
                name="n",
                description=None,
                engine=Engine.SANDBOX,
                status=InstanceStatus.CONNECTED,
                webhook_url="http://127.0.0.1:9/hook",
                webhook_enabled=True,
                webhook=WebhookSettings(),
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await uow.commit()

    transport = RecordingTransport()
    raced: list[bool] = []
    dispatcher: WebhookDispatcher

    class RacingUnitOfWork(MemoryUnitOfWork):
        async def __aenter__(self) -> MemoryUnitOfWork:
            uow = await super().__aenter__()
            pending = uow.webhooks.pending

            async def racing_pending(instance_id: str, limit: int) -> Any:
                found = await pending(instance_id, limit)
                if not found and not raced:
                    # The query saw nothing; now an event commits and wakes the dispatcher.
                    raced.append(True)
                    await add(storage, delivery("second", instance_id))
                    dispatcher.wake(instance_id)
                return found

            uow.webhooks.pending = racing_pending  # type: ignore[method-assign]
            return uow

    def unit_of_work(*, read_only: bool = False) -> MemoryUnitOfWork:
        return RacingUnitOfWork(storage.state, read_only)

    # No poll loop is started: only wake() can get a delivery going.
    dispatcher = WebhookDispatcher(
        unit_of_work, transport, FakeClock(NOW), ALLOW, poll_interval_s=60
    )
    try:
        await add(storage, delivery("first", "inst"))
        dispatcher.wake("inst")
        await transport.wait_for(2)  # a lost wake-up would leave "second" waiting for a poll
        assert raced == [True]
        assert transport.posted == ["first", "second"]
        assert {d.id: d.status for d in storage.state.webhooks.values()} == {
            "first": DeliveryStatus.SUCCEEDED,
            "second": DeliveryStatus.SUCCEEDED,
        }
    finally:
        await dispatcher.close()
