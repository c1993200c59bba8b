"""The pure translation layer: neonize protobuf objects in, protocol payloads out."""

from __future__ import annotations

import pytest

from adapters.transport.neonize import translate as tr
from domain.errors import ValidationFailed
from domain.wire import MediaPayload
from tests.unit.neonize_support import EMPTY, e2e, jid, message_event, npb, source


@pytest.mark.parametrize(
    ("text", "user", "server"),
    [
        ("4915112345678", "4915112345678", "s.whatsapp.net"),
        ("+49 (151) 123-456.78", "4915112345678", "s.whatsapp.net"),
        ("4915112345678:12@s.whatsapp.net", "4915112345678", "s.whatsapp.net"),
        ("98765432109876@lid", "98765432109876", "lid"),
        ("120363000000000001@g.us", "120363000000000001", "g.us"),
    ],
)
def test_jids_are_read_from_numbers_and_every_jid_form(text: str, user: str, server: str) -> None:
    parsed = tr.parse_jid(text)
    assert (parsed.User, parsed.Server, parsed.Device, parsed.IsEmpty) == (user, server, 0, False)


@pytest.mark.parametrize("text", ["", "abc", "@s.whatsapp.net", "123@"])
def test_what_is_no_jid_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        tr.parse_jid(text)


def test_wrappers_are_unwrapped_to_the_message_inside() -> None:
    inner = e2e.Message(documentMessage=e2e.DocumentMessage(fileName="a.pdf", caption="c"))
    wrapped = e2e.Message(
        ephemeralMessage=e2e.FutureProofMessage(
            message=e2e.Message(documentWithCaptionMessage=e2e.FutureProofMessage(message=inner))
        )
    )
    assert tr.unwrap(wrapped) == inner
    assert tr.media_field(tr.unwrap(wrapped)) == "documentMessage"


def test_a_view_once_photo_is_carried_as_a_photo() -> None:
    photo = e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/jpeg", caption="once"))
    body = e2e.Message(viewOnceMessageV2=e2e.FutureProofMessage(message=photo))
    event = message_event("V1", source(jid("1"), jid("1")), body)
    media = tr.media_payload("V1", tr.unwrap(body), b"jpeg")
    incoming = tr.incoming_message(event, media=media)
    assert incoming is not None and incoming.media is not None
    assert (incoming.media.kind, incoming.media.caption) == ("image", "once")


def test_timestamps_become_seconds() -> None:
    assert tr.seconds(1_760_000_000_123) == 1_760_000_000
    assert tr.seconds(1_760_000_000) == 1_760_000_000


def test_a_lid_the_store_resolved_is_shown_by_phone_number() -> None:
    lid = jid("555", "lid")
    src = source(lid, lid)
    assert [tr.jid_text(j) for j in tr.unresolved_lids(src)] == ["555@lid"]  # asked once
    where = tr.addressing(src, {"555@lid": "4915112345678@s.whatsapp.net"})
    assert (where.chat, where.sender) == ("4915112345678@s.whatsapp.net",) * 2
    assert where.extra == {"senderLid": "555@lid", "chatLid": "555@lid"}


def test_phone_number_addressing_has_nothing_to_resolve() -> None:
    src = source(jid("4915112345678"), jid("4915112345678", device=3), sender_alt=EMPTY)
    assert tr.unresolved_lids(src) == []
    assert tr.addressing(src).extra == {}


def test_file_names_follow_the_mime_type_when_whatsapp_sends_none() -> None:
    body = e2e.Message(videoMessage=e2e.VideoMessage(mimetype="video/mp4"))
    media = tr.media_payload("V1", body, b"x")
    assert media == MediaPayload(b"x", "video/mp4", "V1.mp4", "video", None)


def test_terminal_reasons_name_the_code_and_what_happened() -> None:
    on_connect = tr.logged_out_reason(npb.LoggedOut(OnConnect=True, Reason=npb.UNKNOWN_LOGOUT))
    assert on_connect == "account_banned (406): WhatsApp banned the number (on connect)"
    generic = tr.logged_out_reason(npb.LoggedOut(OnConnect=False, Reason=npb.BAD_USER_AGENT))
    assert generic == "logged_out: bad_user_agent"
    ban = npb.TemporaryBan(Code=npb.TemporaryBan.BLOCKED_BY_USERS, Expire=60)
    assert tr.temporary_ban_reason(ban).startswith("temporary_ban: blocked_by_users;")
    pair = npb.PairStatus(ID=EMPTY, BusinessName="", Platform="", Status=npb.PairStatus.ERROR)
    assert tr.pair_error_reason(pair).startswith("pairing_failed: ")
    assert tr.dial_error_reason(RuntimeError("no such host")) == "connect_failed: no such host"


def test_a_document_is_built_from_the_upload_with_its_file_name_and_caption() -> None:
    upload = npb.UploadResponse(
        url="u", DirectPath="/d", Handle="h", MediaKey=b"k", FileEncSHA256=b"e",
        FileSHA256=b"s", FileLength=3,
    )  # fmt: skip
    media = MediaPayload(b"pdf", "application/pdf", "Q3.pdf", "document", None)
    context = tr.quote_context("Q1", "4915112345678@s.whatsapp.net")
    body = tr.media_message(media, upload, text="see attached", context=context)
    part = body.documentMessage
    assert (part.fileName, part.caption, part.mimetype, part.fileLength) == (
        "Q3.pdf",
        "see attached",
        "application/pdf",
        3,
    )
    assert part.contextInfo.stanzaID == "Q1"


def test_an_unreadable_image_is_sent_without_a_preview() -> None:
    assert tr.jpeg_thumbnail(b"not an image") is None


def test_a_message_kept_for_quoting_drops_its_thumbnail_and_its_own_quote() -> None:
    photo = e2e.ImageMessage(
        caption="look", JPEGThumbnail=b"\xff" * 5000, contextInfo=e2e.ContextInfo(stanzaID="Q0")
    )
    kept = tr.quotable(e2e.Message(imageMessage=photo))
    assert kept == e2e.Message(imageMessage=e2e.ImageMessage(caption="look"))
