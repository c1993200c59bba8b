"""The live switch's catch-up on every real backend: each way a record changes after the bulk
copy's snapshot (every write path of every kind: in place, added, deleted with what it owns)
is found by the kind's delta rule (domain/record_copy.py), and the catch-up makes the target
equal to the source again while writing only what changed.

Source and target are two fresh databases of the same provider, so each provider's `since`,
`upsert` and `delete` are the ones proven."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.security import FernetBox
from adapters.storage.sql.inventory import SqlInventory
from adapters.storage.sql.tables import metadata
from adapters.storage.sql.uow import SqlStorage
from domain.entities import ActivityLog, Event, EventType, Media, MessageStatus
from domain.ports import RecordInventory
from domain.record_copy import CATCH_UP, Mirror, _by_key, catch_up, copy_records, same_records
from domain.times import to_ms
from domain.webhooks import DeliveryStatus
from tests.contract.test_messaging_contract import ALICE, BOB, CAROL, contact, message
from tests.contract.test_outbox_usage_contract import delivery
from tests.contract.test_storage_contract import T0, instance, user
from tests.services import postgres

# The bulk snapshot began here; every change below is stamped at or after it.
WATERMARK = T0 + timedelta(days=10)
NOW = WATERMARK + timedelta(seconds=1)


@dataclass
class Side:
    storage: Any
    inventory: RecordInventory


@asynccontextmanager
async def _database(provider: str, path: Path) -> AsyncIterator[Side]:
    box = FernetBox("contract")
    if provider == "mongodb":
        from adapters.storage.mongo.inventory import MongoInventory
        from adapters.storage.mongo.uow import MongoStorage
        from tests.services.mongo import fresh_url

        mongo = MongoStorage(await fresh_url(), box)
        await mongo.migrate()
        try:
            yield Side(mongo, MongoInventory(mongo))
        finally:
            await mongo.client.drop_database(mongo.database)
            await mongo.close()
        return
    if provider == "postgresql":
        async with postgres.fresh_storage(box) as pg:
            yield Side(pg, SqlInventory(pg))
        return
    sql = SqlStorage(f"sqlite+aiosqlite:///{path}", box)
    await sql.migrate()
    try:
        yield Side(sql, SqlInventory(sql))
    finally:
        await sql.close()


@pytest.fixture(params=["sqlite", "postgresql", "mongodb"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Side, Side]]:
    async with AsyncExitStack() as stack:
        source = await stack.enter_async_context(_database(request.param, tmp_path / "a.db"))
        target = await stack.enter_async_context(_database(request.param, tmp_path / "b.db"))
        yield source, target


async def _seed(storage: Any) -> None:
    """Records of every kind, all stamped long before the watermark."""
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.users.add(user(2))
        await uow.instances.add(instance(1, "u1"))
        await uow.instances.add(instance(2, "u1"))
        await uow.instances.add(instance(3, "u2"))
        for i in ("i1", "i2", "i3"):
            await uow.messages.add(message(1, ALICE, instance_id=i))
            await uow.messages.add(message(2, BOB, instance_id=i, from_me=True))
            await uow.contacts.upsert(contact(1, ALICE, name="Alice", instance_id=i))
            await uow.webhooks.add(delivery(1, instance_id=i))
            await uow.webhooks.add(delivery(2, instance_id=i))
            await uow.events.add(
                Event(f"{i}-e1", i, EventType.MESSAGE_RECEIVED, {"n": 1}, to_ms(T0))
            )
            await uow.activity.add(ActivityLog(f"{i}-a1", i, "created", {}, T0))
            await uow.media.add(Media(f"{i}-f1", i, "image/png", "a.png", 3, "ab" * 32, T0))
            await uow.usage.add(i, T0.date(), {"messages_sent": 2})
            await uow.usage.first_notice(i, T0.date(), "messages")
        await uow.commit()


async def _conversations(storage: Any) -> dict[str, tuple[list[str], int]]:
    """Each instance's conversation list (its chats, and the total it answers)."""
    found = {}
    async with storage.unit_of_work(read_only=True) as uow:
        for i in ("i1", "i2", "i3"):
            chats, total = await uow.messages.chats(i, limit=50, skip=0)
            found[i] = ([c.remote_jid for c in chats], total)
    return found


Mutation = Callable[[Any], Awaitable[None]]


async def _in_unit(storage: Any, change: Callable[[Any], Awaitable[Any]]) -> None:
    async with storage.unit_of_work() as uow:
        await change(uow)
        await uow.commit()


