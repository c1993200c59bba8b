"""From a neonize event to what the domain stores and announces.

The host's protocol frames go through `protocol.deliver` into the domain's real listener
(EngineEvents on the in-memory fakes), as the server side of a worker does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.transport.neonize import protocol
from adapters.transport.neonize.host import NeonizeHost
from domain.entities import EventType, Instance, InstanceStatus, MessageStatus, Principal
from domain.instances import InstanceChanges, NewInstance
from domain.wire import OutgoingMessage
from tests.unit.conftest import Core
from tests.unit.neonize_support import (
    FakeGo,
    attach,
    dispatch,
    e2e,
    eventually,
    jid,
    make_host,
    media_part,
    message_event,
    npb,
    receipt_event,
    reset_event_loop,
    source,
)
from tests.unit.test_neonize_connection import LOGOUTS, TERMINALS
from tests.unit.test_neonize_events import MEDIA_CASES

PHONE = "4915112345678"
JID = f"{PHONE}@s.whatsapp.net"


class Rig:
    def __init__(self, core: Core, host: NeonizeHost, go: FakeGo, owner: Principal, inst: Instance):
        self.core, self.host, self.go, self.owner, self.inst = core, host, go, owner, inst
        self.delivered = 0

    def events(self, type_: EventType) -> list[dict[str, Any]]:
        return [e.data for e in self.core.bus.published if e.type is type_]

    def stored(self) -> list[Any]:
        return list(self.core.storage.state.messages.values())


@pytest.fixture
async def rig(core: Core, tmp_path: Path) -> AsyncIterator[Rig]:
    reset_event_loop()
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="shop"))
    holder: list[Rig] = []

    async def emit(frame: dict[str, Any]) -> None:
        await protocol.deliver(core.listener, frame)
        holder[0].delivered += 1

    host = make_host(tmp_path, emit)
    go = FakeGo()
    attach(host, inst.id, go, paired=False)
    holder.append(Rig(core, host, go, owner, inst))
    # the instance links: the device first, then Connected, as Go sends them
    hosted = host._hosted[inst.id]
    device = npb.Device(
        JID=jid("15550001111", device=3), Platform="", BussinessName="", PushName="Shop",
        Initialized=True,
    )  # fmt: skip
    dispatch(hosted, device)
    dispatch(hosted, npb.Connected(status=True))
    await eventually(lambda: holder[0].delivered >= 1)
    core.bus.published.clear()
    yield holder[0]
    await host.close()
    reset_event_loop()


async def test_connected_records_phone_and_push_name(rig: Rig) -> None:
    instance = rig.core.storage.state.instances[rig.inst.id]
    assert instance.status is InstanceStatus.CONNECTED
    assert (instance.phone, instance.push_name) == ("15550001111", "Shop")


async def test_an_incoming_text_is_stored_announced_and_its_sender_saved(rig: Rig) -> None:
    peer = jid(PHONE)
    event = message_event(
        "IN1", source(peer, peer), e2e.Message(conversation="hi there"), push_name="Ana"
    )
    dispatch(rig.host._hosted[rig.inst.id], event)
    await eventually(lambda: len(rig.stored()) == 1)
    [stored] = rig.stored()
    assert (stored.message_id, stored.remote_jid, stored.content) == ("IN1", JID, "hi there")
    assert stored.status is MessageStatus.RECEIVED and not stored.from_me
    [payload] = rig.events(EventType.MESSAGE_RECEIVED)
    assert payload["messageId"] == "IN1" and payload["body"] == "hi there"
    [contact] = rig.core.storage.state.contacts.values()
    assert (contact.remote_jid, contact.push_name) == (JID, "Ana")


async def test_incoming_media_lands_in_the_media_store(rig: Rig) -> None:
    rig.go.downloads["/v/x"] = b"\xff\xd8\xffjpeg" * 10
    peer = jid(PHONE)
    body = media_part("imageMessage", mimetype="image/jpeg", caption="look")
    dispatch(rig.host._hosted[rig.inst.id], message_event("IMG", source(peer, peer), body))
    await eventually(lambda: len(rig.stored()) == 1)
    [stored] = rig.stored()
    assert stored.message_type == "image" and stored.caption == "look"
    assert stored.media_url == f"/api/media/{stored.media_id}"
    _, data = await rig.core.messaging.media(rig.owner, stored.media_id)
    assert data == b"\xff\xd8\xffjpeg" * 10


async def test_a_group_message_is_stored_under_the_group(rig: Rig) -> None:
    group, member = jid("120363000000000001", "g.us"), jid(PHONE, device=5)
    event = message_event("G1", source(group, member, group=True), e2e.Message(conversation="all"))
    dispatch(rig.host._hosted[rig.inst.id], event)
    await eventually(lambda: len(rig.stored()) == 1)
    assert rig.stored()[0].remote_jid == "120363000000000001@g.us"


async def test_receipts_move_a_sent_message_to_delivered_then_read(rig: Rig) -> None:
    sent_here: list[OutgoingMessage] = []

    async def through_the_worker(outgoing: OutgoingMessage) -> None:
        sent_here.append(outgoing)  # the server would forward this request to the worker
        await rig.host.call("send", rig.inst.id, {"message": protocol.outgoing_to_wire(outgoing)})

    rig.core.engine.while_sending = through_the_worker
    sent = await rig.core.messaging.send_text(rig.owner, rig.inst.id, "+" + PHONE, "hello")
    assert [m.message_id for m in sent_here] == [sent.message_id]
    hosted = rig.host._hosted[rig.inst.id]
    peer = jid(PHONE)
    dispatch(hosted, receipt_event(source(peer, peer), ["WA0001"], npb.Receipt.DELIVERED))
    await eventually(lambda: rig.stored()[0].status is MessageStatus.DELIVERED)
    dispatch(hosted, receipt_event(source(peer, peer), ["WA0001"], npb.Receipt.PLAYED))
    await eventually(lambda: rig.stored()[0].status is MessageStatus.READ)
    statuses = [e["status"] for e in rig.events(EventType.MESSAGE_STATUS)]
    assert statuses == ["delivered", "read"]


async def test_logged_out_by_the_phone_shows_logged_out_with_the_reason(rig: Rig) -> None:
    dispatch(rig.host._hosted[rig.inst.id], npb.LoggedOut(OnConnect=False, Reason=npb.LOGGED_OUT))

    def instance() -> Instance:
        return rig.core.storage.state.instances[rig.inst.id]  # the state is swapped per commit

    await eventually(lambda: instance().status is InstanceStatus.LOGGED_OUT)
    assert "401" in (instance().status_reason or "") and instance().will_reconnect is False


async def test_a_message_sent_from_the_phone_is_stored_as_sent_by_us(rig: Rig) -> None:
    peer, me = jid(PHONE), jid("15550001111")
    event = message_event(
        "PH1", source(peer, me, from_me=True), e2e.Message(conversation="from my phone")
    )
    dispatch(rig.host._hosted[rig.inst.id], event)
    await eventually(lambda: len(rig.stored()) == 1)
    [stored] = rig.stored()
    assert stored.from_me and stored.status is MessageStatus.SENT
    assert (stored.remote_jid, stored.content) == (JID, "from my phone")
    [payload] = rig.events(EventType.MESSAGE_SENT)
    assert payload["fromMe"] is True and payload["to"] == JID
    assert rig.events(EventType.MESSAGE_RECEIVED) == []
    # our own push name never becomes the contact's name
    assert all(c.push_name is None for c in rig.core.storage.state.contacts.values())


async def test_a_lid_sender_is_shown_by_phone_number_with_the_lid_in_metadata(rig: Rig) -> None:
    lid = jid("98765432109876", "lid")
    event = message_event(
        "L1", source(lid, lid, sender_alt=jid(PHONE)), e2e.Message(conversation="via lid")
    )
    dispatch(rig.host._hosted[rig.inst.id], event)
    await eventually(lambda: len(rig.stored()) == 1)
    [stored] = rig.stored()
    assert stored.remote_jid == JID and stored.metadata["sender"] == JID
    assert stored.metadata["senderLid"] == "98765432109876@lid"
    [payload] = rig.events(EventType.MESSAGE_RECEIVED)
    assert (payload["from"], payload["remoteJid"]) == (JID, JID)
    assert payload["metadata"]["senderLid"] == "98765432109876@lid"


@pytest.mark.parametrize(("field", "fields", "kind", "mime", "caption"), MEDIA_CASES)
async def test_each_media_kind_is_stored_with_its_type_and_bytes(
    rig: Rig, field: str, fields: dict[str, Any], kind: str, mime: str, caption: str | None
) -> None:
    payload = bytes(range(256)) * 3
    rig.go.downloads["/v/x"] = payload
    peer = jid(PHONE)
    body = media_part(field, **fields)
    dispatch(rig.host._hosted[rig.inst.id], message_event("M-" + kind, source(peer, peer), body))
    await eventually(lambda: len(rig.stored()) == 1)
    [stored] = rig.stored()
    assert (stored.message_type, stored.mime_type, stored.caption) == (kind, mime, caption)
    assert stored.has_media and stored.media_size == len(payload)
    _, data = await rig.core.messaging.media(rig.owner, stored.media_id)
    assert data == payload
    [announced] = rig.events(EventType.MESSAGE_RECEIVED)
    assert announced["hasMedia"] is True and announced["mediaUrl"] == stored.media_url


@pytest.mark.parametrize(("reason", "text"), LOGOUTS)
async def test_each_logout_reason_shows_logged_out_without_reconnecting(
    rig: Rig, reason: int, text: str
) -> None:
    dispatch(rig.host._hosted[rig.inst.id], npb.LoggedOut(OnConnect=False, Reason=reason))

    def instance() -> Instance:
        return rig.core.storage.state.instances[rig.inst.id]

    await eventually(lambda: instance().status is InstanceStatus.LOGGED_OUT)
    assert (instance().status_reason or "").startswith(text)
    assert instance().will_reconnect is False
    # the event keeps the document's shape ("logout"); the why is in the status and activity
    [announced] = rig.events(EventType.DISCONNECTED)
    assert announced["reason"] == "logout" and announced["willReconnect"] is False
    [logged] = [a for a in rig.core.storage.state.activity.values() if a.action == "logged_out"]
    assert logged.details["reason"].startswith(text)


@pytest.mark.parametrize(("event", "prefix"), TERMINALS)
async def test_each_terminal_disconnect_is_shown_with_its_reason_and_no_retry(
    rig: Rig, event: Any, prefix: str
) -> None:
    dispatch(rig.host._hosted[rig.inst.id], event)

    def instance() -> Instance:
        return rig.core.storage.state.instances[rig.inst.id]

    await eventually(lambda: instance().status is InstanceStatus.DISCONNECTED)
    assert (instance().status_reason or "").startswith(prefix)
    assert instance().will_reconnect is False
    [announced] = rig.events(EventType.DISCONNECTED)
    assert announced["reason"].startswith(prefix)


async def test_the_webhook_body_shows_the_phone_number_and_keeps_the_lid(rig: Rig) -> None:
    await rig.core.instances.update(
        rig.owner,
        rig.inst.id,
        InstanceChanges(webhook_url="https://hooks.example.com/wa", webhook_enabled=True),
    )
    lid = jid("98765432109876", "lid")
    event = message_event(
        "WH1", source(lid, lid, sender_alt=jid(PHONE)), e2e.Message(conversation="hook me")
    )
    dispatch(rig.host._hosted[rig.inst.id], event)

    def received() -> list[Any]:
        deliveries = rig.core.storage.state.webhooks.values()
        return [d for d in deliveries if d.event == "message_received"]

    await eventually(lambda: len(received()) == 1)
    body = json.loads(received()[0].body)
    assert body["event"] == "message_received"
    data = body["data"]
    assert (data["from"], data["body"]) == (JID, "hook me")
    assert data["metadata"]["senderLid"] == "98765432109876@lid"
