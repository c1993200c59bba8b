"""The storage contract for the webhook outbox and the usage counters: every backend alike.

The dispatcher's and the usage unit tests run on the in-memory fake; these tests are what
make the fake's answers the same as SQLite's."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from domain.ports import USAGE_COUNTERS
from domain.webhooks import DeliveryStatus, WebhookDelivery
from tests.contract.test_storage_contract import T0, instance, user

DAY = date(2023, 1, 1)
ZERO = dict.fromkeys(USAGE_COUNTERS, 0)


async def _two_instances(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.instances.add(instance(2))
        await uow.commit()


def delivery(
    n: int,
    *,
    instance_id: str = "i1",
    event: str = "message_received",
    status: DeliveryStatus = DeliveryStatus.PENDING,
) -> WebhookDelivery:
    return WebhookDelivery(
        id=f"{instance_id}-d{n:02d}",
        instance_id=instance_id,
        event_id=f"e{n}",
        event=event,
        url="https://example.com/hook",
        body=f'{{"event":"{event}","n":{n},"text":"你好"}}',
        status=status,
        attempts=0,
        max_attempts=3,
        retry_interval_ms=1000,
        next_attempt_at=T0 + timedelta(seconds=n),
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n),
    )


async def _add_deliveries(storage: Any, *items: WebhookDelivery) -> None:
    async with storage.unit_of_work() as uow:
        for item in items:
            await uow.webhooks.add(item)
        await uow.commit()


# --- webhook outbox --------------------------------------------------------------------


async def test_delivery_round_trip_within_its_instance(storage: Any) -> None:
    await _two_instances(storage)
    await _add_deliveries(storage, delivery(1))
    async with storage.unit_of_work() as uow:
        got = await uow.webhooks.get("i1", "i1-d01")
        assert got is not None and got.seq > 0
        got.seq = 0  # assigned by the storage, in insertion order
        assert got == delivery(1)
        assert got.next_attempt_at.tzinfo is not None
        # Another instance's delivery is not found, exactly like a missing one.
        assert await uow.webhooks.get("i2", "i1-d01") is None
        assert await uow.webhooks.get("i1", "nope") is None


async def test_delivery_update_persists_every_field_and_keeps_its_order(storage: Any) -> None:
    await _two_instances(storage)
    await _add_deliveries(storage, delivery(1), delivery(2))
    async with storage.unit_of_work() as uow:
        first = await uow.webhooks.get("i1", "i1-d01")
        seq = first.seq
        first.status = DeliveryStatus.SUCCEEDED
        first.attempts = 2
        first.last_status_code = 200
        first.last_error = None
        first.last_duration_ms = 12
        first.delivered_at = T0 + timedelta(minutes=1)
        first.updated_at = T0 + timedelta(minutes=1)
        first.next_attempt_at = T0 + timedelta(minutes=2)
        await uow.webhooks.update(first)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        again = await uow.webhooks.get("i1", "i1-d01")
        assert again == first and again.seq == seq
        newest, total = await uow.webhooks.list("i1", status=None, event=None, limit=10, skip=0)
        assert total == 2 and [d.id for d in newest] == ["i1-d02", "i1-d01"]


async def test_update_many_stores_each_delivery_of_a_batch_and_nothing_else(
    storage: Any,
) -> None:
    await _two_instances(storage)
    await _add_deliveries(
        storage, delivery(1), delivery(2), delivery(3), delivery(1, instance_id="i2")
    )
    async with storage.unit_of_work() as uow:
        batch = await uow.webhooks.pending("i1", 2)
        for n, item in enumerate(batch):
            item.status = DeliveryStatus.SUCCEEDED if n == 0 else DeliveryStatus.PENDING
            item.attempts = n + 1
            item.last_status_code = 200 if n == 0 else 503
            item.last_error = None if n == 0 else "HTTP 503"
            item.last_duration_ms = 5 + n
            item.delivered_at = T0 + timedelta(minutes=1) if n == 0 else None
            item.next_attempt_at = item.updated_at = T0 + timedelta(minutes=2 + n)
        await uow.webhooks.update_many(batch)
        await uow.webhooks.update_many([])
        await uow.commit()
    async with storage.unit_of_work() as uow:
        stored = [await uow.webhooks.get("i1", d.id) for d in batch]
        assert stored == batch
        untouched = await uow.webhooks.get("i1", "i1-d03")
        other = await uow.webhooks.get("i2", "i2-d01")
        assert untouched is not None and untouched.attempts == 0
        assert other is not None and other.status is DeliveryStatus.PENDING
        assert [d.id for d in await uow.webhooks.pending("i1", 10)] == ["i1-d02", "i1-d03"]


async def test_pending_is_oldest_first_per_instance_and_limited(storage: Any) -> None:
    await _two_instances(storage)
    await _add_deliveries(
        storage,
        delivery(3),
        delivery(1, instance_id="i2"),
        delivery(1),
        delivery(2, status=DeliveryStatus.FAILED),
        delivery(4),
    )
    async with storage.unit_of_work() as uow:
        # Insertion order, not the ids' or the timestamps' order.
        assert [d.id for d in await uow.webhooks.pending("i1", 10)] == [
            "i1-d03",
            "i1-d01",
            "i1-d04",
        ]
        assert [d.id for d in await uow.webhooks.pending("i1", 2)] == ["i1-d03", "i1-d01"]
        assert sorted(await uow.webhooks.pending_instances()) == ["i1", "i2"]
        done = await uow.webhooks.get("i2", "i2-d01")
        done.status = DeliveryStatus.SUCCEEDED
        await uow.webhooks.update(done)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.webhooks.pending_instances() == ["i1"]
        assert await uow.webhooks.pending("i2", 10) == []


async def test_delivery_list_filters_newest_first_with_pages(storage: Any) -> None:
    await _two_instances(storage)
    await _add_deliveries(
        storage,
        delivery(1, event="connected"),
        delivery(2, status=DeliveryStatus.FAILED),
        delivery(3),
        delivery(4, status=DeliveryStatus.SUCCEEDED),
        delivery(1, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:

        async def ids(**filters: Any) -> tuple[list[str], int]:
            query = {"status": None, "event": None, "limit": 10, "skip": 0, **filters}
            found, total = await uow.webhooks.list("i1", **query)
            return [d.id for d in found], total

        assert await ids() == (["i1-d04", "i1-d03", "i1-d02", "i1-d01"], 4)
        assert await ids(limit=2, skip=1) == (["i1-d03", "i1-d02"], 4)
        assert await ids(status="pending") == (["i1-d03", "i1-d01"], 2)
        assert await ids(event="message_received") == (["i1-d04", "i1-d03", "i1-d02"], 3)
        assert await ids(status="failed", event="message_received") == (["i1-d02"], 1)
        assert await ids(status="succeeded", event="connected") == ([], 0)


async def test_uncommitted_deliveries_vanish(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        await uow.webhooks.add(delivery(1))
        # no commit
    async with storage.unit_of_work() as uow:
        assert await uow.webhooks.get("i1", "i1-d01") is None
        assert await uow.webhooks.pending_instances() == []


async def test_a_delivery_needs_its_instance(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        with pytest.raises((ValueError, IntegrityError)):
            await uow.webhooks.add(delivery(1, instance_id="missing"))
            await uow.commit()  # a backend may hold writes back until the commit (SQLite's)


# --- usage counters --------------------------------------------------------------------


async def test_counters_add_up_per_instance_and_day(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        assert await uow.usage.day("i1", DAY) == ZERO
        await uow.usage.add("i1", DAY, {"messages_sent": 2, "media_bytes": 1000})
        await uow.usage.add("i1", DAY, {"messages_sent": 1, "api_calls": 0})
        await uow.usage.add("i1", DAY + timedelta(days=1), {"messages_received": 5})
        await uow.usage.add("i2", DAY, {"messages_sent": 7})
        await uow.usage.add("i2", DAY, {"messages_sent": 0})  # nothing to add: no effect
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.usage.day("i1", DAY) == {**ZERO, "messages_sent": 3, "media_bytes": 1000}
        assert await uow.usage.day("i1", DAY + timedelta(days=1)) == {
            **ZERO,
            "messages_received": 5,
        }
        assert await uow.usage.day("i2", DAY) == {**ZERO, "messages_sent": 7}
        assert await uow.usage.day("i2", DAY - timedelta(days=1)) == ZERO


async def test_try_add_stops_at_the_cap_and_leaves_the_counter_unchanged(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        assert await uow.usage.try_add("i1", DAY, "api_calls", 1, 3) == 1
        assert await uow.usage.try_add("i1", DAY, "api_calls", 2, 3) == 3  # reaching it is fine
        assert await uow.usage.try_add("i1", DAY, "api_calls", 1, 3) is None  # passing it is not
        assert await uow.usage.try_add("i1", DAY, "media_sent", 5, 4) is None
        await uow.usage.add("i1", DAY, {"messages_sent": 1})
        await uow.commit()
    async with storage.unit_of_work() as uow:
        # Refusals added nothing; other counters and other days are untouched.
        assert await uow.usage.day("i1", DAY) == {**ZERO, "api_calls": 3, "messages_sent": 1}
        assert await uow.usage.try_add("i1", DAY + timedelta(days=1), "api_calls", 1, 3) == 1
        assert await uow.usage.try_add("i2", DAY, "api_calls", 3, 3) == 3
        assert await uow.usage.try_add("i1", DAY, "api_calls", 0, 3) == 3
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert (await uow.usage.day("i1", DAY))["api_calls"] == 3
        assert (await uow.usage.day("i2", DAY))["api_calls"] == 3


async def test_daily_rows_oldest_first_from_a_day_on(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        for offset, sent in ((2, 20), (0, 1), (1, 10)):
            await uow.usage.add("i1", DAY + timedelta(days=offset), {"messages_sent": sent})
        await uow.usage.add("i2", DAY, {"messages_sent": 99})
        await uow.commit()
    async with storage.unit_of_work() as uow:
        everything = await uow.usage.daily("i1", None)
        assert [(d, c["messages_sent"]) for d, c in everything] == [
            (DAY, 1),
            (DAY + timedelta(days=1), 10),
            (DAY + timedelta(days=2), 20),
        ]
        assert everything[0][1] == {**ZERO, "messages_sent": 1}
        recent = await uow.usage.daily("i1", DAY + timedelta(days=1))
        assert [d for d, _ in recent] == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
        assert await uow.usage.daily("i1", DAY + timedelta(days=3)) == []


async def test_totals_sum_per_instance_since_a_day(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        await uow.usage.add("i1", DAY, {"messages_sent": 1, "webhook_sent": 4})
        await uow.usage.add("i1", DAY + timedelta(days=1), {"messages_sent": 2})
        await uow.usage.add("i2", DAY, {"media_bytes": 3_000_000_000})  # past 32 bits
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.usage.totals(None, None) == {
            "i1": {**ZERO, "messages_sent": 3, "webhook_sent": 4},
            "i2": {**ZERO, "media_bytes": 3_000_000_000},
        }
        assert await uow.usage.totals(["i1"], DAY + timedelta(days=1)) == {
            "i1": {**ZERO, "messages_sent": 2}
        }
        # An instance without rows in the period is absent, not zero.
        assert await uow.usage.totals(["i2"], DAY + timedelta(days=1)) == {}
        assert await uow.usage.totals([], None) == {}


async def test_first_notice_is_true_once_per_instance_day_and_limit(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        assert await uow.usage.first_notice("i1", DAY, "maxApiCalls") is True
        assert await uow.usage.first_notice("i1", DAY, "maxApiCalls") is False
        assert await uow.usage.first_notice("i1", DAY, "maxMessagesSent") is True
        assert await uow.usage.first_notice("i2", DAY, "maxApiCalls") is True
        assert await uow.usage.first_notice("i1", DAY + timedelta(days=1), "maxApiCalls") is True
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.usage.first_notice("i1", DAY, "maxApiCalls") is False
        assert await uow.usage.first_notice("i1", DAY, "maxMediaSent") is True
        # not committed: the notice is forgotten with the transaction
    async with storage.unit_of_work() as uow:
        assert await uow.usage.first_notice("i1", DAY, "maxMediaSent") is True


async def test_counters_need_their_instance(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        with pytest.raises((ValueError, IntegrityError)):
            await uow.usage.add("missing", DAY, {"messages_sent": 1})
            await uow.commit()
    async with storage.unit_of_work() as uow:
        with pytest.raises((ValueError, IntegrityError)):
            await uow.usage.first_notice("missing", DAY, "maxApiCalls")


async def test_deleting_an_instance_removes_its_outbox_counters_and_notices(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        for iid in ("i1", "i2"):
            await uow.webhooks.add(delivery(1, instance_id=iid))
            await uow.usage.add(iid, DAY, {"messages_sent": 1})
            await uow.usage.first_notice(iid, DAY, "maxApiCalls")
        await uow.commit()
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.webhooks.get("i1", "i1-d01") is None
        assert await uow.webhooks.pending_instances() == ["i2"]
        assert await uow.usage.daily("i1", None) == []
        assert set(await uow.usage.totals(None, None)) == {"i2"}
        assert await uow.webhooks.get("i2", "i2-d01") is not None
        assert await uow.usage.first_notice("i2", DAY, "maxApiCalls") is False
        # The same id again starts clean: its old notice went with it.
        await uow.instances.add(instance(1))
        assert await uow.usage.first_notice("i1", DAY, "maxApiCalls") is True
        assert await uow.usage.day("i1", DAY) == ZERO