async def _message_edited(uow: Any) -> None:
    found = await uow.messages.get("i1", message(1, ALICE).message_id)
    found.content, found.metadata, found.updated_at = "edited", {"edited": True}, NOW
    await uow.messages.update(found)


async def _message_moved(uow: Any) -> None:
    # To another chat: ALICE's chat summary goes (its only message left), CAROL's comes.
    found = await uow.messages.get("i1", message(1, ALICE).message_id)
    found.remote_jid, found.updated_at = CAROL, NOW
    await uow.messages.update(found)


async def _message_failed(uow: Any) -> None:
    found = await uow.messages.get("i1", message(2, BOB).message_id)
    found.status, found.status_updated_at, found.updated_at = MessageStatus.FAILED, NOW, NOW
    await uow.messages.update(found)


async def _receipt(uow: Any) -> None:
    ids = [message(2, BOB).message_id]
    assert await uow.messages.advance_outgoing("i1", ids, MessageStatus.DELIVERED, NOW)


async def _chat_read(uow: Any) -> None:
    await uow.messages.set_status("i1", [message(1, ALICE).message_id], MessageStatus.READ, NOW)


async def _chat_marked_unread(uow: Any) -> None:
    assert await uow.messages.set_marked_unread("i1", ALICE, True) is False


async def _message_added(uow: Any) -> None:
    added = replace(message(3, ALICE), created_at=NOW, updated_at=NOW, status_updated_at=NOW)
    await uow.messages.add(added)


async def _chat_started(uow: Any) -> None:
    # A conversation of its own: the instance has one chat more.
    added = replace(message(4, CAROL), created_at=NOW, updated_at=NOW, status_updated_at=NOW)
    await uow.messages.add(added)


async def _contact_saved(uow: Any) -> None:
    saved = replace(contact(1, ALICE, name="Alice B."), updated_at=NOW)
    await uow.contacts.upsert(saved)


async def _contact_touched(uow: Any) -> None:
    known = replace(contact(1, ALICE), push_name="Al", last_activity=NOW, updated_at=NOW)
    await uow.contacts.touch(known)


async def _contact_made_by_touch(uow: Any) -> None:
    new = replace(contact(5, BOB), created_at=NOW, updated_at=NOW, last_activity=NOW)
    await uow.contacts.touch(new)


async def _delivery_attempted(uow: Any) -> None:
    found = await uow.webhooks.get("i1", delivery(1).id)
    found.status, found.attempts, found.updated_at = DeliveryStatus.SUCCEEDED, 1, NOW
    found.delivered_at, found.last_status_code = NOW, 200
    await uow.webhooks.update(found)


async def _deliveries_attempted(uow: Any) -> None:
    both = [await uow.webhooks.get("i1", delivery(n).id) for n in (1, 2)]
    for d in both:
        d.attempts, d.last_error, d.updated_at, d.next_attempt_at = 1, "refused", NOW, NOW
    await uow.webhooks.update_many(both)


async def _delivery_added(uow: Any) -> None:
    await uow.webhooks.add(replace(delivery(3), created_at=NOW, updated_at=NOW))


async def _event_added(uow: Any) -> None:
    await uow.events.add(Event("i1-e2", "i1", EventType.MESSAGE_SENT, {"n": 2}, to_ms(NOW)))


async def _activity_added(uow: Any) -> None:
    await uow.activity.add(ActivityLog("i1-a2", "i1", "renamed", {"to": "x"}, NOW))


async def _media_added(uow: Any) -> None:
    await uow.media.add(Media("i1-f2", "i1", "image/png", "b.png", 4, "cd" * 32, NOW))


async def _usage_counted(uow: Any) -> None:
    await uow.usage.add("i1", NOW.date(), {"messages_sent": 1, "api_calls": 1})


async def _usage_given_back(uow: Any) -> None:
    # A send that failed just after midnight gives back the day before's allowance.
    await uow.usage.add("i1", (NOW - timedelta(days=1)).date(), {"messages_sent": -1})


async def _limit_noticed(uow: Any) -> None:
    assert await uow.usage.first_notice("i1", NOW.date(), "messages") is True


async def _instance_renamed(uow: Any) -> None:
    found = await uow.instances.get("i1")
    await uow.instances.update(replace(found, name="renamed", updated_at=NOW))


async def _instance_deleted(uow: Any) -> None:
    await uow.instances.delete("i2")


async def _user_updated(uow: Any) -> None:
    found = await uow.users.get("u1")
    await uow.users.update(replace(found, first_name="Renamed", updated_at=NOW))


