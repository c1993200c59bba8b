"""The plain-message protocol between the server and an engine worker process.

A message is a JSON object; on a byte stream each one is framed as a 4-byte big-endian length
followed by that many bytes of UTF-8 JSON. The messages themselves know nothing of the pipe,
so cluster mode can later carry the same dicts over NATS.

Kinds (the `kind` field):
- `hello`    worker -> server, the first frame: `{"kind", "pid", "version"}`.
- `request`  server -> worker: `{"kind", "id", "method", "instance", "args"}`; `instance` is
             None for worker-wide methods (`ping`, `shutdown`, `stats`).
- `response` worker -> server: `{"kind", "id", "ok": true, "result"}` or
             `{"kind", "id", "ok": false, "error": {"code", "message"}}`; `code` is a domain
             error code (`engine_failure`, `validation_error`, `conflict`, `not_found`).
- `event`    worker -> server: `{"kind", "instance", "type", "data"}`, one per
             ConnectionListener call (see EVENT_TYPES); delivered in the order sent.
Bytes (media) travel as base64 strings.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from domain.entities import MessageStatus
from domain.errors import (
    Conflict,
    DomainError,
    EngineFailure,
    NotFound,
    ValidationFailed,
)
from domain.ports import ConnectionListener
from domain.wire import (
    EngineContact,
    IncomingMessage,
    MediaPayload,
    OutgoingMessage,
    RichContent,
    group_from_wire,
    rich_from_wire,
    rich_to_wire,
)

VERSION = 1
MAX_FRAME_BYTES = 256 * 1024 * 1024  # media is capped far below this by MEDIA_MAX_BYTES
_HEADER = struct.Struct(">I")

# request methods and their `args`
METHODS = {
    "ping": "{} -> {'pid'}",
    "stats": "{} -> {'pid', 'rssBytes', 'instances': [ids]}",
    "shutdown": "{} -> None; the worker stops every client and exits",
    "start": "{'options'} -> None",
    "stop": "{} -> None",
    "logout": "{} -> None",
    "destroy": "{} -> None",
    "send": "{'message': outgoing_to_wire(...)} -> None",
    "contacts": "{} -> [contact_to_wire(...)]",
    "add_contact": "{'jid', 'name'} -> None",
    "mark_read": "{'chatJid', 'messageIds'} -> None",
    "mark_unread": "{'chatJid', 'unread', 'last': last_message_key_to_wire(...) or None} -> None",
    "pairing_code": "{'phone'} -> {'code'}",
    "check_numbers": "{'phones': [str]} -> [{'phone', 'jid', 'exists'}]",
    "send_presence": "{'chatJid' (None: the account's own presence), 'state'} -> None",
    "groups": "{} -> [group_to_wire(...)]",
    "group_info": "{'groupJid'} -> group_to_wire(...)",
    "create_group": "{'subject', 'participants': [jid]} -> group_to_wire(...)",
    "set_group_subject": "{'groupJid', 'subject'} -> None",
    "set_group_description": "{'groupJid', 'description'} -> None",
    "update_group_participants": "{'groupJid', 'action', 'participants': [jid]} -> None",
    "group_invite_link": "{'groupJid', 'revoke'} -> {'link'}",
    "join_group": "{'code'} -> {'groupJid'}",
    "leave_group": "{'groupJid'} -> None",
}

# event types and their `data`, one for each ConnectionListener method
EVENT_TYPES = {
    "connecting": "{}",
    "qr": "{'qrCode'}",
    "connected": "{'phone', 'pushName'}",
    "disconnected": "{'reason', 'willReconnect'}",
    "reconnecting": "{'attempt', 'delayMs'}",
    "logged_out": "{'reason'}",
    "message": "incoming_to_wire(...)",
    "receipt": "{'chatJid', 'messageIds', 'status'}",
    "presence": "{'chatJid', 'senderJid', 'state'}",
    "group_update": "{'group': group_to_wire(...) or None, 'change': {'groupJid', 'action', ...}}",
}


class ProtocolError(Exception):
    """The peer sent something that is not a frame of this protocol."""


# --- framing ------------------------------------------------------------------------------


def encode(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes is over the limit")
    return _HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("stream ended inside a frame header") from exc
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {size} bytes is over the limit")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("stream ended inside a frame") from exc
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError("frame is not JSON") from exc
    if not isinstance(message, dict) or "kind" not in message:
        raise ProtocolError("frame is not a protocol message")
    return message


async def write_frame(writer: asyncio.StreamWriter, message: Mapping[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()


# --- message builders ---------------------------------------------------------------------


def hello(pid: int) -> dict[str, Any]:
    return {"kind": "hello", "pid": pid, "version": VERSION}


def request(
    request_id: int, method: str, instance: str | None, args: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "kind": "request",
        "id": request_id,
        "method": method,
        "instance": instance,
        "args": dict(args or {}),
    }


def ok(request_id: int, result: Any = None) -> dict[str, Any]:
    return {"kind": "response", "id": request_id, "ok": True, "result": result}


def failed(request_id: int, error: BaseException) -> dict[str, Any]:
    code = error.code if isinstance(error, DomainError) else EngineFailure.code
    return {
        "kind": "response",
        "id": request_id,
        "ok": False,
        "error": {"code": code, "message": str(error) or type(error).__name__},
    }


def event(instance: str, event_type: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {"kind": "event", "instance": instance, "type": event_type, "data": dict(data or {})}


_ERRORS: dict[str, type[DomainError]] = {
    cls.code: cls for cls in (EngineFailure, ValidationFailed, Conflict, NotFound)
}


def error_from_wire(error: Mapping[str, Any]) -> DomainError:
    """The domain exception a failed response stands for (EngineFailure when unknown)."""
    cls = _ERRORS.get(str(error.get("code")), EngineFailure)
    return cls(str(error.get("message") or "engine worker error"))


# --- payload codecs -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def media_to_wire(media: MediaPayload | None) -> dict[str, Any] | None:
    if media is None:
        return None
    return {
        "data": _b64(media.data),
        "mimeType": media.mime_type,
        "fileName": media.file_name,
        "kind": media.kind,
        "caption": media.caption,
    }


def media_from_wire(data: Mapping[str, Any] | None) -> MediaPayload | None:
    if data is None:
        return None
    return MediaPayload(
        data=_unb64(data["data"]),
        mime_type=data["mimeType"],
        file_name=data["fileName"],
        kind=data["kind"],
        caption=data.get("caption"),
    )


def outgoing_to_wire(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "toJid": message.to_jid,
        "text": message.text,
        "media": media_to_wire(message.media),
        "quotedMessageId": message.quoted_message_id,
        **_rich_fields(message.rich),
        **({"forwarded": True} if message.forwarded else {}),
    }


def _rich_fields(rich: RichContent | None) -> dict[str, Any]:
    """Only present when there is rich content: text and media frames stay as they were."""
    return {"rich": rich_to_wire(rich)} if rich is not None else {}


def outgoing_from_wire(data: Mapping[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=data["messageId"],
        to_jid=data["toJid"],
        text=data.get("text"),
        media=media_from_wire(data.get("media")),
        quoted_message_id=data.get("quotedMessageId"),
        rich=rich_from_wire(data.get("rich")),
        forwarded=bool(data.get("forwarded")),
    )


def incoming_to_wire(message: IncomingMessage) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "chatJid": message.chat_jid,
        "senderJid": message.sender_jid,
        "timestamp": message.timestamp,
        "text": message.text,
        "pushName": message.push_name,
        "media": media_to_wire(message.media),
        "quotedMessageId": message.quoted_message_id,
        "extra": dict(message.extra),
        **_rich_fields(message.rich),
    }


def incoming_from_wire(data: Mapping[str, Any]) -> IncomingMessage:
    return IncomingMessage(
        message_id=data["messageId"],
        chat_jid=data["chatJid"],
        sender_jid=data["senderJid"],
        timestamp=int(data["timestamp"]),
        text=data.get("text"),
        push_name=data.get("pushName"),
        media=media_from_wire(data.get("media")),
        quoted_message_id=data.get("quotedMessageId"),
        extra=dict(data.get("extra") or {}),
        rich=rich_from_wire(data.get("rich")),
    )


def contact_to_wire(contact: EngineContact) -> dict[str, Any]:
    return {
        "jid": contact.jid,
        "name": contact.name,
        "pushName": contact.push_name,
        "isGroup": contact.is_group,
    }


def contact_from_wire(data: Mapping[str, Any]) -> EngineContact:
    return EngineContact(
        jid=data["jid"],
        name=data.get("name"),
        push_name=data.get("pushName"),
        is_group=bool(data.get("isGroup")),
    )


def receipt_data(
    chat_jid: str, message_ids: Sequence[str], status: MessageStatus
) -> dict[str, Any]:
    return {"chatJid": chat_jid, "messageIds": list(message_ids), "status": status.value}


async def deliver(listener: ConnectionListener, message: Mapping[str, Any]) -> None:
    """Hands one `event` message to the domain's listener (the server side of EVENT_TYPES)."""
    instance, kind, data = message["instance"], message["type"], message.get("data") or {}
    if kind == "connecting":
        await listener.on_connecting(instance)
    elif kind == "qr":
        await listener.on_qr(instance, data["qrCode"])
    elif kind == "connected":
        await listener.on_connected(instance, data.get("phone"), data.get("pushName"))
    elif kind == "disconnected":
        await listener.on_disconnected(
            instance, data["reason"], bool(data.get("willReconnect", True))
        )
    elif kind == "reconnecting":
        await listener.on_reconnecting(instance, int(data["attempt"]), int(data["delayMs"]))
    elif kind == "logged_out":
        await listener.on_logged_out(instance, data["reason"])
    elif kind == "message":
        await listener.on_message(instance, incoming_from_wire(data))
    elif kind == "presence":
        await listener.on_presence(instance, data["chatJid"], data["senderJid"], data["state"])
    elif kind == "group_update":
        group = data.get("group")
        await listener.on_group_update(
            instance, group_from_wire(group) if group else None, dict(data["change"])
        )
    elif kind == "receipt":
        await listener.on_receipt(
            instance, data["chatJid"], data["messageIds"], MessageStatus(data["status"])
        )
    else:
        raise ProtocolError(f"unknown event type {kind!r}")
