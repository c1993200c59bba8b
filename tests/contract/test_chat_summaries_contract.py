"""The conversation list is kept, not recomputed: every write keeps it equal to the history.

Each test checks `messages.chats()` against what the chat's own messages say (counted here
from `list_chat`, the history every backend answers), after adds, receipts, read marks,
rollbacks, moves and deletions, on every backend."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from domain.entities import Message, MessageStatus
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
from tests.contract.test_storage_contract import T0

JIDS = (ALICE, BOB, CAROL, GROUP)


async def _expected(storage: Any, instance_id: str) -> list[tuple[str, str, int, int]]:
    """(jid, last message row id, message count, unread count), most recent chat first,
    derived from each chat's full history."""
    found: list[tuple[Any, str, str, int, int]] = []
    async with storage.unit_of_work() as uow:
        for jid in JIDS:
            history, total = await uow.messages.list_chat(
                instance_id, jid, start=None, end=None, limit=100_000, skip=0
            )
            if history:
                unread = sum(1 for m in history if not m.from_me and m.status.value == "received")
                found.append((history[0].created_at, jid, history[0].id, total, unread))
    found.sort(key=lambda f: f[1])
    found.sort(key=lambda f: f[0], reverse=True)
    return [(jid, last, count, unread) for _, jid, last, count, unread in found]


async def _summaries(storage: Any, instance_id: str) -> list[tuple[str, str, int, int]]:
    async with storage.unit_of_work() as uow:
        chats, total = await uow.messages.chats(instance_id, limit=1000, skip=0)
    assert total == len(chats)
    return [(c.remote_jid, c.last_message.id, c.message_count, c.unread_count) for c in chats]


async def test_the_list_follows_adds_receipts_and_read_marks(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(1, ALICE, minute=1),
        message(2, ALICE, minute=2, from_me=True, status=MessageStatus.PENDING),
        message(3, BOB, minute=3),
        message(4, ALICE, minute=1),  # older than Alice's last: counted, not the last one
    )
    assert await _summaries(storage, "i1") == [(BOB, "i1-m03", 1, 1), (ALICE, "i1-m02", 3, 2)]
    async with storage.unit_of_work() as uow:
        sent = await uow.messages.get("i1", "3EB00002")
        sent.status = MessageStatus.READ  # a receipt on my own message: no unread change
        await uow.messages.update(sent)
        got = await uow.messages.get("i1", "3EB00001")
        got.status = MessageStatus.READ  # a received message read through update()
        await uow.messages.update(got)
        await uow.commit()
    assert await _summaries(storage, "i1") == [(BOB, "i1-m03", 1, 1), (ALICE, "i1-m02", 3, 1)]
    async with storage.unit_of_work() as uow:
        chats, _ = await uow.messages.chats("i1", limit=10, skip=0)
        assert chats[1].last_message.status is MessageStatus.READ  # read with the message
        await uow.messages.set_status("i1", ["3EB00003", "3EB00004"], MessageStatus.READ, T0)
        await uow.commit()
    assert await _summaries(storage, "i1") == [(BOB, "i1-m03", 1, 0), (ALICE, "i1-m02", 3, 0)]
    async with storage.unit_of_work() as uow:  # back to received: unread again
        await uow.messages.set_status("i1", ["3EB00003", "3EB00002"], MessageStatus.RECEIVED, T0)
        await uow.commit()
    assert await _summaries(storage, "i1") == [(BOB, "i1-m03", 1, 1), (ALICE, "i1-m02", 3, 0)]
    assert await _summaries(storage, "i1") == await _expected(storage, "i1")


