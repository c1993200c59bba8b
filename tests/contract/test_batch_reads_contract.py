"""The batch reads behind GraphQL's DataLoaders: many ids in, one answer per id, alike on
every backend, and keyset pages that neither repeat nor skip when rows arrive between them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.test_messaging_contract import (
    ALICE,
    BOB,
    CAROL,
    _add_contacts,
    _add_messages,
    _two_instances,
    contact,
    message,
)
from tests.contract.test_storage_contract import T0, user


async def test_users_get_many_answers_the_existing_ones(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.users.add(user(2))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        found = await uow.users.get_many(["u2", "u1", "u9", "u1"])
        assert sorted(found) == ["u1", "u2"]
        assert found["u2"].email == "u2@example.com"
        assert await uow.users.get_many([]) == {}


async def test_messages_get_many_is_keyed_by_instance_and_whatsapp_id(storage: Any) -> None:
    await _two_instances(storage)
    other = message(1, instance_id="i2")
    other.content = "from instance 2"
    await _add_messages(storage, message(1), message(2), other)
    async with storage.unit_of_work() as uow:
        found = await uow.messages.get_many(
            [("i1", "3EB00001"), ("i2", "3EB00001"), ("i1", "3EB0NOPE"), ("i9", "3EB00002")]
        )
        assert sorted(found) == [("i1", "3EB00001"), ("i2", "3EB00001")]
        assert found[("i2", "3EB00001")].content == "from instance 2"
        assert found[("i1", "3EB00001")] == message(1)
        assert await uow.messages.get_many([]) == {}


async def test_contacts_find_across_instances(storage: Any) -> None:
    await _two_instances(storage)
    await _add_contacts(
        storage,
        contact(1, ALICE, name="Alice"),
        contact(2, BOB, name="Bob in 2", instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        found = await uow.contacts.find([("i1", ALICE), ("i2", BOB), ("i1", BOB), ("i2", ALICE)])
        assert sorted(found) == [("i1", ALICE), ("i2", BOB)]
        assert found[("i2", BOB)].name == "Bob in 2"
        assert await uow.contacts.find([]) == {}


async def test_latest_pages_many_chats_newest_first_by_keyset(storage: Any) -> None:
    await _two_instances(storage)
    # Two messages share a minute: the row id breaks the tie, in both orders.
    await _add_messages(
        storage,
        message(1, ALICE, minute=1),
        message(2, ALICE, minute=2),
        message(3, ALICE, minute=2),
        message(4, ALICE, minute=4),
        message(5, BOB, minute=5),
        message(6, ALICE, minute=6, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        pages = await uow.messages.latest(
            [("i1", ALICE), ("i1", BOB), ("i2", ALICE), ("i1", CAROL)], before=None, limit=2
        )
        assert {k: [m.id for m in v] for k, v in pages.items()} == {
            ("i1", ALICE): ["i1-m04", "i1-m03"],
            ("i1", BOB): ["i1-m05"],
            ("i2", ALICE): ["i2-m06"],
            ("i1", CAROL): [],
        }
        last = pages[("i1", ALICE)][-1]
        after = await uow.messages.latest(
            [("i1", ALICE)], before=(last.created_at, last.id), limit=2
        )
        assert [m.id for m in after[("i1", ALICE)]] == ["i1-m02", "i1-m01"]
    # A message newer than the whole walk does not shift the next page.
    await _add_messages(storage, message(7, ALICE, minute=9))
    async with storage.unit_of_work() as uow:
        again = await uow.messages.latest(
            [("i1", ALICE)], before=(last.created_at, last.id), limit=5
        )
        assert [m.id for m in again[("i1", ALICE)]] == ["i1-m02", "i1-m01"]


async def test_recent_chats_of_many_instances_in_the_order_of_chats(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(1, ALICE, minute=1),
        message(2, BOB, minute=3),
        message(3, CAROL, minute=3),
        message(4, ALICE, minute=2, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        expected, _ = await uow.messages.chats("i1", limit=10, skip=0)
        found = await uow.messages.recent_chats(["i1", "i2", "i9"], before=None, limit=10)
        assert found["i1"] == expected
        assert [c.remote_jid for c in found["i1"]] == [BOB, CAROL, ALICE]
        assert [c.last_message.id for c in found["i2"]] == ["i2-m04"]
        assert found["i9"] == []
        first = await uow.messages.recent_chats(["i1"], before=None, limit=1)
        assert [c.remote_jid for c in first["i1"]] == [BOB]
        at = T0 + timedelta(minutes=3)
        rest = await uow.messages.recent_chats(["i1"], before=(at, BOB), limit=10)
        assert [c.remote_jid for c in rest["i1"]] == [CAROL, ALICE]
        assert rest["i1"][0].unread_count == 1 and rest["i1"][0].message_count == 1
