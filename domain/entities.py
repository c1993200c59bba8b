"""Entities of the product: users, instances and what happens to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


class InstanceStatus(StrEnum):
    CONNECTING = "connecting"
    QR = "qr"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"


class EventType(StrEnum):
    MESSAGE_RECEIVED = "message_received"
    MESSAGE_SENT = "message_sent"
    MESSAGE_STATUS = "message_status"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    QR_RECEIVED = "qr_received"
    LIMIT_EXCEEDED = "limit_exceeded"
    WEBHOOK_UPDATED = "webhook_updated"
    # Beyond the document: recorded always, sent as webhooks only when an instance's
    # webhook settings name them in `events` (see DOCUMENT_EVENTS).
    MESSAGE_REACTION = "message_reaction"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_REVOKED = "message_revoked"
    POLL_VOTE = "poll_vote"
    PRESENCE_UPDATE = "presence_update"
    GROUP_UPDATE = "group_update"


# The API document's eight events: what webhooks and polling give unless asked for more.
DOCUMENT_EVENTS = (
    EventType.MESSAGE_RECEIVED,
    EventType.MESSAGE_SENT,
    EventType.MESSAGE_STATUS,
    EventType.CONNECTED,
    EventType.DISCONNECTED,
    EventType.QR_RECEIVED,
    EventType.LIMIT_EXCEEDED,
    EventType.WEBHOOK_UPDATED,
)


class Engine(StrEnum):
    NEONIZE = "neonize"
    SANDBOX = "sandbox"


@dataclass
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    role: Role
    password_hash: str
    api_key_hash: str
    # The API key encrypted with a key derived from the server secret, so that login can
    # show it (as the spec requires) while the database file alone does not reveal it.
    api_key_sealed: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = None
    # Written into every JWT issued for the user and compared on use: raised when the
    # password changes or the user is disabled or demoted, so older tokens stop working.
    token_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass
class WebhookSettings:
    notify_received: bool = True
    notify_sent: bool = True
    notify_delivery: bool = False
    notify_read: bool = False
    max_retries: int = 3
    retry_interval_ms: int = 60_000
    secret: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # The event kinds sent as webhooks (None: the document's eight); the notify* flags
    # still choose among the message events.
    events: list[str] | None = None


@dataclass
class Instance:
    id: str
    user_id: str
    name: str
    description: str | None
    engine: Engine
    status: InstanceStatus
    webhook_url: str | None
    webhook_enabled: bool
    webhook: WebhookSettings
    created_at: datetime
    updated_at: datetime
    status_reason: str | None = None
    will_reconnect: bool = True
    qr_code: str | None = None
    qr_attempt: int = 0
    phone: str | None = None
    push_name: str | None = None
    last_activity_at: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # Per-UTC-day caps: maxMessagesSent, maxMediaSent, maxApiCalls (absent = no cap).
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status is InstanceStatus.CONNECTED

    @property
    def has_qr(self) -> bool:
        return self.status is InstanceStatus.QR and bool(self.qr_code)


@dataclass
class ActivityLog:
    id: str
    instance_id: str
    action: str
    details: dict[str, Any]
    created_at: datetime


@dataclass
class Event:
    """One entry of an instance's event stream (the spec's eight types)."""

    id: str
    instance_id: str
    type: EventType
    data: dict[str, Any]
    timestamp_ms: int
    seq: int = 0


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a JWT or an API key for every request, and for every
    operation on a websocket. `expires_at` is when the credential stops working by itself
    (a JWT's expiry; None for an API key)."""

    user: User
    expires_at: datetime | None = None

    @property
    def user_id(self) -> str:
        return self.user.id

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


@dataclass(frozen=True)
class Page:
    total: int
    limit: int
    skip: int

    @property
    def has_more(self) -> bool:
        return self.skip + self.limit < self.total


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"

    @property
    def rank(self) -> int:
        """Progress order of an outgoing message; a status never moves to a lower rank."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
    MessageStatus.FAILED: 4,
    MessageStatus.RECEIVED: 0,
}


def behind_outgoing(status: MessageStatus) -> tuple[MessageStatus, ...]:
    """The statuses an outgoing message may move from to `status`: lower ranks, and never
    from `failed` (a status only moves forward)."""
    return tuple(s for s in MessageStatus if s.rank < status.rank and s is not MessageStatus.FAILED)


@dataclass
class Media:
    """A stored file: uploaded, fetched from a URL, or received."""

    id: str
    instance_id: str
    mime_type: str
    file_name: str
    size: int
    sha256: str
    created_at: datetime


@dataclass
class Message:
    id: str
    instance_id: str
    remote_jid: str
    from_me: bool
    message_type: str  # text, image, video, audio, document, sticker
    content: str | None
    message_id: str  # WhatsApp's id
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    has_media: bool = False
    media_id: str | None = None
    media_url: str | None = None
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    media_size: int | None = None
    quoted_message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    status_updated_at: datetime | None = None


@dataclass
class Contact:
    id: str
    instance_id: str
    number: str
    remote_jid: str
    is_group: bool
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    push_name: str | None = None
    profile_picture: str | None = None
    about: str | None = None
    last_activity: datetime | None = None


@dataclass
class ChatSummary:
    remote_jid: str
    last_message: Message
    unread_count: int
    message_count: int
    name: str | None = None
    marked_unread: bool = False  # WhatsApp's "mark as unread" flag, apart from unread_count
