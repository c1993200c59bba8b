"""The webhook dispatcher's lanes: wake-ups, hand-offs, reads of the outbox, retries, marks.

In-memory storage and a recording transport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.net.addresses import ListeningAddress
from adapters.webhooks.targets import CheckedTargets
from domain.entities import Engine, Instance, InstanceStatus, WebhookSettings
from domain.webhook_dispatcher import WebhookDispatcher
from domain.webhook_targets import PrivateTargets, WebhookTarget, WebhookTargetPolicy
from domain.webhooks import AttemptResult, DeliveryStatus, WebhookDelivery
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


def delivery(delivery_id: str, instance_id: str = "inst", retries: int = 0) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery_id,
        instance_id=instance_id,
        event_id=None,
        event="connected",
        url="http://127.0.0.1:9/hook",
        body='{"event":"connected"}',
        status=DeliveryStatus.PENDING,
        attempts=0,
        max_attempts=1 + retries,
        retry_interval_ms=100,
        next_attempt_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


async def add(storage: MemoryStorage, item: WebhookDelivery) -> None:
    async with storage.unit_of_work() as uow:
        await uow.webhooks.add(item)
        await uow.commit()


async def add_instance(storage: MemoryStorage) -> None:
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


def racing_outbox(
    storage: MemoryStorage, during_read: Callable[[list[WebhookDelivery]], Any]
) -> tuple[Callable[..., MemoryUnitOfWork], list[int]]:
    """A unit-of-work factory whose outbox reads call `during_read(found)` (once) after the
    read's snapshot was taken, before it answers; and the count of reads made."""
    reads: list[int] = []

    class RacingUnitOfWork(MemoryUnitOfWork):
        async def __aenter__(self) -> MemoryUnitOfWork:
            uow = await super().__aenter__()
            pending = uow.webhooks.pending

            async def racing_pending(instance_id: str, limit: int) -> Any:
                found = await pending(instance_id, limit)
                reads.append(len(found))
                if len(reads) == 1:
                    await during_read(found)
                return found

            uow.webhooks.pending = racing_pending  # type: ignore[method-assign]
            return uow

    def unit_of_work(*, read_only: bool = False) -> MemoryUnitOfWork:
        return RacingUnitOfWork(storage.state, read_only)

    return unit_of_work, reads


def statuses(storage: MemoryStorage) -> dict[str, DeliveryStatus]:
    return {d.id: d.status for d in storage.state.webhooks.values()}


async def test_a_wake_during_the_outbox_read_is_not_lost() -> None:
    """A manual retry (or anything that wakes the lane) while the worker reads the outbox
    makes it read again: the row that changed is sent at once, not at the next poll."""
    storage = MemoryStorage()
    await add_instance(storage)
    dispatcher: WebhookDispatcher

    async def commit_second(found: list[WebhookDelivery]) -> None:
        await add(storage, delivery("second"))
        dispatcher.wake("inst")

    unit_of_work, reads = racing_outbox(storage, commit_second)
    transport = RecordingTransport()
    # No poll loop is started: only wake() can get a delivery going.
    dispatcher = WebhookDispatcher(
        unit_of_work, transport, FakeClock(NOW), ALLOW, poll_interval_s=60
    )
    try:
        await add(storage, delivery("first"))
        dispatcher.wake("inst")
        await transport.wait_for(2)  # a lost wake-up would leave "second" waiting for a poll
        assert transport.posted == ["first", "second"]
        assert reads[0] == 1 and len(reads) >= 2
    finally:
        await dispatcher.close()
    assert statuses(storage) == {
        "first": DeliveryStatus.SUCCEEDED,
        "second": DeliveryStatus.SUCCEEDED,
    }


