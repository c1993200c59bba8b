"""Real neonize events through the host: its registered handlers and neonize's own dispatch.

Each event is a real `neonize.proto` object. "dispatch" serialises it into a C buffer and calls
the client's `event.execute` from a foreign thread, as Go does; neonize then posts the handler
to its module-global loop (the test's loop, bound by the host).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.transport.neonize import protocol
from adapters.transport.neonize.host import NeonizeHost
from domain.wire import OutgoingMessage
from tests.unit.neonize_support import (
    ME,
    FakeGo,
    Recorder,
    attach,
    dispatch,
    e2e,
    handler,
    jid,
    make_host,
    media_part,
    message_event,
    npb,
    receipt_event,
    reset_event_loop,
    source,
)

PHONE = "4915112345678"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[NeonizeHost, Recorder, FakeGo]]:
    reset_event_loop()  # neonize's loop is module-global: each test binds its own
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    attach(host, "i1", go)
    yield host, recorder, go
    await host.close()
    reset_event_loop()


async def _message(recorder: Recorder, count: int = 1) -> dict[str, Any]:
    await recorder.wait_for(lambda: len(recorder.of("message")) >= count)
    return recorder.of("message")[count - 1]


# --- text, replies, groups, own messages -------------------------------------------------------


async def test_a_text_message_through_neonize_dispatch_becomes_a_message_event(rig: Any) -> None:
    host, recorder, _ = rig
    peer = jid(PHONE)
    dispatch(
        host._hosted["i1"],
        message_event("M1", source(peer, peer), e2e.Message(conversation="hello")),
    )
    data = await _message(recorder)
    assert data == {
        "messageId": "M1",
        "chatJid": f"{PHONE}@s.whatsapp.net",
        "senderJid": f"{PHONE}@s.whatsapp.net",
        "timestamp": 1_760_000_000,  # neonize stamps milliseconds; the protocol seconds
        "text": "hello",
        "pushName": "Ana",
        "media": None,
        "quotedMessageId": None,
        "extra": {},
    }


async def test_a_reply_to_our_message_names_our_id_not_whatsapps(rig: Any) -> None:
    host, recorder, go = rig
    outgoing = OutgoingMessage("3EB0OURS", f"{PHONE}@s.whatsapp.net", "question?")
    await host.call("send", "i1", {"message": protocol.outgoing_to_wire(outgoing)})
    peer = jid(PHONE)
    body = e2e.Message(
        extendedTextMessage=e2e.ExtendedTextMessage(
            text="answer", contextInfo=e2e.ContextInfo(stanzaID="WA0001", participant=ME)
        )
    )
    await handler(host._hosted["i1"], npb.Message)(
        None, message_event("M2", source(peer, peer), body)
    )
    data = await _message(recorder)
    assert (data["text"], data["quotedMessageId"]) == ("answer", "3EB0OURS")


async def test_a_group_message_names_the_group_as_chat_and_the_participant_as_sender(
    rig: Any,
) -> None:
    host, recorder, _ = rig
    group, member = jid("120363000000000001", "g.us"), jid(PHONE, device=7)
    event = message_event(
        "G1", source(group, member, group=True), e2e.Message(conversation="hi all")
    )
    dispatch(host._hosted["i1"], event)
    data = await _message(recorder)
    assert data["chatJid"] == "120363000000000001@g.us"
    assert data["senderJid"] == f"{PHONE}@s.whatsapp.net"  # the device suffix is dropped
    assert data["extra"] == {"isGroup": True, "participant": f"{PHONE}@s.whatsapp.net"}


async def test_a_message_sent_from_the_phone_is_flagged_from_me(rig: Any) -> None:
    host, recorder, _ = rig
    event = message_event(
        "P1",
        source(jid(PHONE), jid(ME, device=0), from_me=True),
        e2e.Message(conversation="sent on phone"),
    )
    dispatch(host._hosted["i1"], event)
    data = await _message(recorder)
    assert data["extra"] == {"fromMe": True}
    assert data["pushName"] is None  # it would be our own name, not the contact's
    assert (data["chatJid"], data["senderJid"]) == (
        f"{PHONE}@s.whatsapp.net",
        f"{ME}@s.whatsapp.net",
    )


# --- @lid addressing ---------------------------------------------------------------------------


async def test_a_lid_sender_with_an_alternate_address_shows_the_phone_number(rig: Any) -> None:
    host, recorder, go = rig
    lid = jid("98765432109876", "lid")
    event = message_event(
        "L1", source(lid, lid, sender_alt=jid(PHONE)), e2e.Message(conversation="x")
    )
    dispatch(host._hosted["i1"], event)
    data = await _message(recorder)
    assert (data["chatJid"], data["senderJid"]) == (f"{PHONE}@s.whatsapp.net",) * 2
    assert data["extra"] == {"senderLid": "98765432109876@lid", "chatLid": "98765432109876@lid"}
    assert "GetPNFromLID" not in go.names()  # the message itself answered


async def test_a_lid_sender_without_alternate_is_resolved_from_the_store(rig: Any) -> None:
    host, recorder, go = rig
    go.lids["11122233344455"] = PHONE
    lid = jid("11122233344455", "lid")
    await handler(host._hosted["i1"], npb.Message)(
        None, message_event("L2", source(lid, lid), e2e.Message(conversation="x"))
    )
    data = await _message(recorder)
    assert (data["chatJid"], data["senderJid"]) == (f"{PHONE}@s.whatsapp.net",) * 2
    assert data["extra"] == {"senderLid": "11122233344455@lid", "chatLid": "11122233344455@lid"}
    assert go.names().count("GetPNFromLID") == 1  # chat and sender are the same LID


async def test_an_unknown_lid_stays_as_it_is_and_is_flagged(rig: Any) -> None:
    host, recorder, go = rig
    lid = jid("77700011122233", "lid")
    dispatch(
        host._hosted["i1"], message_event("L3", source(lid, lid), e2e.Message(conversation="x"))
    )
    data = await _message(recorder)
    assert (data["chatJid"], data["senderJid"]) == ("77700011122233@lid",) * 2
    assert data["extra"] == {
        "senderLid": "77700011122233@lid",
        "senderLidUnresolved": True,
        "chatLid": "77700011122233@lid",
        "chatLidUnresolved": True,
    }


async def test_a_lid_group_participant_uses_its_alternate(rig: Any) -> None:
    host, recorder, _ = rig
    group, member = jid("120363000000000002", "g.us"), jid("55500011122233", "lid")
    event = message_event(
        "L4",
        source(group, member, group=True, sender_alt=jid(PHONE)),
        e2e.Message(conversation="x"),
    )
    dispatch(host._hosted["i1"], event)
    data = await _message(recorder)
    assert (data["chatJid"], data["senderJid"]) == (
        "120363000000000002@g.us",
        f"{PHONE}@s.whatsapp.net",
    )
    assert data["extra"]["senderLid"] == "55500011122233@lid"


async def test_a_message_from_the_phone_to_a_lid_chat_uses_the_recipient_alternate(
    rig: Any,
) -> None:
    host, recorder, _ = rig
    chat, me_lid = jid("44400011122233", "lid"), jid("33300011122233", "lid")
    src = source(chat, me_lid, from_me=True, sender_alt=jid(ME), recipient_alt=jid(PHONE))
    dispatch(host._hosted["i1"], message_event("L5", src, e2e.Message(conversation="x")))
    data = await _message(recorder)
    assert (data["chatJid"], data["senderJid"]) == (
        f"{PHONE}@s.whatsapp.net",
        f"{ME}@s.whatsapp.net",
    )
    assert data["extra"]["fromMe"] is True
    assert data["extra"]["chatLid"] == "44400011122233@lid"


# --- media -------------------------------------------------------------------------------------

MEDIA_CASES = [
    (
        "imageMessage",
        {"mimetype": "image/jpeg", "caption": "a photo"},
        "image",
        "image/jpeg",
        "a photo",
    ),
    (
        "videoMessage",
        {"mimetype": "video/mp4", "caption": "a clip"},
        "video",
        "video/mp4",
        "a clip",
    ),
    (
        "audioMessage",
        {"mimetype": "audio/ogg; codecs=opus", "PTT": True},
        "audio",
        "audio/ogg",
        None,
    ),
    (
        "documentMessage",
        {"mimetype": "application/pdf", "fileName": "report.pdf", "caption": "Q3"},
        "document",
        "application/pdf",
        "Q3",
    ),
    ("stickerMessage", {"mimetype": "image/webp"}, "sticker", "image/webp", None),
]


@pytest.mark.parametrize(("field", "fields", "kind", "mime", "caption"), MEDIA_CASES)
async def test_each_media_kind_is_downloaded_and_carried_as_bytes(
    rig: Any, field: str, fields: dict[str, Any], kind: str, mime: str, caption: str | None
) -> None:
    host, recorder, go = rig
    payload = bytes(range(256)) * 4
    go.downloads["/v/x"] = payload
    peer = jid(PHONE)
    dispatch(
        host._hosted["i1"], message_event("MD1", source(peer, peer), media_part(field, **fields))
    )
    data = await _message(recorder)
    media = data["media"]
    assert base64.b64decode(media["data"]) == payload
    assert (media["kind"], media["mimeType"], media["caption"]) == (kind, mime, caption)
    if kind == "document":
        assert media["fileName"] == "report.pdf"
    else:
        assert media["fileName"].startswith("MD1.")
    assert data["text"] is None
    assert data["extra"] == ({"ptt": True} if kind == "audio" else {})
    downloaded = [body for name, body in go.calls if name == "DownloadAny"]
    assert len(downloaded) == 1 and downloaded[0].HasField(field)


async def test_a_failed_download_still_delivers_the_message_with_the_error(rig: Any) -> None:
    host, recorder, _ = rig  # no bytes known for the path: the fake answers 410
    peer = jid(PHONE)
    body = media_part("imageMessage", mimetype="image/jpeg", caption="lost")
    dispatch(host._hosted["i1"], message_event("MD2", source(peer, peer), body))
    data = await _message(recorder)
    assert data["media"] is None
    assert data["text"] == "lost"  # the caption stays readable
    assert data["extra"]["mediaKind"] == "image"
    assert "media gone (410)" in data["extra"]["mediaError"]


async def test_protocol_messages_other_than_edits_and_deletes_are_not_carried(rig: Any) -> None:
    host, recorder, _ = rig
    peer = jid(PHONE)
    setting = e2e.Message(
        protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.EPHEMERAL_SETTING)
    )
    await handler(host._hosted["i1"], npb.Message)(
        None, message_event("R1", source(peer, peer), setting)
    )
    await handler(host._hosted["i1"], npb.Message)(
        None, message_event("R2", source(peer, peer), e2e.Message(conversation="after"))
    )
    data = await _message(recorder)
    assert data["messageId"] == "R2" and len(recorder.of("message")) == 1


# --- receipts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (npb.Receipt.DELIVERED, "delivered"),
        (npb.Receipt.READ, "read"),
        (npb.Receipt.PLAYED, "read"),
    ],
)
async def test_receipts_through_dispatch_report_our_ids(rig: Any, kind: int, status: str) -> None:
    host, recorder, _ = rig
    outgoing = OutgoingMessage("3EB0MINE", f"{PHONE}@s.whatsapp.net", "hi")
    await host.call("send", "i1", {"message": protocol.outgoing_to_wire(outgoing)})
    peer = jid(PHONE)
    dispatch(host._hosted["i1"], receipt_event(source(peer, peer), ["WA0001", "OTHER"], kind))
    await recorder.wait_for(lambda: bool(recorder.of("receipt")))
    assert recorder.of("receipt") == [
        {
            "chatJid": f"{PHONE}@s.whatsapp.net",
            "messageIds": ["3EB0MINE", "OTHER"],
            "status": status,
        }
    ]


async def test_our_ids_survive_a_worker_restart(tmp_path: Path) -> None:
    reset_event_loop()
    first = make_host(tmp_path, Recorder())
    attach(first, "i1", FakeGo())
    outgoing = OutgoingMessage("3EB0BEFORE", f"{PHONE}@s.whatsapp.net", "hi")
    await first.call("send", "i1", {"message": protocol.outgoing_to_wire(outgoing)})
    await first.close()  # the worker goes away; a new one hosts the instance
    recorder = Recorder()
    second = make_host(tmp_path, recorder)
    attach(second, "i1", FakeGo())
    peer = jid(PHONE)
    event = receipt_event(source(peer, peer), ["WA0001"], npb.Receipt.DELIVERED)
    await handler(second._hosted["i1"], npb.Receipt)(None, event)
    assert recorder.of("receipt")[0]["messageIds"] == ["3EB0BEFORE"]
    await second.close()
    reset_event_loop()


async def test_a_receipt_from_a_lid_chat_names_the_phone_number(rig: Any) -> None:
    host, recorder, _ = rig
    lid = jid("98765432109876", "lid")
    src = source(lid, lid, sender_alt=jid(PHONE))
    await handler(host._hosted["i1"], npb.Receipt)(
        None, receipt_event(src, ["X1"], npb.Receipt.READ)
    )
    assert recorder.of("receipt")[0]["chatJid"] == f"{PHONE}@s.whatsapp.net"


async def test_receipts_of_other_kinds_are_ignored(rig: Any) -> None:
    host, recorder, _ = rig
    peer = jid(PHONE)
    for kind in (npb.Receipt.READ_SELF, npb.Receipt.SENDER, npb.Receipt.RETRY):
        await handler(host._hosted["i1"], npb.Receipt)(
            None, receipt_event(source(peer, peer), ["X"], kind)
        )
    assert recorder.of("receipt") == []


# --- handler failures --------------------------------------------------------------------------


async def test_a_failing_handler_is_logged_with_its_traceback_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reset_event_loop()

    async def broken(message: dict[str, Any]) -> None:
        raise RuntimeError("socket closed")

    host = make_host(tmp_path, broken)
    attach(host, "i1", FakeGo())
    peer = jid(PHONE)
    with caplog.at_level(logging.ERROR):
        await handler(host._hosted["i1"], npb.Message)(
            None, message_event("E1", source(peer, peer), e2e.Message(conversation="x"))
        )
    assert host.handler_errors == 1
    assert any("socket closed" in (r.exc_text or "") for r in caplog.records)
    await host.close()
    reset_event_loop()
