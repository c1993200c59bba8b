"""Keyset pages behind GraphQL's connections (activity, events, contacts, deliveries, users):
many instances in one read, one page each, and walks that rows added between two pages
neither shift nor repeat, alike on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.entities import ActivityLog, Event, EventType, MessageStatus
from domain.webhooks import DeliveryStatus
from tests.contract.test_messaging_contract import (
    ALICE,
    BOB,
    CAROL,
    GROUP,
    _add_contacts,
    _add_messages,
    _two_instances,
    contact,
    message,
)
from tests.contract.test_outbox_usage_contract import _add_deliveries, delivery
from tests.contract.test_storage_contract import T0, user


async def _add_activity(storage: Any, *logs: ActivityLog) -> None:
    async with storage.unit_of_work() as uow:
        for log in logs:
            await uow.activity.add(log)
        await uow.commit()


def _log(n: int, instance_id: str = "i1", action: str = "connected", at: int = 0) -> ActivityLog:
    return ActivityLog(
        f"{instance_id}-a{n:02d}", instance_id, action, {"n": n}, T0.replace(minute=at)
    )


async def test_activity_pages_by_keyset_per_instance_while_entries_arrive(storage: Any) -> None:
    await _two_instances(storage)
    # Two entries share a timestamp: the id breaks the tie.
    await _add_activity(
        storage,
        *(_log(n, at=n) for n in range(4)),
        _log(4, at=3),
        _log(1, "i2", action="created", at=1),
    )
    walk = dict(actions=None, start=None, end=None, limit=2)
    async with storage.unit_of_work() as uow:
        first = await uow.activity.latest(["i1", "i2", "i9"], before=None, **walk)
    assert [a.id for a in first["i1"]] == ["i1-a04", "i1-a03"]
    assert [a.id for a in first["i2"]] == ["i2-a01"] and first["i9"] == []
    assert first["i1"][0].details == {"n": 4}
    last = first["i1"][-1]
    await _add_activity(storage, _log(9, at=9))  # newer than the walk: not in later pages
    async with storage.unit_of_work() as uow:
        rest = await uow.activity.latest(["i1"], before=(last.created_at, last.id), **walk)
    assert [a.id for a in rest["i1"]] == ["i1-a02", "i1-a01"]
    async with storage.unit_of_work() as uow:
        found = await uow.activity.latest(
            ["i1"],
            actions=["connected"],
            start=T0.replace(minute=1),
            end=T0.replace(minute=3),
            before=None,
            limit=9,
        )
    assert [a.id for a in found["i1"]] == ["i1-a04", "i1-a03", "i1-a02", "i1-a01"]


async def test_events_since_many_reads_each_instance_with_its_own_types(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        kinds = [EventType.QR_RECEIVED, EventType.CONNECTED, EventType.DISCONNECTED]
        for n, kind in enumerate(kinds):
            await uow.events.add(Event(f"e{n}", "i1", kind, {"n": n}, 1000 + n))
            await uow.events.add(Event(f"f{n}", "i2", kind, {"n": n}, 1000 + n))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        found = await uow.events.since_many(
            [("i1", None), ("i2", [EventType.CONNECTED, EventType.DISCONNECTED]), ("i9", None)],
            since_ms=1000,
            limit=1,
        )
    assert [e.id for e in found["i1"][0]] == ["e1"] and found["i1"][1] is True
    assert [e.id for e in found["i2"][0]] == ["f1"] and found["i2"][1] is True
    assert found["i9"] == ([], False)
    async with storage.unit_of_work() as uow:
        found = await uow.events.since_many([("i1", None)], since_ms=1001, limit=5)
    assert [e.id for e in found["i1"][0]] == ["e2"] and found["i1"][1] is False
    assert found["i1"][0][0].data == {"n": 2}


async def test_events_since_many_newest_gives_the_last_page_oldest_first(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        for n in range(5):
            await uow.events.add(Event(f"e{n}", "i1", EventType.CONNECTED, {"n": n}, 1000 + n))
        await uow.events.add(Event("f0", "i2", EventType.QR_RECEIVED, {}, 1000))
        await uow.events.add(Event("f1", "i2", EventType.CONNECTED, {}, 1001))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        found = await uow.events.since_many(
            [("i1", None), ("i2", [EventType.QR_RECEIVED]), ("i9", None)],
            since_ms=None,
            limit=2,
            newest=True,
        )
    assert [e.id for e in found["i1"][0]] == ["e3", "e4"] and found["i1"][1] is True
    assert [e.id for e in found["i2"][0]] == ["f0"] and found["i2"][1] is False
    assert found["i9"] == ([], False)
    async with storage.unit_of_work() as uow:
        found = await uow.events.since_many([("i1", None)], since_ms=1002, limit=5, newest=True)
    assert [e.id for e in found["i1"][0]] == ["e3", "e4"] and found["i1"][1] is False


async def test_contact_pages_by_keyset_per_instance_while_contacts_arrive(storage: Any) -> None:
    await _two_instances(storage)
    await _add_contacts(
        storage,
        contact(1, ALICE, name="Alice"),
        contact(2, BOB, push_name="Bob"),
        contact(3, CAROL),  # by number
        contact(4, GROUP, name="Bob"),  # the same sort name as Bob: the id breaks the tie
        contact(5, ALICE, name="Zed", instance_id="i2"),
    )
    walk: dict[str, Any] = dict(search=None, only_groups=False, limit=2)
    async with storage.unit_of_work() as uow:
        first = await uow.contacts.page(["i1", "i2", "i9"], after=None, **walk)
    # Numbers sort before letters; then Alice, then the two Bobs by id.
    assert [c.id for c in first["i1"]] == ["i1-c03", "i1-c01"]
    assert [c.id for c in first["i2"]] == ["i2-c05"] and first["i9"] == []
    await _add_contacts(storage, contact(6, "15550009999@s.whatsapp.net", name="Aaron"))
    async with storage.unit_of_work() as uow:
        rest = await uow.contacts.page(["i1"], after=("Alice", "i1-c01"), **walk)
        more = await uow.contacts.page(["i1"], after=("Bob", "i1-c02"), **walk)
        groups = await uow.contacts.page(
            ["i1"], search="bob", only_groups=True, after=None, limit=5
        )
    assert [c.id for c in rest["i1"]] == ["i1-c02", "i1-c04"]
    assert [c.id for c in more["i1"]] == ["i1-c04"]
    assert [c.id for c in groups["i1"]] == ["i1-c04"]


async def test_delivery_pages_by_keyset_per_instance_while_deliveries_arrive(
    storage: Any,
) -> None:
    await _two_instances(storage)
    await _add_deliveries(
        storage,
        delivery(1),
        delivery(2, event="connected"),
        delivery(3, status=DeliveryStatus.FAILED),
        delivery(4, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        first = await uow.webhooks.latest(
            ["i1", "i2", "i9"], status=None, event=None, before_seq=None, limit=2
        )
    assert [d.id for d in first["i1"]] == ["i1-d03", "i1-d02"]
    assert [d.id for d in first["i2"]] == ["i2-d04"] and first["i9"] == []
    await _add_deliveries(storage, delivery(5))
    async with storage.unit_of_work() as uow:
        rest = await uow.webhooks.latest(
            ["i1"], status=None, event=None, before_seq=first["i1"][-1].seq, limit=2
        )
        pending = await uow.webhooks.latest(
            ["i1"], status="pending", event="message_received", before_seq=None, limit=9
        )
    assert [d.id for d in rest["i1"]] == ["i1-d01"]
    assert [d.id for d in pending["i1"]] == ["i1-d05", "i1-d01"]


async def test_user_pages_by_keyset_while_users_arrive(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        for n in (1, 2, 3):
            await uow.users.add(user(n))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        first = await uow.users.page(after=None, limit=2)
    assert [u.id for u in first] == ["u1", "u2"]
    async with storage.unit_of_work() as uow:
        early = user(0)
        early.created_at = T0 - timedelta(days=1)  # before the cursor: not seen again
        await uow.users.add(early)
        await uow.users.add(user(4))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        rest = await uow.users.page(after=(first[-1].created_at, first[-1].id), limit=5)
    assert [u.id for u in rest] == ["u3", "u4"]


async def test_chats_by_jid_answer_the_conversations_that_exist(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(1, ALICE, minute=1),
        message(2, ALICE, minute=2, from_me=True, status=MessageStatus.READ),
        message(3, BOB, minute=3),
        message(4, ALICE, minute=4, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        found = await uow.messages.chats_by_jid(
            [("i1", ALICE), ("i2", ALICE), ("i1", CAROL), ("i9", BOB), ("i1", ALICE)]
        )
        assert sorted(found) == [("i1", ALICE), ("i2", ALICE)]
        alice = found[("i1", ALICE)]
        assert alice.remote_jid == ALICE and alice.message_count == 2
        assert alice.unread_count == 1 and alice.marked_unread is False
        assert alice.last_message == message(
            2, ALICE, minute=2, from_me=True, status=MessageStatus.READ
        )
        assert found[("i2", ALICE)].last_message.id == "i2-m04"
        assert await uow.messages.chats_by_jid([]) == {}
