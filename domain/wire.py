"""What crosses the engine boundary: messages going out, messages and contacts coming in."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


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


# --- rich content: what a message carries besides text and media ------------------------


@dataclass(frozen=True)
class Reaction:
    """An emoji on a message (empty: the reaction is taken back)."""

    target_id: str
    emoji: str
    target_from_me: bool  # whether the reacted-to message was sent by the reacting side
    kind: str = "reaction"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    kind: str = "location"


@dataclass(frozen=True)
class ContactCard:
    name: str
    phone: str  # digits, international format
    vcard: str


@dataclass(frozen=True)
class ContactCards:
    cards: tuple[ContactCard, ...]
    kind: str = "contact"


@dataclass(frozen=True)
class Poll:
    question: str
    options: tuple[str, ...]
    selectable_count: int  # 1: single choice; 0: any number of options
    kind: str = "poll"


@dataclass(frozen=True)
class PollVote:
    """The options one member currently picks on a poll (empty: the vote is withdrawn)."""

    poll_id: str
    options: tuple[str, ...]
    kind: str = "poll_vote"


@dataclass(frozen=True)
class Edit:
    target_id: str
    text: str
    kind: str = "edit"


@dataclass(frozen=True)
class Revoke:
    """Delete for everyone."""

    target_id: str
    kind: str = "revoke"


RichContent = Reaction | Location | ContactCards | Poll | PollVote | Edit | Revoke

# Kinds that change another message rather than add one to the chat.
UPDATES = ("reaction", "poll_vote", "edit", "revoke")


def rich_to_wire(rich: RichContent | None) -> dict[str, Any] | None:
    """Plain JSON for the worker protocol: lists, not tuples, as they come back decoded."""
    return asdict(rich, dict_factory=_json_dict) if rich is not None else None


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in items}


def rich_from_wire(data: dict[str, Any] | None) -> RichContent | None:
    if not data:
        return None
    fields = {k: v for k, v in data.items() if k != "kind"}
    kind = data.get("kind")
    if kind == "reaction":
        return Reaction(**fields)
    if kind == "location":
        return Location(**fields)
    if kind == "contact":
        cards = tuple(ContactCard(**card) for card in fields["cards"])
        return ContactCards(cards)
    if kind == "poll":
        return Poll(fields["question"], tuple(fields["options"]), int(fields["selectable_count"]))
    if kind == "poll_vote":
        return PollVote(fields["poll_id"], tuple(fields["options"]))
    if kind == "edit":
        return Edit(**fields)
    if kind == "revoke":
        return Revoke(**fields)
    raise ValueError(f"unknown rich content kind {kind!r}")


PRESENCE_STATES = ("available", "unavailable", "composing", "recording", "paused")
CHAT_PRESENCE_STATES = ("composing", "recording", "paused")


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    to_jid: str
    text: str | None = None
    media: MediaPayload | None = None
    quoted_message_id: str | None = None
    rich: RichContent | None = None
    forwarded: bool = False


@dataclass(frozen=True)
class LastMessageKey:
    """A chat's newest message, which a read/unread mark on the chat covers: WhatsApp's app
    state names it in the mark's message range, so the phone knows how far the mark goes."""

    message_id: str
    from_me: bool
    timestamp: int  # seconds
    participant: str | None = None  # the sender, for a group message not from me


def last_message_key_to_wire(key: LastMessageKey | None) -> dict[str, Any] | None:
    return asdict(key) if key is not None else None


def last_message_key_from_wire(data: dict[str, Any] | None) -> LastMessageKey | None:
    if not data:
        return None
    return LastMessageKey(
        message_id=str(data["message_id"]),
        from_me=bool(data["from_me"]),
        timestamp=int(data["timestamp"]),
        participant=data.get("participant"),
    )


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
    rich: RichContent | None = None


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


# --- groups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupParticipant:
    jid: str
    is_admin: bool = False
    is_super_admin: bool = False  # the creator (WhatsApp's "superadmin")


@dataclass(frozen=True)
class GroupInfo:
    jid: str  # <id>@g.us
    subject: str
    description: str | None = None
    owner: str | None = None
    participants: tuple[GroupParticipant, ...] = ()
    created_at: int | None = None  # seconds


GROUP_ACTIONS = ("add", "remove", "promote", "demote")


def group_to_wire(group: GroupInfo) -> dict[str, Any]:
    return asdict(group, dict_factory=_json_dict)


def group_from_wire(data: dict[str, Any]) -> GroupInfo:
    return GroupInfo(
        jid=data["jid"],
        subject=data.get("subject") or "",
        description=data.get("description"),
        owner=data.get("owner"),
        participants=tuple(GroupParticipant(**p) for p in data.get("participants") or []),
        created_at=data.get("created_at"),
    )


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