async def test_a_rolled_back_write_leaves_the_list_as_it_was(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(storage, message(1, ALICE, minute=1))
    async with storage.unit_of_work() as uow:
        await uow.messages.add(message(2, ALICE, minute=5))
        await uow.messages.add(message(3, BOB, minute=6))
        await uow.messages.set_status("i1", ["3EB00001"], MessageStatus.READ, T0)
        # no commit
    assert await _summaries(storage, "i1") == [(ALICE, "i1-m01", 1, 1)]


async def test_a_message_moved_to_another_chat_or_time_is_recounted(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage, message(1, ALICE, minute=1), message(2, ALICE, minute=2), message(3, BOB, minute=3)
    )
    async with storage.unit_of_work() as uow:
        moved = await uow.messages.get("i1", "3EB00002")
        moved.remote_jid = CAROL
        await uow.messages.update(moved)
        older = await uow.messages.get("i1", "3EB00003")
        older.created_at = T0
        await uow.messages.update(older)
        await uow.commit()
    assert await _summaries(storage, "i1") == [
        (CAROL, "i1-m02", 1, 1),
        (ALICE, "i1-m01", 1, 1),
        (BOB, "i1-m03", 1, 1),
    ]
    async with storage.unit_of_work() as uow:
        back = await uow.messages.get("i1", "3EB00002")
        back.remote_jid = ALICE
        await uow.messages.update(back)
        await uow.commit()
    assert await _summaries(storage, "i1") == [(ALICE, "i1-m02", 2, 2), (BOB, "i1-m03", 1, 1)]


async def test_a_random_history_keeps_the_list_equal_to_the_messages(storage: Any) -> None:
    await _two_instances(storage)
    rng = random.Random(12)
    stored: list[Message] = []
    for step in range(12):
        async with storage.unit_of_work() as uow:
            for _ in range(rng.randint(1, 8)):
                n = len(stored) + 1
                from_me = rng.random() < 0.4
                item = message(
                    n,
                    rng.choice(JIDS),
                    minute=rng.randint(0, 30),  # ties on the minute are common
                    from_me=from_me,
                    status=MessageStatus.PENDING if from_me else MessageStatus.RECEIVED,
                )
                item.id = f"i1-{rng.randint(0, 10**6):07d}-{n}"  # ties break on the row id
                await uow.messages.add(item)
                stored.append(item)
            picked = rng.sample(stored, min(len(stored), 4))
            status = rng.choice(list(MessageStatus))
            await uow.messages.set_status(
                "i1", [m.message_id for m in picked], status, T0 + timedelta(hours=step)
            )
            one = await uow.messages.get("i1", rng.choice(stored).message_id)
            one.status = rng.choice(list(MessageStatus))
            await uow.messages.update(one)
            if rng.random() < 0.3:
                await uow.rollback()  # this step's messages vanish, and so must their counts
            else:
                await uow.commit()
        stored = await _still_stored(storage, stored)
        assert await _summaries(storage, "i1") == await _expected(storage, "i1")
    assert len(stored) > 20


async def _still_stored(storage: Any, stored: list[Message]) -> list[Message]:
    async with storage.unit_of_work() as uow:
        return [m for m in stored if await uow.messages.get("i1", m.message_id) is not None]


async def test_deleting_an_instance_removes_its_conversations_only(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(storage, message(1, instance_id="i1"), message(1, instance_id="i2"))
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    assert await _summaries(storage, "i1") == []
    assert await _summaries(storage, "i2") == [(ALICE, "i2-m01", 1, 1)]


async def test_contacts_of_a_page_are_found_in_one_call(storage: Any) -> None:
    await _two_instances(storage)
    await _add_contacts(
        storage,
        contact(1, ALICE, name="Alice"),
        contact(2, BOB, push_name="Боб"),
        contact(3, ALICE, name="other instance", instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        found = await uow.contacts.get_many("i1", [ALICE, BOB, CAROL])
        assert {jid: (c.name, c.push_name) for jid, c in found.items()} == {
            ALICE: ("Alice", None),
            BOB: (None, "Боб"),
        }
        assert await uow.contacts.get_many("i1", []) == {}
        assert list(await uow.contacts.get_many("i2", [ALICE, BOB])) == [ALICE]


async def _marks(storage: Any, instance_id: str) -> dict[str, bool]:
    async with storage.unit_of_work(read_only=True) as uow:
        chats, _ = await uow.messages.chats(instance_id, limit=1000, skip=0)
        recent = await uow.messages.recent_chats([instance_id], before=None, limit=1000)
    listed = {c.remote_jid: c.marked_unread for c in chats}
    assert {c.remote_jid: c.marked_unread for c in recent[instance_id]} == listed
    return listed


async def test_a_chat_marked_unread_keeps_the_mark_until_a_message_or_a_read_mark(
    storage: Any,
) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(1, ALICE, minute=1),
        message(2, BOB, minute=2, from_me=True, status=MessageStatus.SENT),
        message(3, ALICE, minute=3, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        assert await uow.messages.set_marked_unread("i1", ALICE, True) is False
        assert await uow.messages.set_marked_unread("i1", BOB, True) is False
        assert await uow.messages.set_marked_unread("i1", CAROL, True) is None  # no such chat
        await uow.commit()
    assert await _marks(storage, "i1") == {ALICE: True, BOB: True}
    assert await _marks(storage, "i2") == {ALICE: False}  # the other instance's chat: untouched
    # The mark is the chat's, not its messages': counts and statuses did not move.
    assert await _summaries(storage, "i1") == await _expected(storage, "i1")
    async with storage.unit_of_work() as uow:  # marked again: answers that it was marked
        assert await uow.messages.set_marked_unread("i1", ALICE, True) is True
        # a status change or a move keeps it
        await uow.messages.set_status("i1", ["3EB00001"], MessageStatus.READ, T0)
        moved = await uow.messages.get("i1", "3EB00001")
        moved.created_at = T0
        await uow.messages.update(moved)
        await uow.commit()
    assert await _marks(storage, "i1") == {ALICE: True, BOB: True}
    # A message sent or received in the chat clears it; so does marking it read.
    await _add_messages(storage, message(4, BOB, minute=4, from_me=True))
    async with storage.unit_of_work() as uow:
        assert await uow.messages.set_marked_unread("i1", ALICE, False) is True
        await uow.commit()
    assert await _marks(storage, "i1") == {ALICE: False, BOB: False}
    async with storage.unit_of_work() as uow:  # rolled back: the mark is not set
        await uow.messages.set_marked_unread("i1", ALICE, True)
    assert await _marks(storage, "i1") == {ALICE: False, BOB: False}
