"""Sends, read receipts, contacts and number checks against a fake of neonize's FFI layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.transport.neonize import protocol
from adapters.transport.neonize.host import NeonizeHost
from domain.errors import EngineFailure, ValidationFailed
from domain.wire import MediaPayload, OutgoingMessage
from tests.unit.neonize_support import (
    ME,
    FakeGo,
    Recorder,
    attach,
    e2e,
    handler,
    jid,
    make_host,
    message_event,
    npb,
    reset_event_loop,
    source,
)

PHONE = "4915112345678"
TO = f"{PHONE}@s.whatsapp.net"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[NeonizeHost, Recorder, FakeGo]]:
    reset_event_loop()
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    attach(host, "i1", go)
    yield host, recorder, go
    await host.close()
    reset_event_loop()


async def _send(host: NeonizeHost, message: OutgoingMessage) -> Any:
    return await host.call("send", "i1", {"message": protocol.outgoing_to_wire(message)})


def _sent(go: FakeGo) -> list[tuple[Any, e2e.Message]]:
    return [args for name, args in go.calls if name == "SendMessage"]


def _png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_text_goes_to_the_jid_as_a_conversation(rig: Any) -> None:
    host, _, go = rig
    assert await _send(host, OutgoingMessage("3EB0A", "+49 151 12345678", "hello")) is None
    [(to, body)] = _sent(go)
    assert (to.User, to.Server) == ("4915112345678", "s.whatsapp.net")
    assert body == e2e.Message(conversation="hello")


async def test_a_lid_or_group_jid_is_accepted_as_given(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0L", "98765432109876@lid", "to a lid"))
    await _send(host, OutgoingMessage("3EB0G", "120363000000000001@g.us", "to a group"))
    assert [(to.User, to.Server) for to, _ in _sent(go)] == [
        ("98765432109876", "lid"),
        ("120363000000000001", "g.us"),
    ]


async def test_a_reply_quotes_the_incoming_message_with_its_author_and_content(rig: Any) -> None:
    host, _, go = rig
    group, member = jid("120363000000000001", "g.us"), jid(PHONE, device=4)
    original = e2e.Message(conversation="who is in?")
    event = message_event("IN1", source(group, member, group=True), original)
    await handler(host._hosted["i1"], npb.Message)(None, event)
    await _send(
        host, OutgoingMessage("3EB0R", "120363000000000001@g.us", "me", quoted_message_id="IN1")
    )
    [(_, body)] = _sent(go)
    context = body.extendedTextMessage.contextInfo
    assert body.extendedTextMessage.text == "me"
    assert (context.stanzaID, context.participant) == ("IN1", f"{PHONE}@s.whatsapp.net")
    assert context.quotedMessage == original


async def test_a_reply_to_our_own_message_quotes_whatsapps_id_and_us(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0FIRST", TO, "first"))
    await _send(host, OutgoingMessage("3EB0SECOND", TO, "second", quoted_message_id="3EB0FIRST"))
    context = _sent(go)[1][1].extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("WA0001", f"{ME}@s.whatsapp.net")
    assert context.quotedMessage == e2e.Message(conversation="first")


MEDIA = [
    ("image", "image/png", "imageMessage", 0),
    ("video", "video/mp4", "videoMessage", 1),
    ("audio", "audio/ogg", "audioMessage", 2),
    ("audio", "audio/mpeg", "audioMessage", 2),
    ("document", "application/pdf", "documentMessage", 3),
]


@pytest.mark.parametrize(("kind", "mime", "field", "upload_class"), MEDIA)
async def test_media_is_uploaded_from_bytes_and_sent_with_caption_and_file_name(
    rig: Any, kind: str, mime: str, field: str, upload_class: int
) -> None:
    host, _, go = rig
    data = _png() if kind == "image" else b"\x00media\xff" * 100
    media = MediaPayload(data, mime, "file.bin" if kind != "document" else "Q3.pdf", kind, "look")
    await _send(host, OutgoingMessage("3EB0M", TO, None, media))
    [(uploaded, media_type)] = [args for name, args in go.calls if name == "Upload"]
    assert (uploaded, media_type) == (data, upload_class)
    [(_, body)] = _sent(go)
    part = getattr(body, field)
    assert (part.URL, part.directPath, part.mimetype) == ("https://mmg.example/up", "/v/up", mime)
    assert (part.mediaKey, part.fileLength) == (b"m" * 32, len(data))
    if kind == "audio":
        assert part.PTT is (mime == "audio/ogg")  # Ogg/Opus plays as a voice note
    else:
        assert part.caption == "look"
    if kind == "document":
        assert part.fileName == "Q3.pdf"
    if kind == "image":
        thumb = Image.open(BytesIO(part.JPEGThumbnail))
        assert thumb.format == "JPEG" and max(thumb.size) <= 200


async def test_whatsapps_refusal_is_an_engine_failure(rig: Any) -> None:
    host, _, go = rig
    go.fail_send = "server returned error 479"
    with pytest.raises(EngineFailure, match="479"):
        await _send(host, OutgoingMessage("3EB0X", TO, "x"))


async def test_a_message_without_text_or_media_and_a_bad_jid_are_refused(rig: Any) -> None:
    host, _, go = rig
    with pytest.raises(ValidationFailed):
        await _send(host, OutgoingMessage("3EB0E", TO, None))
    with pytest.raises(ValidationFailed):
        await _send(host, OutgoingMessage("3EB0J", "not a number", "x"))
    assert _sent(go) == []


async def test_mark_read_names_chat_and_author_of_each_message(rig: Any) -> None:
    host, _, go = rig
    group, member = jid("120363000000000001", "g.us"), jid(PHONE, device=2)
    event = message_event("GIN", source(group, member, group=True), e2e.Message(conversation="x"))
    await handler(host._hosted["i1"], npb.Message)(None, event)
    await host.call(
        "mark_read", "i1", {"chatJid": "120363000000000001@g.us", "messageIds": ["GIN", "OLD"]}
    )
    await host.call("mark_read", "i1", {"chatJid": TO, "messageIds": ["A1", "A2"]})
    reads = [args for name, args in go.calls if name == "MarkRead"]
    # OLD in a group: its author is unknown to this worker, so it is skipped
    assert [(ids, chat, sender) for ids, chat, sender, _ in reads] == [
        (["GIN"], "120363000000000001", PHONE),
        (["A1", "A2"], PHONE, PHONE),
    ]


async def test_contacts_come_from_the_device_store_with_lids_resolved(rig: Any) -> None:
    host, _, go = rig

    def info(full: str, push: str) -> npb.ContactInfo:
        return npb.ContactInfo(
            Found=True,
            FirstName="",
            FullName=full,
            PushName=push,
            BusinessName="",
            RedactedPhone="",
        )

    go.lids["98765432109876"] = "4917700000000"
    go.contacts = [
        npb.Contact(JID=jid(PHONE), Info=info("Ana Lima", "ana")),
        npb.Contact(JID=jid("98765432109876", "lid"), Info=info("", "Bo")),
        npb.Contact(JID=jid("11100011122233", "lid"), Info=info("", "")),
    ]
    assert await host.call("contacts", "i1", {}) == [
        {"jid": TO, "name": "Ana Lima", "pushName": "ana", "isGroup": False},
        {"jid": "4917700000000@s.whatsapp.net", "name": None, "pushName": "Bo", "isGroup": False},
        {"jid": "11100011122233@lid", "name": None, "pushName": None, "isGroup": False},
    ]
    await host.call("add_contact", "i1", {"jid": TO, "name": "Ana Lima"})
    assert ("PutContactName", (PHONE, "Ana Lima", "Ana")) in go.calls


async def test_check_numbers_answers_in_input_order(rig: Any) -> None:
    host, _, go = rig
    go.on_whatsapp = {PHONE: PHONE}
    result = await host.call("check_numbers", "i1", {"phones": ["+49 1511 2345678", "15550009999"]})
    assert result == [
        {"phone": PHONE, "jid": TO, "exists": True},
        {"phone": "15550009999", "jid": None, "exists": False},
    ]
    assert ("IsOnWhatsApp", ["+" + PHONE, "+15550009999"]) in go.calls
    assert await host.call("check_numbers", "i1", {"phones": []}) == []
    with pytest.raises(ValidationFailed):
        await host.call("check_numbers", "i1", {"phones": ["12"]})
