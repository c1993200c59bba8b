"""The storage contract for messages, contacts and media: every backend answers alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from domain.entities import Contact, Media, Message, MessageStatus
from tests.contract.test_storage_contract import T0, instance, user

ALICE = "15550001111@s.whatsapp.net"
BOB = "15550002222@s.whatsapp.net"
CAROL = "15550003333@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


def message(
    n: int,
    jid: str = ALICE,
    *,
    minute: int | None = None,
    instance_id: str = "i1",
    from_me: bool = False,
    status: MessageStatus | None = None,
) -> Message:
    at = T0 + timedelta(minutes=n if minute is None else minute)
    return Message(
        id=f"{instance_id}-m{n:02d}",
        instance_id=instance_id,
        remote_jid=jid,
        from_me=from_me,
        message_type="text",
        content=f"hello {n} 你好",
        message_id=f"3EB0{n:04d}",
        status=status or (MessageStatus.SENT if from_me else MessageStatus.RECEIVED),
        created_at=at,
        updated_at=at,
        metadata={"pushName": "Алиса", "timestamp": int(at.timestamp())},
        status_updated_at=at,
    )


def contact(
    n: int,
    jid: str,
    *,
    name: str | None = None,
    push_name: str | None = None,
    instance_id: str = "i1",
) -> Contact:
    return Contact(
        id=f"{instance_id}-c{n:02d}",
        instance_id=instance_id,
        number=jid.split("@", 1)[0],
        remote_jid=jid,
        is_group=jid.endswith("@g.us"),
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n),
        name=name,
        push_name=push_name,
    )


def media(n: int, instance_id: str = "i1") -> Media:
    return Media(
        id=f"{instance_id}-f{n:02d}",
        instance_id=instance_id,
        mime_type="image/jpeg",
        file_name=f"фото {n}.jpg",
        size=1234 + n,
        sha256="ab" * 32,
        created_at=T0 + timedelta(seconds=n),
    )


async def _two_instances(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.instances.add(instance(2))
        await uow.commit()


async def _add_messages(storage: Any, *items: Message) -> None:
    async with storage.unit_of_work() as uow:
        for item in items:
            await uow.messages.add(item)
        await uow.commit()


async def _add_contacts(storage: Any, *items: Contact) -> None:
    async with storage.unit_of_work() as uow:
        for item in items:
            await uow.contacts.upsert(item)
        await uow.commit()


# --- messages --------------------------------------------------------------------------


async def test_message_round_trip_by_whatsapp_id_within_its_instance(storage: Any) -> None:
    await _two_instances(storage)
    with_media = message(1)
    with_media.has_media, with_media.media_id = True, "i1-f01"
    with_media.media_url, with_media.caption = "/api/media/i1-f01", "подпись"
    with_media.mime_type, with_media.file_name, with_media.media_size = "image/png", "a.png", 99
    with_media.quoted_message_id = "3EB0QUOTED"
    other = message(1, instance_id="i2")  # the same WhatsApp id, in another instance
    other.content = "from instance 2"
    await _add_messages(storage, with_media, other)
    async with storage.unit_of_work() as uow:
        assert await uow.messages.get("i1", "3EB00001") == with_media
        assert (await uow.messages.get("i2", "3EB00001")).content == "from instance 2"
        assert await uow.messages.get("i1", "3EB0NOPE") is None
        assert await uow.messages.get("i9", "3EB00001") is None


async def test_message_update_persists_and_uncommitted_adds_vanish(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(storage, message(1, from_me=True, status=MessageStatus.PENDING))
    later = T0 + timedelta(hours=1)
    async with storage.unit_of_work() as uow:
        got = await uow.messages.get("i1", "3EB00001")
        got.status, got.updated_at, got.status_updated_at = MessageStatus.FAILED, later, later
        got.metadata = {**got.metadata, "error": "socket closed"}
        await uow.messages.update(got)
        await uow.messages.add(message(2))
        await uow.commit()
        await uow.messages.add(message(3))
        # no commit
    async with storage.unit_of_work() as uow:
        again = await uow.messages.get("i1", "3EB00001")
        assert again.status is MessageStatus.FAILED and again.status_updated_at == later
        assert again.metadata["error"] == "socket closed"
        assert again.metadata["pushName"] == "Алиса"
        assert await uow.messages.get("i1", "3EB00002") is not None
        assert await uow.messages.get("i1", "3EB00003") is None


async def test_a_whatsapp_id_is_stored_once_per_instance(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(storage, message(1))
    duplicate = message(1)
    duplicate.id = "another-row"
    async with storage.unit_of_work() as uow:
        with pytest.raises((ValueError, IntegrityError)):
            await uow.messages.add(duplicate)
            await uow.commit()  # a backend may hold writes back until the commit (SQLite's)


async def test_list_chat_is_newest_first_with_dates_and_pages(storage: Any) -> None:
    await _two_instances(storage)
    tie = message(9, minute=4)  # same minute as m04: the higher row id comes first
    await _add_messages(
        storage,
        *(message(n) for n in range(5)),
        tie,
        message(6, BOB),
        message(7, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        found, total = await uow.messages.list_chat(
            "i1", ALICE, start=None, end=None, limit=3, skip=0
        )
        assert total == 6 and [m.id for m in found] == ["i1-m09", "i1-m04", "i1-m03"]
        found, total = await uow.messages.list_chat(
            "i1", ALICE, start=None, end=None, limit=3, skip=4
        )
        assert total == 6 and [m.id for m in found] == ["i1-m01", "i1-m00"]
        found, total = await uow.messages.list_chat(
            "i1",
            ALICE,
            start=T0 + timedelta(minutes=1),
            end=T0 + timedelta(minutes=3),
            limit=10,
            skip=0,
        )
        assert total == 3 and [m.id for m in found] == ["i1-m03", "i1-m02", "i1-m01"]
        naive_start = (T0 + timedelta(minutes=4)).replace(tzinfo=None)  # naive means UTC
        found, total = await uow.messages.list_chat(
            "i1", ALICE, start=naive_start, end=None, limit=10, skip=0
        )
        assert [m.id for m in found] == ["i1-m09", "i1-m04"]
        found, total = await uow.messages.list_chat(
            "i1", CAROL, start=None, end=None, limit=10, skip=0
        )
        assert (found, total) == ([], 0)


async def test_chats_summarise_each_conversation_most_recent_first(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(6, CAROL, minute=3),  # ties with Alice's last message: ordered by JID
        message(5, CAROL, minute=3),  # ...and within the chat, the higher row id is last
        message(1, ALICE, minute=1),
        message(2, ALICE, minute=2),
        message(3, ALICE, minute=3, from_me=True, status=MessageStatus.READ),
        message(4, BOB, minute=5, status=MessageStatus.READ),
        message(7, ALICE, minute=9, instance_id="i2"),
    )
    async with storage.unit_of_work() as uow:
        chats, total = await uow.messages.chats("i1", limit=10, skip=0)
        assert total == 3
        assert [c.remote_jid for c in chats] == [BOB, ALICE, CAROL]
        assert [c.unread_count for c in chats] == [0, 2, 2]
        assert [c.message_count for c in chats] == [1, 3, 2]
        assert [c.last_message.id for c in chats] == ["i1-m04", "i1-m03", "i1-m06"]
        assert chats[1].last_message == message(
            3, ALICE, minute=3, from_me=True, status=MessageStatus.READ
        )
        assert all(c.name is None for c in chats)
        page, total = await uow.messages.chats("i1", limit=1, skip=1)
        assert total == 3 and [c.remote_jid for c in page] == [ALICE]
        assert await uow.messages.chats("i1", limit=10, skip=3) == ([], 3)
        assert await uow.messages.chats("i9", limit=10, skip=0) == ([], 0)


async def test_unread_is_oldest_first_and_set_status_clears_it(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(3, minute=3),
        message(1, minute=1),
        message(2, minute=2, from_me=True),
        message(4, minute=4, status=MessageStatus.READ),
        message(5, BOB, minute=5),
        message(1, minute=1, instance_id="i2"),
    )
    at = T0 + timedelta(hours=2)
    async with storage.unit_of_work() as uow:
        unread = await uow.messages.unread("i1", ALICE)
        assert [m.id for m in unread] == ["i1-m01", "i1-m03"]
        await uow.messages.set_status("i1", ["3EB00001", "3EB00003"], MessageStatus.READ, at)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.messages.unread("i1", ALICE) == []
        read = await uow.messages.get("i1", "3EB00003")
        assert read.status is MessageStatus.READ
        assert read.status_updated_at == at and read.updated_at == at
        assert [m.id for m in await uow.messages.unread("i1", BOB)] == ["i1-m05"]
        # The same WhatsApp id in another instance is another message.
        assert (await uow.messages.get("i2", "3EB00001")).status is MessageStatus.RECEIVED
        chats, _ = await uow.messages.chats("i1", limit=10, skip=0)
        assert {c.remote_jid: c.unread_count for c in chats} == {ALICE: 0, BOB: 1}


# --- contacts --------------------------------------------------------------------------


async def test_contact_upsert_updates_in_place_keeping_id_and_created_at(storage: Any) -> None:
    await _two_instances(storage)
    first = contact(1, ALICE, push_name="Alice")
    await _add_contacts(storage, first, contact(1, ALICE, name="Other", instance_id="i2"))
    again = contact(7, ALICE, name="Alice Smith", push_name="Alice")
    again.last_activity = T0 + timedelta(days=1)
    again.updated_at = T0 + timedelta(days=1)
    await _add_contacts(storage, again)
    async with storage.unit_of_work() as uow:
        got = await uow.contacts.get("i1", ALICE)
        assert got.id == "i1-c01" and got.created_at == first.created_at
        assert got.name == "Alice Smith" and got.push_name == "Alice"
        assert got.updated_at == T0 + timedelta(days=1)
        assert got.last_activity == T0 + timedelta(days=1)
        found, total = await uow.contacts.list(
            "i1", search=None, only_groups=False, limit=10, skip=0
        )
        assert total == 1 and [c.id for c in found] == ["i1-c01"]
        assert (await uow.contacts.get("i2", ALICE)).name == "Other"
        assert await uow.contacts.get("i1", BOB) is None


async def test_contact_touch_inserts_then_moves_activity_keeping_what_it_does_not_name(
    storage: Any,
) -> None:
    await _two_instances(storage)
    first = contact(1, ALICE, push_name="Alice")
    first.last_activity = T0
    async with storage.unit_of_work() as uow:
        await uow.contacts.touch(first)
        await uow.commit()
    await _add_contacts(storage, contact(1, ALICE, name="Other", instance_id="i2"))
    async with storage.unit_of_work() as uow:
        named = await uow.contacts.get("i1", ALICE)
        named.name = "Alice Smith"
        await uow.contacts.upsert(named)
        await uow.commit()
    later = T0 + timedelta(days=1)
    # A new id and created_at, no push name: only the activity moves.
    again = contact(9, ALICE)
    again.last_activity = again.updated_at = later
    async with storage.unit_of_work() as uow:
        await uow.contacts.touch(again)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.contacts.get("i1", ALICE)
        assert got.id == "i1-c01" and got.created_at == first.created_at
        assert got.name == "Alice Smith" and got.push_name == "Alice"
        assert got.last_activity == later and got.updated_at == later
        assert (await uow.contacts.get("i2", ALICE)).last_activity is None
    renamed = contact(10, ALICE, push_name="Алиса")
    renamed.last_activity = renamed.updated_at = later + timedelta(hours=1)
    async with storage.unit_of_work() as uow:
        await uow.contacts.touch(renamed)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.contacts.get("i1", ALICE)
        assert got.push_name == "Алиса" and got.name == "Alice Smith"
        assert got.last_activity == later + timedelta(hours=1)
        found, total = await uow.contacts.list(
            "i1", search=None, only_groups=False, limit=10, skip=0
        )
        assert total == 1


async def test_contacts_are_listed_by_name_and_searched_literally(storage: Any) -> None:
    await _two_instances(storage)
    await _add_contacts(
        storage,
        contact(1, "15550000001@s.whatsapp.net", name="Zoe"),
        contact(2, "15550000002@s.whatsapp.net", push_name="alice"),
        contact(3, "15550000003@s.whatsapp.net"),
        contact(4, "15550000004@s.whatsapp.net", name="张伟"),
        contact(5, "15550000005@s.whatsapp.net", name="100% real"),
        contact(6, "15550000006@s.whatsapp.net", name="a_b"),
        contact(7, "15550000007@s.whatsapp.net", name="axb"),
        contact(8, GROUP, name="Zoe"),  # same sort name as c01: the id decides
        contact(9, "15550000009@s.whatsapp.net", name="ALIBI", instance_id="i2"),
    )

    async def ids(search: str | None = None, only_groups: bool = False) -> list[str]:
        async with storage.unit_of_work() as uow:
            found, total = await uow.contacts.list(
                "i1", search=search, only_groups=only_groups, limit=50, skip=0
            )
        assert total == len(found)
        return [c.id[3:] for c in found]

    # COALESCE(name, push_name, number), in code point order, then id.
    assert await ids() == ["c05", "c03", "c01", "c08", "c06", "c02", "c07", "c04"]
    assert await ids("ALI") == ["c02"]  # case-insensitive, and only this instance
    assert await ids("zo") == ["c01", "c08"]
    assert await ids("伟") == ["c04"]
    assert await ids("%") == ["c05"]  # LIKE wildcards are plain characters
    assert await ids("_") == ["c06"]
    assert await ids("0000003") == ["c03"]  # the number is searched too
    assert await ids("") == await ids()
    assert await ids("nobody") == []
    assert await ids(only_groups=True) == ["c08"]
    assert await ids("zoe", only_groups=True) == ["c08"]
    async with storage.unit_of_work() as uow:
        page, total = await uow.contacts.list("i1", search=None, only_groups=False, limit=3, skip=2)
    assert total == 8 and [c.id for c in page] == ["i1-c01", "i1-c08", "i1-c06"]


async def test_contact_search_ignores_case_beyond_ascii(storage: Any) -> None:
    await _two_instances(storage)
    await _add_contacts(
        storage,
        contact(1, ALICE, name="Алиса"),
        contact(2, BOB, push_name="Ärger"),
    )
    async with storage.unit_of_work() as uow:
        for term, expected in (("Алиса", ["i1-c01"]), ("алиса", ["i1-c01"]), ("äR", ["i1-c02"])):
            found, _ = await uow.contacts.list(
                "i1", search=term, only_groups=False, limit=10, skip=0
            )
            assert [c.id for c in found] == expected, term


# --- media and deletion ----------------------------------------------------------------


async def test_media_round_trip(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        await uow.media.add(media(1))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.media.get("i1-f01")
        assert got == media(1)
        assert isinstance(got.created_at, datetime) and got.created_at.tzinfo is not None
        assert await uow.media.get("i1-f99") is None


async def test_deleting_an_instance_removes_its_messages_contacts_and_media(storage: Any) -> None:
    await _two_instances(storage)
    async with storage.unit_of_work() as uow:
        for iid in ("i1", "i2"):
            await uow.messages.add(message(1, instance_id=iid))
            await uow.contacts.upsert(contact(1, ALICE, push_name="Alice", instance_id=iid))
            await uow.media.add(media(1, instance_id=iid))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.messages.get("i1", "3EB00001") is None
        assert await uow.messages.chats("i1", limit=10, skip=0) == ([], 0)
        assert await uow.contacts.get("i1", ALICE) is None
        assert (await uow.contacts.list("i1", search=None, only_groups=False, limit=10, skip=0))[
            1
        ] == 0
        assert await uow.media.get("i1-f01") is None
        assert await uow.messages.get("i2", "3EB00001") is not None
        assert await uow.contacts.get("i2", ALICE) is not None
        assert await uow.media.get("i2-f01") is not None


async def test_advance_outgoing_moves_our_messages_forward_only(storage: Any) -> None:
    await _two_instances(storage)
    await _add_messages(
        storage,
        message(1, from_me=True, status=MessageStatus.PENDING),
        message(2, BOB, from_me=True, status=MessageStatus.SENT),
        message(3, from_me=True, status=MessageStatus.READ),
        message(4, from_me=True, status=MessageStatus.FAILED),
        message(5),  # received: not ours
        message(2, instance_id="i2", from_me=True, status=MessageStatus.SENT),
    )
    at = T0 + timedelta(hours=3)
    ids = ["3EB00002", "3EB00009", "3EB00005", "3EB00004", "3EB00003", "3EB00001", "3EB00002"]
    async with storage.unit_of_work() as uow:
        moved = await uow.messages.advance_outgoing("i1", ids, MessageStatus.DELIVERED, at)
        await uow.commit()
    # in the order asked, each once; late (read), failed, foreign and unknown ones untouched
    assert moved == [("3EB00002", BOB), ("3EB00001", ALICE)]
    async with storage.unit_of_work(read_only=True) as uow:
        delivered = await uow.messages.get("i1", "3EB00001")
        assert delivered.status is MessageStatus.DELIVERED
        assert delivered.status_updated_at == at and delivered.updated_at == at
        assert (await uow.messages.get("i1", "3EB00003")).status is MessageStatus.READ
        assert (await uow.messages.get("i1", "3EB00004")).status is MessageStatus.FAILED
        assert (await uow.messages.get("i1", "3EB00005")).status is MessageStatus.RECEIVED
        assert (await uow.messages.get("i2", "3EB00002")).status is MessageStatus.SENT
        chats, _ = await uow.messages.chats("i1", limit=10, skip=0)
        assert {c.remote_jid: c.unread_count for c in chats} == {ALICE: 1, BOB: 0}
    async with storage.unit_of_work() as uow:  # a second receipt moves nothing
        assert await uow.messages.advance_outgoing("i1", ids, MessageStatus.DELIVERED, at) == []
        assert await uow.messages.advance_outgoing("i1", [], MessageStatus.READ, at) == []
        await uow.commit()
