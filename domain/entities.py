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
    """Who is calling: resolved once per request from a JWT or an API key."""

    user: User

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
