"""Pure translation between neonize's protobuf objects and the engine protocol's payloads.

Nothing here talks to a client: the host looks things up (media bytes, LID mappings) and hands
the results in, so every function can be tested with real neonize objects and no Go client.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()  # before the first neonize import loads its Go library

from neonize.proto import Neonize_pb2 as npb  # noqa: E402
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

from domain.entities import MessageStatus  # noqa: E402
from domain.errors import ValidationFailed  # noqa: E402
from domain.wire import IncomingMessage, MediaPayload, RichContent  # noqa: E402

USER_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
GROUP_SERVER = "g.us"

# --- JIDs --------------------------------------------------------------------------------------


def empty_jid() -> npb.JID:
    return npb.JID(User="", Server="", RawAgent=0, Device=0, Integrator=0, IsEmpty=True)


def make_jid(user: str, server: str = USER_SERVER) -> npb.JID:
    return npb.JID(User=user, Server=server, RawAgent=0, Device=0, Integrator=0, IsEmpty=False)


def parse_jid(text: str) -> npb.JID:
    """A JID from `digits`, `+digits`, `user@server` or `user:device@server` (device dropped)."""
    value = text.strip()
    if "@" not in value:
        digits = "".join(ch for ch in value if ch not in "+-(). ")
        if not digits.isdigit():
            raise ValidationFailed(f"{text!r} is neither a JID nor a phone number")
        return make_jid(digits)
    user, server = value.rsplit("@", 1)
    user = user.split(":", 1)[0]
    if not user or not server:
        raise ValidationFailed(f"{text!r} is not a JID")
    return make_jid(user, server)


def is_empty(jid: npb.JID) -> bool:
    return bool(jid.IsEmpty) or not jid.User


def jid_text(jid: npb.JID) -> str:
    """`user@server` without agent or device: the address of a person or a chat."""
    return f"{jid.User}@{jid.Server}"


def is_lid(jid: npb.JID) -> bool:
    return jid.Server == LID_SERVER


# --- addressing (@lid) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Addressing:
    """Chat and sender of a message or receipt, shown by phone number wherever it is known."""

    chat: str
    sender: str
    extra: dict[str, Any] = field(default_factory=dict)


def unresolved_lids(source: npb.MessageSource) -> list[npb.JID]:
    """LIDs in a message source that its alternate addresses do not resolve (ask the store)."""
    pending: list[npb.JID] = []
    if is_lid(source.Sender) and is_empty(source.SenderAlt):
        pending.append(source.Sender)
    if is_lid(source.Chat) and _chat_alt(source) is None:
        if not any(jid_text(j) == jid_text(source.Chat) for j in pending):
            pending.append(source.Chat)
    return pending


def _chat_alt(source: npb.MessageSource) -> npb.JID | None:
    """The phone-number JID of a one-to-one chat addressed by LID, from the message itself."""
    if source.IsFromMe and not is_empty(source.RecipientAlt):
        return source.RecipientAlt
    if source.Chat.User == source.Sender.User and not is_empty(source.SenderAlt):
        return source.SenderAlt
    return None


def addressing(source: npb.MessageSource, known: Mapping[str, str] | None = None) -> Addressing:
    """Chat and sender as phone-number JIDs; the LIDs go to `extra`.

    `known` maps `lid@lid` to `phone@s.whatsapp.net` (the store's answers for the LIDs that
    `unresolved_lids` listed). A LID nobody can resolve stays as it is, flagged in `extra`.
    """
    known = known or {}
    extra: dict[str, Any] = {}

    def resolve(jid: npb.JID, alt: npb.JID | None, role: str) -> str:
        text = jid_text(jid)
        if not is_lid(jid):
            return text
        extra[f"{role}Lid"] = text
        if alt is not None and not is_empty(alt):
            return jid_text(alt)
        if text in known:
            return known[text]
        extra[f"{role}LidUnresolved"] = True
        return text

    sender = resolve(source.Sender, source.SenderAlt, "sender")
    chat = resolve(source.Chat, _chat_alt(source), "chat")
    return Addressing(chat=chat, sender=sender, extra=extra)


# --- incoming messages -------------------------------------------------------------------------

# field on the E2E Message -> our media kind, default MIME type
_MEDIA_FIELDS: dict[str, tuple[str, str]] = {
    "imageMessage": ("image", "image/jpeg"),
    "videoMessage": ("video", "video/mp4"),
    "audioMessage": ("audio", "audio/ogg"),
    "documentMessage": ("document", "application/octet-stream"),
    "stickerMessage": ("sticker", "image/webp"),
}


_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
    "lottieStickerMessage",
)


def unwrap(message: e2e.Message) -> e2e.Message:
    """The inner message of the wrappers whatsmeow may leave in place."""
    for wrapper in _WRAPPERS:
        if message.HasField(wrapper):
            inner = getattr(message, wrapper)
            if inner.HasField("message"):
                return unwrap(inner.message)
    return message


def media_field(message: e2e.Message) -> str | None:
    """The name of the media field a message carries, if any."""
    for name in _MEDIA_FIELDS:
        if message.HasField(name):
            return name
    return None


def _context_info(message: e2e.Message) -> e2e.ContextInfo | None:
    for name in ("extendedTextMessage", *_MEDIA_FIELDS):
        if message.HasField(name):
            part = getattr(message, name)
            if part.HasField("contextInfo"):
                return part.contextInfo  # type: ignore[no-any-return]
    return None


def message_text(message: e2e.Message) -> str | None:
    if message.HasField("conversation") or message.conversation:
        return message.conversation or None
    if message.HasField("extendedTextMessage"):
        return message.extendedTextMessage.text or None
    return None


def quoted_id(message: e2e.Message) -> str | None:
    info = _context_info(message)
    return (info.stanzaID or None) if info is not None else None


def is_supported(message: e2e.Message) -> bool:
    """Text or one of the media kinds; reactions, protocol messages, polls... are skipped."""
    return message_text(message) is not None or media_field(message) is not None


def media_payload(message_id: str, message: e2e.Message, data: bytes) -> MediaPayload | None:
    name = media_field(message)
    if name is None:
        return None
    kind, default_mime = _MEDIA_FIELDS[name]
    part = getattr(message, name)
    mime = (part.mimetype or default_mime).split(";", 1)[0].strip() or default_mime
    file_name = part.fileName if name == "documentMessage" and part.fileName else ""
    if not file_name:
        file_name = message_id + (mimetypes.guess_extension(mime) or ".bin")
    caption = getattr(part, "caption", "") if name != "stickerMessage" else ""
    return MediaPayload(
        data=data, mime_type=mime, file_name=file_name, kind=kind, caption=caption or None
    )


def seconds(timestamp: int) -> int:
    """neonize stamps messages in milliseconds, receipts in seconds; the protocol uses seconds."""
    return timestamp // 1000 if timestamp > 100_000_000_000 else timestamp


def incoming_message(
    ev: npb.Message,
    *,
    media: MediaPayload | None = None,
    media_error: str | None = None,
    known_lids: Mapping[str, str] | None = None,
    quoted_message_id: str | None = None,
    rich: RichContent | None = None,
) -> IncomingMessage | None:
    """The protocol's IncomingMessage for a MessageEv, or None for kinds we do not carry
    (`rich`: the content `rich.py` read from it, when it is one of those kinds)."""
    body = unwrap(ev.Message)
    if not is_supported(body) and rich is None:
        return None
    info = ev.Info
    source = info.MessageSource
    where = addressing(source, known_lids)
    extra: dict[str, Any] = dict(where.extra)
    if source.IsFromMe:
        extra["fromMe"] = True
    if source.IsGroup:
        extra["isGroup"] = True
        extra["participant"] = where.sender
    if body.HasField("audioMessage") and body.audioMessage.PTT:
        extra["ptt"] = True
    text = message_text(body)
    field = media_field(body)
    if media is None and field is not None:
        # the bytes could not be fetched: keep what can be shown, and say what is missing
        extra["mediaKind"] = _MEDIA_FIELDS[field][0]
        text = getattr(getattr(body, field), "caption", "") or None
    if media_error is not None:
        extra["mediaError"] = media_error
    return IncomingMessage(
        message_id=info.ID,
        chat_jid=where.chat,
        sender_jid=where.sender,
        timestamp=seconds(info.Timestamp),
        text=text,
        # on our own messages this is our name: it must not rename the contact we wrote to
        push_name=None if source.IsFromMe else (info.Pushname or None),
        media=media,
        quoted_message_id=quoted_message_id or quoted_id(body),
        extra=extra,
        rich=rich,
    )


# --- receipts ----------------------------------------------------------------------------------

_RECEIPTS = {
    npb.Receipt.DELIVERED: MessageStatus.DELIVERED,
    npb.Receipt.READ: MessageStatus.READ,
    # MessageStatus has no `played`: a played voice note or video has been read.
    npb.Receipt.PLAYED: MessageStatus.READ,
}


def receipt_status(receipt_type: int) -> MessageStatus | None:
    """The status a receipt reports for our outgoing messages; None for the other kinds."""
    return _RECEIPTS.get(receipt_type)  # type: ignore[call-overload]


# --- connection events -------------------------------------------------------------------------

_LOGOUT_REASONS = {
    npb.LOGGED_OUT: "device_unlinked (401): the device was removed in the phone's Linked devices",
    npb.MAIN_DEVICE_GONE: "account_locked (403): WhatsApp locked the account on this number",
    npb.UNKNOWN_LOGOUT: "account_banned (406): WhatsApp banned the number",
    npb.TEMP_BANNED: "temporary_ban (402): WhatsApp temporarily banned the number",
    npb.CLIENT_OUTDATED: "client_outdated (405): WhatsApp rejected this client version",
}

QR_TIMEOUT = "qr_timeout: no phone scanned the QR codes in time; reconnect to get new ones"
STREAM_REPLACED = (
    "stream_replaced: the same session was opened elsewhere (another server or worker with "
    "this device store); only one may run"
)
CLIENT_OUTDATED = "client_outdated: WhatsApp rejected this client version; upgrade neonize"
CONNECTION_LOST = "connection_lost: WhatsApp connection dropped; whatsmeow is reconnecting"
KEEPALIVE_TIMEOUT = "keepalive_timeout: WhatsApp stopped answering keepalives"


def logged_out_reason(ev: npb.LoggedOut) -> str:
    text = _LOGOUT_REASONS.get(ev.Reason)
    if text is None:
        text = f"logged_out: {npb.ConnectFailureReason.Name(ev.Reason).lower()}"
    return text + (" (on connect)" if ev.OnConnect else "")


def temporary_ban_reason(ev: npb.TemporaryBan) -> str:
    code = npb.TemporaryBan.TempBanReason.Name(ev.Code).lower()
    return f"temporary_ban: {code}; WhatsApp lifts it in {ev.Expire} s, then reconnect"


def connect_failure_reason(ev: npb.ConnectFailure) -> str:
    code = npb.ConnectFailureReason.Name(ev.Reason).lower()
    return f"connect_failure: {code}" + (f": {ev.Message}" if ev.Message else "")


def pair_error_reason(ev: npb.PairStatus) -> str:
    return "pairing_failed: " + (ev.Error or "the phone could not link this device")


def dial_error_reason(error: BaseException) -> str:
    return f"connect_failed: {error}"


# --- outgoing messages -------------------------------------------------------------------------

# our media kind -> neonize MediaType value (upload class) and E2E message field
MEDIA_UPLOAD = {"image": 0, "sticker": 0, "video": 1, "audio": 2, "document": 3}
_OUT_FIELDS = {
    "image": "imageMessage",
    "sticker": "stickerMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
}


def quote_context(
    stanza_id: str, participant: str, quoted: e2e.Message | None = None
) -> e2e.ContextInfo:
    """What WhatsApp clients need to show a reply: the quoted id, its author and its content."""
    return e2e.ContextInfo(
        stanzaID=stanza_id,
        participant=participant,
        quotedMessage=quoted if quoted is not None else e2e.Message(conversation=""),
    )


def quotable(message: e2e.Message) -> e2e.Message:
    """A copy small enough to keep for quoting: no thumbnail, no quote of its own."""
    copy = e2e.Message()
    copy.CopyFrom(message)
    for name in ("extendedTextMessage", *_MEDIA_FIELDS):
        if copy.HasField(name):
            part = getattr(copy, name)
            part.ClearField("contextInfo")
            if name != "extendedTextMessage" and part.DESCRIPTOR.fields_by_name.get(
                "JPEGThumbnail"
            ):
                part.ClearField("JPEGThumbnail")
    return copy


def text_message(text: str, context: e2e.ContextInfo | None = None) -> e2e.Message:
    if context is None:
        return e2e.Message(conversation=text)
    return e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(text=text, contextInfo=context))


def media_message(
    media: MediaPayload,
    upload: npb.UploadResponse,
    *,
    text: str | None = None,
    context: e2e.ContextInfo | None = None,
) -> e2e.Message:
    """The E2E message for uploaded media (no ffmpeg: no duration or video thumbnail)."""
    kind = media.kind if media.kind in _OUT_FIELDS else "document"
    caption = media.caption or text
    common: dict[str, Any] = {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": media.mime_type,
    }
    if context is not None:
        common["contextInfo"] = context
    if kind == "image":
        part: Any = e2e.ImageMessage(caption=caption, **common)
        thumb = jpeg_thumbnail(media.data)
        if thumb is not None:
            part.JPEGThumbnail = thumb
    elif kind == "video":
        part = e2e.VideoMessage(caption=caption, **common)
    elif kind == "audio":
        # WhatsApp plays Ogg/Opus as a voice note; anything else as an audio file.
        part = e2e.AudioMessage(PTT=media.mime_type.startswith("audio/ogg"), **common)
    elif kind == "sticker":
        part = e2e.StickerMessage(**common)
    else:
        part = e2e.DocumentMessage(
            caption=caption, fileName=media.file_name, title=media.file_name, **common
        )
    message = e2e.Message()
    getattr(message, _OUT_FIELDS[kind]).CopyFrom(part)
    return message


def jpeg_thumbnail(data: bytes, size: int = 200) -> bytes | None:
    """A small JPEG preview of an image, or None when Pillow cannot read it."""
    try:
        from PIL import Image

        with Image.open(BytesIO(data)) as img:
            img.thumbnail((size, size))
            out = BytesIO()
            img.convert("RGB").save(out, format="JPEG", quality=70)
            return out.getvalue()
    except Exception:  # a preview is optional: WhatsApp shows the media without one
        return None
