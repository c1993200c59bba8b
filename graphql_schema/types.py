"""GraphQL object types, each built from a domain entity (`from_entity`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from domain.entities import ActivityLog as ActivityEntity
from domain.entities import ChatSummary as ChatEntity
from domain.entities import Contact as ContactEntity
from domain.entities import Event as EventEntity
from domain.entities import Instance as InstanceEntity
from domain.entities import Message as MessageEntity
from domain.entities import Page
from domain.entities import User as UserEntity
from domain.times import from_ms
from domain.wire import EngineContact as EngineContactEntity


def to_json(value: Mapping[str, Any]) -> JSON:
    """Strawberry's JSON scalar is an opaque NewType to mypy: the one cast, for output."""
    return cast(JSON, value)


def from_json(value: JSON | None) -> Any:
    """An input JSON value as plain Python; the use case validates its shape."""
    return cast(Any, value)


@strawberry.type
class Pagination:
    total: int
    limit: int
    skip: int
    has_more: bool

    @classmethod
    def from_page(cls, page: Page) -> Pagination:
        return cls(total=page.total, limit=page.limit, skip=page.skip, has_more=page.has_more)


@strawberry.type
class User:
    id: strawberry.ID
    email: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def from_entity(cls, u: UserEntity) -> User:
        return cls(
            id=strawberry.ID(u.id),
            email=u.email,
            first_name=u.first_name,
            last_name=u.last_name,
            role=u.role.value,
            is_active=u.is_active,
            created_at=u.created_at,
            updated_at=u.updated_at,
            last_login_at=u.last_login_at,
        )


@strawberry.type
class UserPage:
    users: list[User]
    pagination: Pagination


@strawberry.type
class UserWithApiKey:
    user: User
    api_key: str | None


@strawberry.type
class LoginPayload:
    token: str
    user: User
    api_key: str | None


@strawberry.type
class ConnectionStatus:
    ready: bool
    status: str
    has_qr: bool

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> ConnectionStatus:
        return cls(ready=i.ready, status=i.status.value, has_qr=i.has_qr)


@strawberry.type
class WebhookSettings:
    notify_received: bool
    notify_sent: bool
    notify_delivery: bool
    notify_read: bool
    max_retries: int
    retry_interval: int
    secret: str | None
    headers: JSON

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> WebhookSettings:
        w = i.webhook
        return cls(
            notify_received=w.notify_received,
            notify_sent=w.notify_sent,
            notify_delivery=w.notify_delivery,
            notify_read=w.notify_read,
            max_retries=w.max_retries,
            retry_interval=w.retry_interval_ms,
            secret=w.secret,
            headers=to_json(dict(w.headers)),
        )


