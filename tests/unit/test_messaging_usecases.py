"""Messaging, contacts and engine reports on fakes: what is stored, emitted and sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.contacts import ContactInput
from domain.entities import EventType, Instance, MessageStatus, Principal
from domain.errors import Conflict, EngineFailure, NotFound, ValidationFailed
from domain.instances import NewInstance
from domain.messages import Upload
from domain.wire import EngineContact, IncomingMessage, MediaPayload, OutgoingMessage
from tests.unit.conftest import Core

PHONE = "+1 555 123-4567"
JID = "15551234567@s.whatsapp.net"
OTHER_JID = "15557654321@s.whatsapp.net"
NOW_S = int(datetime(2023, 1, 1, 12, 0, tzinfo=UTC).timestamp())  # the fake clock's start


async def _instance(core: Core, owner: Principal, *, connected: bool = True) -> Instance:
    inst = await core.instances.create(owner, NewInstance(name="shop"))
    if connected:
        await core.listener.on_connected(inst.id, "15550000000", "Shop")
    core.bus.published.clear()
    return inst


def _incoming(
    message_id: str,
    chat: str = JID,
    *,
    text: str | None = "hi",
    push_name: str | None = "Alice",
    media: MediaPayload | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        message_id=message_id,
        chat_jid=chat,
        sender_jid=chat,
        timestamp=NOW_S - 5,
        text=text,
        push_name=push_name,
        media=media,
    )


def _events(core: Core, type_: EventType) -> list[dict[str, object]]:
    return [e.data for e in core.bus.published if e.type is type_]


def _stored_statuses(core: Core) -> dict[str, MessageStatus]:
    return {m.message_id: m.status for m in core.storage.state.messages.values()}


# --- sending ---------------------------------------------------------------------------


async def test_send_on_an_instance_not_connected_is_conflict_and_stores_nothing(
    core: Core,
) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner, connected=False)
    with pytest.raises(Conflict) as err:
        await core.messaging.send_text(owner, inst.id, PHONE, "hello")
    assert err.value.details == {"instanceStatus": "connecting"}
    assert core.engine.calls == []
    assert core.storage.state.messages == {}
    assert core.bus.published == []


async def test_sent_text_is_stored_pending_then_sent_and_announced(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    seen_while_sending: list[dict[str, MessageStatus]] = []

    async def look(outgoing: OutgoingMessage) -> None:
        seen_while_sending.append(_stored_statuses(core))

    core.engine.while_sending = look
    sent = await core.messaging.send_text(owner, inst.id, PHONE, "hello 👋")

    assert seen_while_sending == [{sent.message_id: MessageStatus.PENDING}]
    assert _stored_statuses(core) == {sent.message_id: MessageStatus.SENT}
    assert sent.status is MessageStatus.SENT and sent.from_me and sent.remote_jid == JID
    assert core.engine.sent == [OutgoingMessage(sent.message_id, JID, "hello 👋")]
    [payload] = _events(core, EventType.MESSAGE_SENT)
    assert payload["instanceId"] == inst.id
    assert payload["messageId"] == sent.message_id == "3EB00001"
    assert payload["to"] == JID
    assert payload["body"] == "hello 👋"
    assert payload["type"] == "text"
    assert payload["timestamp"] == NOW_S
    assert payload["hasMedia"] is False
    assert payload["status"] == "sent"
    history, page = await core.messaging.history(owner, inst.id, PHONE)
    assert [m.message_id for m in history] == [sent.message_id] and page.total == 1


@pytest.mark.parametrize(
    "error", [RuntimeError("socket closed"), EngineFailure("socket closed")], ids=repr
)
async def test_engine_error_marks_the_message_failed(core: Core, error: Exception) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    core.engine.send_error = error
    with pytest.raises(EngineFailure):
        await core.messaging.send_text(owner, inst.id, PHONE, "hello")
    [stored] = core.storage.state.messages.values()
    assert stored.status is MessageStatus.FAILED
    assert stored.metadata["error"] == "socket closed"
    assert _events(core, EventType.MESSAGE_SENT) == []
    assert _events(core, EventType.MESSAGE_STATUS) == [
        {
            "instanceId": inst.id,
            "messageId": stored.message_id,
            "status": "failed",
            "from": JID,
            "fromMe": True,
        }
    ]


async def test_media_from_a_url_is_stored_and_sent(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    sent = await core.messaging.send_media_url(
        owner, inst.id, PHONE, "https://files.example.com/p.png", caption="look"
    )
    assert core.fetcher.urls == ["https://files.example.com/p.png"]
    [media] = core.storage.state.media.values()
    assert core.media_store.files[(inst.id, media.id)] == core.fetcher.file.data
    assert sent.has_media and sent.media_url == f"/api/media/{media.id}"
    [outgoing] = core.engine.sent
    assert outgoing.media is not None and outgoing.media.kind == "image"
    assert outgoing.media.caption == "look" and outgoing.text is None
    [payload] = _events(core, EventType.MESSAGE_SENT)
    assert payload["hasMedia"] is True and payload["type"] == "image"
    assert payload["body"] == "look" and payload["mediaUrl"] == sent.media_url


async def test_refused_url_stores_and_sends_nothing(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    core.fetcher.refusal = "'url' points at a private address"
    with pytest.raises(ValidationFailed):
        await core.messaging.send_media_url(owner, inst.id, PHONE, "https://10.0.0.1/x.png")
    assert core.engine.calls == []
    assert core.storage.state.messages == {} and core.storage.state.media == {}
    assert core.media_store.files == {}


async def test_file_over_the_size_limit_is_refused_before_anything_is_stored(
    core: Core,
) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    too_big = Upload(b"x" * 1025, "big.bin", None)  # the core allows 1024 bytes
    with pytest.raises(ValidationFailed):
        await core.messaging.send_file(owner, inst.id, PHONE, too_big)
    assert core.engine.calls == [] and core.storage.state.media == {}


# --- receipts --------------------------------------------------------------------------


async def test_receipts_only_move_a_status_forward(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    sent = await core.messaging.send_text(owner, inst.id, PHONE, "hello")
    core.bus.published.clear()

    await core.listener.on_receipt(inst.id, JID, [sent.message_id], MessageStatus.READ)
    await core.listener.on_receipt(inst.id, JID, [sent.message_id], MessageStatus.DELIVERED)
    await core.listener.on_receipt(inst.id, JID, [sent.message_id], MessageStatus.READ)

    assert _stored_statuses(core) == {sent.message_id: MessageStatus.READ}
    assert [e["status"] for e in _events(core, EventType.MESSAGE_STATUS)] == ["read"]


async def test_a_failed_message_never_changes_status(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    core.engine.send_error = RuntimeError("boom")
    with pytest.raises(EngineFailure):
        await core.messaging.send_text(owner, inst.id, PHONE, "hello")
    [failed_id] = _stored_statuses(core)
    core.bus.published.clear()
    for status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
        await core.listener.on_receipt(inst.id, JID, [failed_id], status)
    assert _stored_statuses(core) == {failed_id: MessageStatus.FAILED}
    assert core.bus.published == []


async def test_receipts_do_not_touch_received_messages(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1"))
    core.bus.published.clear()
    await core.listener.on_receipt(inst.id, JID, ["IN1", "UNKNOWN"], MessageStatus.READ)
    assert _stored_statuses(core) == {"IN1": MessageStatus.RECEIVED}
    assert core.bus.published == []


# --- incoming --------------------------------------------------------------------------


async def test_a_redelivered_message_is_stored_and_announced_once(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1", text="first"))
    await core.listener.on_message(inst.id, _incoming("IN1", text="again"))
    [stored] = core.storage.state.messages.values()
    assert stored.content == "first" and stored.status is MessageStatus.RECEIVED
    [payload] = _events(core, EventType.MESSAGE_RECEIVED)
    assert payload["messageId"] == "IN1" and payload["body"] == "first"
    assert payload["type"] == "conversation" and payload["from"] == JID


async def test_incoming_media_is_stored_and_served_under_api_media(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    photo = MediaPayload(b"\xff\xd8jpeg bytes", "image/jpeg", "photo.jpg", "image", "look")
    await core.listener.on_message(inst.id, _incoming("IN1", text=None, media=photo))

    [stored] = core.storage.state.messages.values()
    assert stored.has_media and stored.media_id is not None
    assert stored.media_url == f"/api/media/{stored.media_id}"
    assert stored.message_type == "image" and stored.caption == "look"
    media, data = await core.messaging.media(owner, stored.media_id)
    assert data == b"\xff\xd8jpeg bytes"
    assert (media.mime_type, media.file_name, media.size) == ("image/jpeg", "photo.jpg", 12)
    [payload] = _events(core, EventType.MESSAGE_RECEIVED)
    assert payload["mediaUrl"] == stored.media_url and payload["hasMedia"] is True
    assert payload["type"] == "imageMessage" and payload["body"] == "look"


async def test_incoming_message_upserts_the_contact_with_push_name_and_activity(
    core: Core,
) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1", push_name="Alice"))
    [before] = core.storage.state.contacts.values()
    assert before.remote_jid == JID and before.number == "15551234567"
    assert before.push_name == "Alice"
    assert before.last_activity == core.clock.now()

    core.clock.advance(minutes=5)
    await core.listener.on_message(inst.id, _incoming("IN2", push_name="Alice B."))
    contacts, page = await core.contacts.list(owner, inst.id)
    assert page.total == 1
    [after] = contacts
    assert after.id == before.id and after.created_at == before.created_at
    assert after.push_name == "Alice B." and after.last_activity == core.clock.now()


async def test_a_message_for_a_deleted_instance_is_ignored(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.instances.delete(owner, inst.id)
    core.bus.published.clear()
    await core.listener.on_message(inst.id, _incoming("IN1"))
    assert core.storage.state.messages == {} and core.storage.state.contacts == {}
    assert core.bus.published == []


# --- reading ---------------------------------------------------------------------------


async def test_mark_read_marks_only_received_messages_and_sends_receipts(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1"))
    core.clock.advance(seconds=1)
    await core.listener.on_message(inst.id, _incoming("IN2"))
    await core.listener.on_message(inst.id, _incoming("IN3", OTHER_JID))
    sent = await core.messaging.send_text(owner, inst.id, PHONE, "reply")

    assert await core.messaging.mark_read(owner, inst.id, PHONE) == 2

    assert _stored_statuses(core) == {
        "IN1": MessageStatus.READ,
        "IN2": MessageStatus.READ,
        "IN3": MessageStatus.RECEIVED,
        sent.message_id: MessageStatus.SENT,
    }
    assert core.engine.calls[-1] == ("mark_read", inst.id, JID, ["IN1", "IN2"])
    chats, _ = await core.messaging.chats(owner, inst.id)
    assert {c.remote_jid: c.unread_count for c in chats} == {JID: 0, OTHER_JID: 1}
    calls = len(core.engine.calls)
    assert await core.messaging.mark_read(owner, inst.id, PHONE) == 0
    assert len(core.engine.calls) == calls


async def _marks(core: Core, owner: Principal, instance_id: str) -> dict[str, tuple[int, bool]]:
    chats, _ = await core.messaging.chats(owner, instance_id)
    return {c.remote_jid: (c.unread_count, c.marked_unread) for c in chats}


async def test_mark_unread_flags_the_chat_and_tells_whatsapp_its_last_message(
    core: Core,
) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1"))
    await core.listener.on_message(inst.id, _incoming("IN2", OTHER_JID))
    assert await core.messaging.mark_read(owner, inst.id, PHONE) == 1

    await core.messaging.mark_unread(owner, inst.id, PHONE)

    assert await _marks(core, owner, inst.id) == {JID: (0, True), OTHER_JID: (1, False)}
    assert _stored_statuses(core)["IN1"] is MessageStatus.READ  # its message is untouched
    [(_, _, jid, last, unread)] = [c for c in core.engine.calls if c[0] == "mark_unread"]
    assert (jid, unread) == (JID, True)
    assert last is not None and (last.message_id, last.from_me) == ("IN1", False)
    # Read again: the flag goes, on WhatsApp too, though no message was unread.
    assert await core.messaging.mark_read(owner, inst.id, PHONE) == 0
    assert await _marks(core, owner, inst.id) == {JID: (0, False), OTHER_JID: (1, False)}
    assert core.engine.calls[-1][0::4] == ("mark_unread", False)


async def test_a_failed_unread_mark_on_whatsapp_leaves_the_local_mark(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1"))
    core.engine.mark_error = EngineFailure("app state sync failed")
    await core.messaging.mark_unread(owner, inst.id, JID)
    assert await _marks(core, owner, inst.id) == {JID: (1, True)}
    assert any("unread mark" in r.getMessage() for r in caplog.records)


async def test_mark_unread_of_an_unknown_chat_or_bad_id_changes_nothing(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner, connected=False)
    await core.listener.on_message(inst.id, _incoming("IN1"))
    with pytest.raises(NotFound):
        await core.messaging.mark_unread(owner, inst.id, OTHER_JID)
    with pytest.raises(ValidationFailed):
        await core.messaging.mark_unread(owner, inst.id, "not a phone")
    assert await _marks(core, owner, inst.id) == {JID: (1, False)}
    await core.messaging.mark_unread(owner, inst.id, JID)  # offline: marked here only
    assert await _marks(core, owner, inst.id) == {JID: (1, True)}
    assert [c for c in core.engine.calls if c[0] == "mark_unread"] == []


async def test_chats_are_named_after_the_saved_contact(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.listener.on_message(inst.id, _incoming("IN1", push_name="Alice"))
    chats, _ = await core.messaging.chats(owner, inst.id)
    assert [c.name for c in chats] == ["Alice"]
    await core.contacts.save(owner, inst.id, ContactInput(number=PHONE, name="Аня 张"))
    chats, _ = await core.messaging.chats(owner, inst.id)
    assert [c.name for c in chats] == ["Аня 张"]


# --- contacts --------------------------------------------------------------------------


async def test_importing_twice_creates_no_duplicates_and_keeps_a_saved_name(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    saved = await core.contacts.save(owner, inst.id, ContactInput(number=PHONE, name="Boss"))
    core.engine.address_book = [
        EngineContact(JID, None, push_name="Bobby"),
        EngineContact(OTHER_JID, "Carol"),
        EngineContact("120363000000000001@g.us", "Team", is_group=True),
    ]
    assert await core.contacts.import_from_whatsapp(owner, inst.id) == 3
    core.clock.advance(hours=1)
    assert await core.contacts.import_from_whatsapp(owner, inst.id) == 3

    found, page = await core.contacts.list(owner, inst.id)
    assert page.total == 3 and len(core.storage.state.contacts) == 3
    by_jid = {c.remote_jid: c for c in found}
    assert by_jid[JID].id == saved.id and by_jid[JID].created_at == saved.created_at
    assert by_jid[JID].name == "Boss" and by_jid[JID].push_name == "Bobby"
    assert by_jid[OTHER_JID].name == "Carol"
    groups, _ = await core.contacts.list(owner, inst.id, only_groups=True)
    assert [c.name for c in groups] == ["Team"]
    assert [c[0] for c in core.engine.calls] == ["contacts", "contacts"]


async def test_add_to_whatsapp_tells_the_engine_and_saves_the_contact(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    contact = await core.contacts.add_to_whatsapp(owner, inst.id, PHONE, "Dana")
    assert core.engine.calls == [("add_contact", inst.id, JID, "Dana")]
    found, _ = await core.contacts.list(owner, inst.id, search="dan")
    assert [c.id for c in found] == [contact.id]


async def test_contacts_from_whatsapp_need_a_connected_instance(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner, connected=False)
    with pytest.raises(Conflict):
        await core.contacts.import_from_whatsapp(owner, inst.id)
    assert core.engine.calls == [] and core.storage.state.contacts == {}


# --- ownership -------------------------------------------------------------------------


async def test_foreign_instance_is_not_found(core: Core) -> None:
    alice = await core.principal("alice@example.com")
    bob = await core.principal("bob@example.com")
    inst = await _instance(core, alice)
    photo = MediaPayload(b"bytes", "image/png", "p.png", "image")
    await core.listener.on_message(inst.id, _incoming("IN1", media=photo))
    [media_id] = core.storage.state.media
    before = (dict(core.storage.state.messages), dict(core.storage.state.contacts))
    for call in (
        core.messaging.send_text(bob, inst.id, PHONE, "hello"),
        core.messaging.send_media_url(bob, inst.id, PHONE, "https://files.example.com/a.png"),
        core.messaging.send_file(bob, inst.id, PHONE, Upload(b"x", "x.txt", None)),
        core.messaging.history(bob, inst.id, PHONE),
        core.messaging.chats(bob, inst.id),
        core.messaging.mark_read(bob, inst.id, PHONE),
        core.messaging.mark_unread(bob, inst.id, PHONE),
        core.messaging.media(bob, media_id),
        core.contacts.list(bob, inst.id),
        core.contacts.save(bob, inst.id, ContactInput(number=PHONE, name="x")),
        core.contacts.from_whatsapp(bob, inst.id),
        core.contacts.import_from_whatsapp(bob, inst.id),
        core.contacts.add_to_whatsapp(bob, inst.id, PHONE, "x"),
    ):
        with pytest.raises(NotFound):
            await call
    assert core.engine.calls == [] and core.fetcher.urls == []
    assert (core.storage.state.messages, core.storage.state.contacts) == before
    assert _stored_statuses(core) == {"IN1": MessageStatus.RECEIVED}
    assert len(core.storage.state.media) == 1
    assert await _marks(core, alice, inst.id) == {JID: (1, False)}


# --- media of redelivered or orphaned messages -------------------------------------------


async def test_a_redelivered_media_message_keeps_its_file_once(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    photo = MediaPayload(b"bytes", "image/png", "p.png", "image")
    await core.listener.on_message(inst.id, _incoming("IN1", media=photo))
    await core.listener.on_message(inst.id, _incoming("IN1", media=photo))
    assert len(core.storage.state.messages) == 1
    assert len(core.storage.state.media) == 1 and len(core.media_store.files) == 1


async def test_a_media_message_for_a_deleted_instance_is_ignored(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await _instance(core, owner)
    await core.instances.delete(owner, inst.id)
    photo = MediaPayload(b"bytes", "image/png", "p.png", "image")
    await core.listener.on_message(inst.id, _incoming("IN1", media=photo))
    assert core.media_store.files == {} and core.storage.state.media == {}
