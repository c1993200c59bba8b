"""What crosses the engine boundary: messages going out, messages and contacts coming in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime


def whatsapp_message_id() -> str:
    """An id in the shape WhatsApp multi-device clients generate (`3EB0` + hex)."""
    return "3EB0" + secrets.token_hex(10).upper()


@dataclass(frozen=True)
class MediaPayload:
    data: bytes
    mime_type: str
    file_name: str
    kind: str  # image, video, audio, document, sticker
    caption: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    to_jid: str
    text: str | None = None
    media: MediaPayload | None = None
    quoted_message_id: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    message_id: str
    chat_jid: str
    sender_jid: str
    timestamp: int  # seconds, as WhatsApp stamps messages
    text: str | None = None
    push_name: str | None = None
    media: MediaPayload | None = None
    quoted_message_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineContact:
    jid: str
    name: str | None
    push_name: str | None = None
    is_group: bool = False

    @property
    def number(self) -> str:
        return self.jid.split("@", 1)[0]


def media_kind(mime_type: str) -> str:
    major = mime_type.split("/", 1)[0].lower()
    if mime_type.lower() == "image/webp":
        return "sticker"
    if major in ("image", "video", "audio"):
        return major
    return "document"


@dataclass(frozen=True)
class NumberCheck:
    """Whether a phone number has WhatsApp, and the JID it is reached at."""

    phone: str  # digits only, as normalised from the input
    jid: str | None
    exists: bool


@dataclass(frozen=True)
class WorkerInfo:
    """One engine worker process, as the admin view shows it."""

    id: str
    pid: int | None
    status: str  # starting, running, restarting, stopped
    instances: tuple[str, ...]
    rss_bytes: int | None
    restarts: int
    started_at: datetime | None