@strawberry.type
class Instance:
    id: strawberry.ID
    user_id: str
    name: str
    description: str | None
    engine: str
    status: str
    status_reason: str | None
    phone: str | None
    push_name: str | None
    webhook_url: str | None
    webhook_enabled: bool
    webhook_settings: WebhookSettings
    connection_status: ConnectionStatus
    last_activity: datetime | None
    limits: JSON = strawberry.field(
        description="Per UTC day: maxMessagesSent, maxMediaSent, maxApiCalls"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> Instance:
        return cls(
            id=strawberry.ID(i.id),
            user_id=i.user_id,
            name=i.name,
            description=i.description,
            engine=i.engine.value,
            status=i.status.value,
            status_reason=i.status_reason,
            phone=i.phone,
            push_name=i.push_name,
            webhook_url=i.webhook_url,
            webhook_enabled=i.webhook_enabled,
            webhook_settings=WebhookSettings.from_entity(i),
            connection_status=ConnectionStatus.from_entity(i),
            last_activity=i.last_activity_at,
            limits=to_json(dict(i.limits)),
            created_at=i.created_at,
            updated_at=i.updated_at,
        )


@strawberry.type
class QrCode:
    """`qrCode` is null while the code is still being generated (`status` says why)."""

    qr_code: str | None
    status: str
    generating: bool


@strawberry.type
class ActivityLog:
    id: strawberry.ID
    instance_id: str
    action: str
    details: JSON
    created_at: datetime

    @classmethod
    def from_entity(cls, a: ActivityEntity) -> ActivityLog:
        return cls(
            id=strawberry.ID(a.id),
            instance_id=a.instance_id,
            action=a.action,
            details=to_json(a.details),
            created_at=a.created_at,
        )


@strawberry.type
class ActivityPage:
    logs: list[ActivityLog]
    pagination: Pagination


@strawberry.type
class Event:
    id: strawberry.ID
    instance_id: str
    type: str
    timestamp: datetime
    data: JSON

    @classmethod
    def from_entity(cls, e: EventEntity) -> Event:
        return cls(
            id=strawberry.ID(e.id),
            instance_id=e.instance_id,
            type=e.type.value,
            timestamp=from_ms(e.timestamp_ms),
            data=to_json(e.data),
        )


@strawberry.type
class EventPage:
    events: list[Event]
    latest_timestamp: datetime | None
    count: int
    has_more: bool


@strawberry.type
class Result:
    success: bool
    message: str


@strawberry.type
class Message:
    id: strawberry.ID
    instance_id: str
    remote_jid: str
    from_me: bool
    message_type: str
    content: str | None
    message_id: str = strawberry.field(description="WhatsApp's id of the message.")
    has_media: bool
    media_url: str | None = strawberry.field(
        description="Where the media is served, with the same credentials (GET)."
    )
    caption: str | None
    mime_type: str | None
    file_name: str | None
    media_size: int | None
    quoted_message_id: str | None
    status: str
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    status_updated_at: datetime | None

    @classmethod
    def from_entity(cls, m: MessageEntity) -> Message:
        return cls(
            id=strawberry.ID(m.id),
            instance_id=m.instance_id,
            remote_jid=m.remote_jid,
            from_me=m.from_me,
            message_type=m.message_type,
            content=m.content,
            message_id=m.message_id,
            has_media=m.has_media,
            media_url=m.media_url,
            caption=m.caption,
            mime_type=m.mime_type,
            file_name=m.file_name,
            media_size=m.media_size,
            quoted_message_id=m.quoted_message_id,
            status=m.status.value,
            metadata=to_json(dict(m.metadata)),
            created_at=m.created_at,
            updated_at=m.updated_at,
            status_updated_at=m.status_updated_at,
        )


@strawberry.type
class MessagePage:
    messages: list[Message]
    pagination: Pagination


@strawberry.type
class Chat:
    remote_jid: str
    name: str | None
    is_group: bool
    unread_count: int
    message_count: int
    last_message: Message

    @classmethod
    def from_entity(cls, c: ChatEntity) -> Chat:
        return cls(
            remote_jid=c.remote_jid,
            name=c.name,
            is_group=c.remote_jid.endswith("@g.us"),
            unread_count=c.unread_count,
            message_count=c.message_count,
            last_message=Message.from_entity(c.last_message),
        )


@strawberry.type
class ChatPage:
    chats: list[Chat]
    pagination: Pagination


@strawberry.type
class Contact:
    """A contact saved on the instance (imported, added, or seen in a chat)."""

    id: strawberry.ID
    instance_id: str
    name: str | None
    number: str
    remote_jid: str
    push_name: str | None
    is_group: bool
    profile_picture: str | None
    about: str | None
    last_activity: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_entity(cls, c: ContactEntity) -> Contact:
        return cls(
            id=strawberry.ID(c.id),
            instance_id=c.instance_id,
            name=c.name,
            number=c.number,
            remote_jid=c.remote_jid,
            push_name=c.push_name,
            is_group=c.is_group,
            profile_picture=c.profile_picture,
            about=c.about,
            last_activity=c.last_activity,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


@strawberry.type
class ContactPage:
    contacts: list[Contact]
    pagination: Pagination


@strawberry.type
class EngineContact:
    """A contact in the WhatsApp account's own address book (not saved on the instance)."""

    id: str = strawberry.field(description="The contact's JID.")
    name: str | None
    number: str
    is_group: bool

    @classmethod
    def from_entity(cls, c: EngineContactEntity) -> EngineContact:
        return cls(id=c.jid, name=c.name, number=c.number, is_group=c.is_group)