async def _user_logged_in(uow: Any) -> None:
    await uow.users.record_login("u1", NOW)  # no updated_at: users are compared whole


async def _user_deleted(uow: Any) -> None:
    await uow.users.delete("u2")  # with instance i3 and everything it owns


# Each change, and the kinds the catch-up must write (or delete) for it.
MUTATIONS: dict[str, tuple[Mutation, set[str]]] = {
    "message_edited": (_message_edited, {"messages"}),
    "message_moved": (_message_moved, {"messages", "chat_summaries"}),
    "message_failed": (_message_failed, {"messages"}),
    "receipt": (_receipt, {"messages"}),
    "chat_read": (_chat_read, {"messages", "chat_summaries"}),
    "chat_marked_unread": (_chat_marked_unread, {"chat_summaries"}),
    "message_added": (_message_added, {"messages", "chat_summaries"}),
    "chat_started": (_chat_started, {"messages", "chat_summaries"}),
    "contact_saved": (_contact_saved, {"contacts"}),
    "contact_touched": (_contact_touched, {"contacts"}),
    "contact_made_by_touch": (_contact_made_by_touch, {"contacts"}),
    "delivery_attempted": (_delivery_attempted, {"webhook_deliveries"}),
    "deliveries_attempted": (_deliveries_attempted, {"webhook_deliveries"}),
    "delivery_added": (_delivery_added, {"webhook_deliveries"}),
    "event_added": (_event_added, {"events"}),
    "activity_added": (_activity_added, {"activity_logs"}),
    "media_added": (_media_added, {"media"}),
    "usage_counted": (_usage_counted, {"usage_daily"}),
    "usage_given_back": (_usage_given_back, {"usage_daily"}),
    "limit_noticed": (_limit_noticed, {"limit_notices"}),
    "instance_renamed": (_instance_renamed, {"instances"}),
    # The removed instance's chat summaries are named in the comparison too.
    "instance_deleted": (_instance_deleted, {"instances", "chat_summaries"}),
    "user_updated": (_user_updated, {"users"}),
    "user_logged_in": (_user_logged_in, {"users"}),
    "user_deleted": (_user_deleted, {"users", "instances", "chat_summaries"}),
}


def test_every_kind_has_a_catch_up_rule() -> None:
    assert sorted(CATCH_UP) == sorted(t.name for t in metadata.sorted_tables)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_a_change_after_the_snapshot_is_caught_up(pair: tuple[Side, Side], name: str) -> None:
    source, target = pair
    mutate, kinds = MUTATIONS[name]
    await _seed(source.storage)
    mirror: Mirror = {}  # as a switch does: the target's whole-compared kinds, as written
    await copy_records(source.inventory, target.inventory, mirror=mirror)
    assert await same_records(source.inventory, target.inventory)

    await _in_unit(source.storage, mutate)
    assert not await same_records(source.inventory, target.inventory)  # a real change

    done = await catch_up(source.inventory, target.inventory, WATERMARK, mirror)
    assert await same_records(source.inventory, target.inventory)
    async with target.inventory.snapshot() as snap:
        for kind, held in mirror.items():  # still what the target holds
            assert held == await _by_key(snap, target.inventory, kind), kind
    touched = {k for k, n in (done.written | done.deleted).items() if n}
    assert touched == kinds, done
    # What a backend keeps beside the records (MongoDB's per-instance chat counts) follows.
    assert await _conversations(target.storage) == await _conversations(source.storage)
    # Only what changed travels: the seeded records are older than the watermark.
    assert sum(done.written.values()) <= 4, done


async def test_nothing_changed_means_nothing_written(pair: tuple[Side, Side]) -> None:
    source, target = pair
    await _seed(source.storage)
    await copy_records(source.inventory, target.inventory)
    done = await catch_up(source.inventory, target.inventory, WATERMARK)
    assert done.total == 0, done
    assert await same_records(source.inventory, target.inventory)


async def test_a_user_deleted_and_its_email_taken_again_is_caught_up(
    pair: tuple[Side, Side],
) -> None:
    source, target = pair
    await _seed(source.storage)
    await copy_records(source.inventory, target.inventory)

    async def again(uow: Any) -> None:
        await uow.users.delete("u2")
        taken = replace(user(2), id="u9", created_at=NOW, updated_at=NOW)
        await uow.users.add(taken)  # the same email and API key hash as u2's

    await _in_unit(source.storage, again)
    done = await catch_up(source.inventory, target.inventory, WATERMARK)
    assert await same_records(source.inventory, target.inventory)
    assert done.deleted["users"] == 1 and done.written["users"] == 1