async def test_hand_offs_during_the_outbox_read_are_sent_once_in_commit_order() -> None:
    """What is handed over while the outbox is read is either in what the read found
    (committed before its snapshot: sent once) or newer than all of it (sent after it)."""
    storage = MemoryStorage()
    await add_instance(storage)
    dispatcher: WebhookDispatcher

    async def commit_during_read(found: list[WebhookDelivery]) -> None:
        # "first" was committed before the read began; its hand-off comes only now.
        dispatcher.handoff("inst", [delivery("first")])
        await add(storage, delivery("second"))
        dispatcher.handoff("inst", [delivery("second")])

    unit_of_work, reads = racing_outbox(storage, commit_during_read)
    transport = RecordingTransport()
    dispatcher = WebhookDispatcher(
        unit_of_work, transport, FakeClock(NOW), ALLOW, poll_interval_s=60
    )
    try:
        await add(storage, delivery("first"))
        dispatcher.wake("inst")
        await transport.wait_for(2)
        await add(storage, delivery("third"))
        dispatcher.handoff("inst", [delivery("third")])
        await transport.wait_for(3)
        await asyncio.sleep(0.05)  # room for a stray repeat to show up
        assert transport.posted == ["first", "second", "third"]
        assert reads == [1]  # after the one read, hand-offs alone
    finally:
        await dispatcher.close()
    assert set(statuses(storage).values()) == {DeliveryStatus.SUCCEEDED}


async def test_handed_deliveries_are_sent_without_reading_the_outbox_and_marked_on_close() -> None:
    storage = MemoryStorage()
    await add_instance(storage)
    unit_of_work, reads = racing_outbox(storage, lambda found: asyncio.sleep(0))
    transport = RecordingTransport()
    dispatcher = WebhookDispatcher(
        unit_of_work, transport, FakeClock(NOW), ALLOW, poll_interval_s=60
    )
    ids = [f"d{n:03d}" for n in range(50)]
    try:
        for delivery_id in ids:
            await add(storage, delivery(delivery_id))
            dispatcher.handoff("inst", [delivery(delivery_id)])
        await transport.wait_for(len(ids))
        assert transport.posted == ids
        assert len(reads) == 1  # the lane's first read, when it knew nothing yet
    finally:
        await dispatcher.close()  # outcomes not stored yet are stored before it returns
    assert statuses(storage) == dict.fromkeys(ids, DeliveryStatus.SUCCEEDED)


class FailingOnce(RecordingTransport):
    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        await super().post(target, body, headers)
        if headers["X-Webhook-Id"] == self.failing and self.posted.count(self.failing) == 1:
            return AttemptResult(500, "HTTP 500", 1)
        return AttemptResult(200, None, 1)


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def test_a_failed_head_holds_the_handed_ones_behind_it_until_its_retry() -> None:
    storage = MemoryStorage()
    await add_instance(storage)
    transport = FailingOnce("a")
    dispatcher = WebhookDispatcher(
        storage.unit_of_work, transport, WallClock(), ALLOW, poll_interval_s=60
    )
    try:
        dispatcher.wake("inst")  # the lane reads an empty outbox: from now on it is handed all
        for delivery_id in ("a", "b", "c"):
            await add(storage, delivery(delivery_id, retries=1))
            dispatcher.handoff("inst", [delivery(delivery_id, retries=1)])
        await transport.wait_for(4)
        assert transport.posted == ["a", "a", "b", "c"]
    finally:
        await dispatcher.close()
    assert statuses(storage) == dict.fromkeys("abc", DeliveryStatus.SUCCEEDED)
    assert storage.state.webhooks["a"].attempts == 2


async def test_a_hand_off_that_comes_after_a_read_which_saw_its_delivery_is_dropped() -> None:
    """The read of the outbox can see a delivery committed and end before the committing
    task resumes to hand it over: that late hand-off must not send it a second time."""
    storage = MemoryStorage()
    await add_instance(storage)
    transport = RecordingTransport()
    dispatcher = WebhookDispatcher(
        storage.unit_of_work, transport, FakeClock(NOW), ALLOW, poll_interval_s=60
    )
    try:
        await add(storage, delivery("first"))
        dispatcher.wake("inst")  # the lane reads the outbox: "first" is in it
        await transport.wait_for(1)
        dispatcher.handoff("inst", [delivery("first")])  # its hand-off, late
        await add(storage, delivery("second"))
        dispatcher.handoff("inst", [delivery("second")])
        await transport.wait_for(2)
        await asyncio.sleep(0.05)  # room for a stray repeat to show up
        assert transport.posted == ["first", "second"]
    finally:
        await dispatcher.close()
    assert statuses(storage) == {
        "first": DeliveryStatus.SUCCEEDED,
        "second": DeliveryStatus.SUCCEEDED,
    }
