"""The graph: an instance with its status, QR code, chats, contacts, events, usage and
deliveries as fields; a chat with its messages and contact; a message with what it quotes.

Nested reads go through the DataLoaders (`graphql_schema.loaders`): a query over fifty
instances makes as many storage round trips as a query over one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain.contacts import sort_name
from domain.entities import ChatSummary as ChatEntity
from domain.entities import Instance as InstanceEntity
from domain.entities import InstanceStatus
from domain.entities import Message as MessageEntity
from domain.errors import ValidationFailed
from graphql_schema.context import Info
from graphql_schema.enums import (
    DeliveryStatus,
    EngineKind,
    EventType,
    InstanceState,
    MessageKind,
    MessageState,
)
from graphql_schema.events import Event, event_from_entity
from graphql_schema.relay import (
    Connection,
    Node,
    connection,
    decode_cursor,
    encode_cursor,
    keyset_position,
    one_more,
)
from graphql_schema.rich_data import (
    ContactCard,
    Location,
    MessageEdit,
    Poll,
    Reaction,
    edits_of,
    reactions_of,
    revoked_at_of,
)
from graphql_schema.stats import InstanceStats, Long, UsageCounters, instance_stats, usage_counters
from graphql_schema.types import ActivityLog, Contact, Pagination, User, to_json
from graphql_schema.webhooks import WebhookDelivery

First = Annotated[
    int | None, strawberry.argument(description="Page size (1 to 1000; a default when omitted).")
]
After = Annotated[
    str | None, strawberry.argument(description="A cursor from the previous page: read after it.")
]


@strawberry.type(description="An instance's connection, as GET /api/instances/{id}/status.")
class ConnectionStatus:
    ready: bool = strawberry.field(description="Connected and able to send.")
    status: InstanceState = strawberry.field(description="Where the connection stands.")
    has_qr: bool = strawberry.field(description="A QR code is waiting to be scanned.")
    reason: str | None = strawberry.field(description="Why it is disconnected, when it is.")

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> ConnectionStatus:
        return cls(
            ready=i.ready,
            status=InstanceState.of(i.status),
            has_qr=i.has_qr,
            reason=i.status_reason,
        )


@strawberry.type(description="The QR code to pair an instance; `qrCode` null while generating.")
class QrCode:
    qr_code: str | None = strawberry.field(description="The code's text, in WhatsApp's format.")
    status: InstanceState = strawberry.field(description="The instance's state.")
    generating: bool = strawberry.field(description="True while no code is there yet.")


@strawberry.type(description="How and what an instance's webhook is sent.")
class WebhookSettings:
    notify_received: bool = strawberry.field(description="Send message_received.")
    notify_sent: bool = strawberry.field(description="Send message_sent.")
    notify_delivery: bool = strawberry.field(description="Send message_status: delivered.")
    notify_read: bool = strawberry.field(description="Send message_status: read.")
    max_retries: int = strawberry.field(description="Attempts after the first one.")
    retry_interval: int = strawberry.field(description="Milliseconds between attempts.")
    secret: str | None = strawberry.field(description="Signs X-Webhook-Signature (HMAC-SHA256).")
    headers: strawberry.scalars.JSON = strawberry.field(
        description="Custom headers sent along: an object of header name to value (names are "
        "the user's own, so it stays an open map)."
    )
    events: list[EventType] | None = strawberry.field(
        description="The event kinds the webhook sends; null: the document's eight."
    )

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
            events=[EventType(e) for e in w.events] if w.events is not None else None,
        )


@strawberry.type(description="Daily limits per UTC day; null: not capped.")
class InstanceLimits:
    max_messages_sent: Long | None = strawberry.field(description="Messages sent per day.")
    max_media_sent: Long | None = strawberry.field(description="Media sent per day.")
    max_api_calls: Long | None = strawberry.field(description="API calls per day.")

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> InstanceLimits:
        def get(name: str) -> Long | None:
            value = i.limits.get(name)
            return Long(value) if value is not None else None

        return cls(
            max_messages_sent=get("maxMessagesSent"),
            max_media_sent=get("maxMediaSent"),
            max_api_calls=get("maxApiCalls"),
        )


@strawberry.type(description="The file a media message carries.")
class MessageMedia:
    url: str | None = strawberry.field(description="Where it is served (GET, same credentials).")
    mime_type: str | None = strawberry.field(description="Its MIME type.")
    size: Long | None = strawberry.field(description="Its size in bytes.")
    file_name: str | None = strawberry.field(description="Its file name.")


def _message_cursor(m: MessageEntity) -> str:
    return encode_cursor("message", m.created_at.isoformat(), m.id)


@strawberry.type(description="A WhatsApp message, sent or received.")
class Message:
    id: strawberry.ID = strawberry.field(description="The server's id of the message.")
    instance_id: str = strawberry.field(description="The instance.")
    remote_jid: str = strawberry.field(description="The chat's JID.")
    from_me: bool = strawberry.field(description="Whether the instance sent it.")
    message_type: MessageKind = strawberry.field(description="What it carries.")
    content: str | None = strawberry.field(description="Its text.")
    message_id: str = strawberry.field(description="WhatsApp's id of the message.")
    has_media: bool = strawberry.field(description="Whether it carries media.")
    media_url: str | None = strawberry.field(
        description="Where the media is served, with the same credentials (GET)."
    )
    caption: str | None = strawberry.field(description="The media's caption.")
    mime_type: str | None = strawberry.field(description="The media's MIME type.")
    file_name: str | None = strawberry.field(description="The media's file name.")
    media_size: int | None = strawberry.field(description="The media's size in bytes.")
    quoted_message_id: str | None = strawberry.field(description="WhatsApp's id of the quoted.")
    status: MessageState = strawberry.field(description="Its delivery state.")
    metadata: strawberry.scalars.JSON = strawberry.field(
        description="What else WhatsApp told (push name, timestamps, LID addresses); the rich "
        "details below are typed fields too."
    )
    created_at: datetime = strawberry.field(description="When it was sent or received.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    status_updated_at: datetime | None = strawberry.field(description="When its state changed.")
    cursor: str = strawberry.field(description="Its position in its chat, for `after`.")
    entity: strawberry.Private[MessageEntity]
    instance: strawberry.Private[InstanceEntity | None]

    @classmethod
    def from_entity(cls, m: MessageEntity, instance: InstanceEntity | None = None) -> Message:
        return cls(
            id=strawberry.ID(m.id),
            instance_id=m.instance_id,
            remote_jid=m.remote_jid,
            from_me=m.from_me,
            message_type=MessageKind(m.message_type),
            content=m.content,
            message_id=m.message_id,
            has_media=m.has_media,
            media_url=m.media_url,
            caption=m.caption,
            mime_type=m.mime_type,
            file_name=m.file_name,
            media_size=m.media_size,
            quoted_message_id=m.quoted_message_id,
            status=MessageState.of(m.status),
            metadata=to_json(dict(m.metadata)),
            created_at=m.created_at,
            updated_at=m.updated_at,
            status_updated_at=m.status_updated_at,
            cursor=_message_cursor(m),
            entity=m,
            instance=instance,
        )

    @strawberry.field(description="The file it carries; null for text.")
    def media(self) -> MessageMedia | None:
        m = self.entity
        if not m.has_media:
            return None
        return MessageMedia(
            url=m.media_url,
            mime_type=m.mime_type,
            size=Long(m.media_size) if m.media_size is not None else None,
            file_name=m.file_name,
        )

    @strawberry.field(description="A location message's pin; null for other kinds.")
    def location(self) -> Location | None:
        return Location.from_data(self.entity.metadata.get("location"))

    @strawberry.field(description="A contact message's cards; null for other kinds.")
    def contacts(self) -> list[ContactCard] | None:
        return ContactCard.list_from(self.entity.metadata.get("contacts"))

    @strawberry.field(
        description="A poll's options, votes and tally (its question is `content`); null for "
        "other kinds."
    )
    def poll(self) -> Poll | None:
        return Poll.from_data(self.entity.metadata.get("poll"))

    @strawberry.field(description="The reactions to it, one per reactor.")
    def reactions(self) -> list[Reaction]:
        return reactions_of(self.entity.metadata)

    @strawberry.field(description="Its earlier texts when edited, oldest first.")
    def edits(self) -> list[MessageEdit]:
        return edits_of(self.entity.metadata)

    @strawberry.field(description="When it was deleted for everyone; null while it is not.")
    def revoked_at(self) -> datetime | None:
        return revoked_at_of(self.entity.metadata)

    @strawberry.field(
        description="For a reaction message: WhatsApp's id of the message it reacts to."
    )
    def reaction_target_id(self) -> str | None:
        target = self.entity.metadata.get("targetId")
        return str(target) if self.entity.message_type == "reaction" and target else None

    @strawberry.field(description="The message it replies to, when stored here.")
    async def quoted(self, info: Info) -> Message | None:
        quoted_id = self.entity.quoted_message_id
        if not quoted_id:
            return None
        instance = self.instance
        if instance is None:
            c = info.context.container
            instance = await c.instances.get(await info.context.principal(), self.instance_id)
        found = await info.context.loaders.message.load((instance, quoted_id))
        return Message.from_entity(found, instance) if found is not None else None


def message_connection(
    found: list[MessageEntity], asked: int, instance: InstanceEntity, after: str | None
) -> Connection[Message]:
    return connection(
        found[:asked] if len(found) > asked else found,
        lambda m: Message.from_entity(m, instance),
        _message_cursor,
        has_next=len(found) > asked,
        has_previous=after is not None,
    )


@strawberry.type(description="A conversation of an instance.")
class Chat:
    remote_jid: str = strawberry.field(description="The chat's JID (a person or a group).")
    name: str | None = strawberry.field(description="The saved contact's name, if any.")
    is_group: bool = strawberry.field(description="Whether it is a group.")
    unread_count: int = strawberry.field(description="Received messages not yet marked read.")
    marked_unread: bool = strawberry.field(
        description="Marked unread by the user (WhatsApp's badge on the chat, apart from "
        "`unreadCount`); a new message in the chat or a read mark clears it."
    )
    message_count: int = strawberry.field(description="Messages in the chat.")
    last_message: Message = strawberry.field(description="The most recent message.")
    cursor: str = strawberry.field(description="Its position in the chat list, for `after`.")
    instance: strawberry.Private[InstanceEntity | None]

    @classmethod
    def from_entity(cls, c: ChatEntity, instance: InstanceEntity | None = None) -> Chat:
        return cls(
            remote_jid=c.remote_jid,
            name=c.name,
            is_group=c.remote_jid.endswith("@g.us"),
            unread_count=c.unread_count,
            marked_unread=c.marked_unread,
            message_count=c.message_count,
            last_message=Message.from_entity(c.last_message, instance),
            cursor=_chat_cursor(c),
            instance=instance,
        )

    async def _instance(self, info: Info) -> InstanceEntity:
        if self.instance is not None:
            return self.instance
        c = info.context.container
        principal = await info.context.principal()
        return await c.instances.get(principal, self.last_message.instance_id)

    @strawberry.field(description="The chat's messages, newest first, by keyset cursor.")
    async def messages(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Message]:
        instance = await self._instance(info)
        asked = 50 if first is None else first
        key = (instance, self.remote_jid, one_more(first, 50), keyset_position(after, "message"))
        found = await info.context.loaders.latest_messages.load(key)
        return message_connection(found, asked, instance, after)

    @strawberry.field(description="The contact saved for this chat, if any.")
    async def contact(self, info: Info) -> Contact | None:
        instance = await self._instance(info)
        found = await info.context.loaders.contact.load((instance, self.remote_jid))
        return Contact.from_entity(found) if found is not None else None


def _chat_cursor(c: ChatEntity) -> str:
    return encode_cursor("chat", c.last_message.created_at.isoformat(), c.remote_jid)


@strawberry.type(description="A WhatsApp connection ('instance') and everything it holds.")
class Instance(Node):
    id: strawberry.ID = strawberry.field(description="The instance's id.")
    user_id: str = strawberry.field(description="The owner's user id.")
    name: str = strawberry.field(description="Its name.")
    description: str | None = strawberry.field(description="Its description.")
    engine: EngineKind = strawberry.field(description="How it reaches WhatsApp.")
    status: InstanceState = strawberry.field(description="Where its connection stands.")
    status_reason: str | None = strawberry.field(description="Why it is disconnected.")
    phone: str | None = strawberry.field(description="The paired phone number.")
    push_name: str | None = strawberry.field(description="The paired account's display name.")
    webhook_url: str | None = strawberry.field(description="Where webhooks are sent.")
    webhook_enabled: bool = strawberry.field(description="Whether webhooks are sent.")
    webhook_settings: WebhookSettings = strawberry.field(description="What and how is sent.")
    connection_status: ConnectionStatus = strawberry.field(description="The typed status.")
    last_activity: datetime | None = strawberry.field(description="Its last activity.")
    limits: InstanceLimits = strawberry.field(description="Daily limits (per UTC day).")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    entity: strawberry.Private[InstanceEntity]

    @classmethod
    def from_entity(cls, i: InstanceEntity) -> Instance:
        return cls(
            id=strawberry.ID(i.id),
            user_id=i.user_id,
            name=i.name,
            description=i.description,
            engine=EngineKind.of(i.engine),
            status=InstanceState.of(i.status),
            status_reason=i.status_reason,
            phone=i.phone,
            push_name=i.push_name,
            webhook_url=i.webhook_url,
            webhook_enabled=i.webhook_enabled,
            webhook_settings=WebhookSettings.from_entity(i),
            connection_status=ConnectionStatus.from_entity(i),
            last_activity=i.last_activity_at,
            limits=InstanceLimits.from_entity(i),
            created_at=i.created_at,
            updated_at=i.updated_at,
            entity=i,
        )

    @strawberry.field(description="The QR code to scan, while the instance shows one; else null.")
    def qr(self) -> QrCode | None:
        i = self.entity
        if i.status is not InstanceStatus.QR or not i.qr_code:
            return None
        return QrCode(qr_code=i.qr_code, status=InstanceState.of(i.status), generating=False)

    @strawberry.field(description="Conversations, the most recently active first.")
    async def chats(self, info: Info, first: First = None, after: After = None) -> Connection[Chat]:
        asked = 50 if first is None else first
        key = (self.entity, one_more(first, 50), keyset_position(after, "chat"))
        found = await info.context.loaders.recent_chats.load(key)
        return connection(
            found[:asked],
            lambda c: Chat.from_entity(c, self.entity),
            _chat_cursor,
            has_next=len(found) > asked,
            has_previous=after is not None,
        )

    @strawberry.field(description="Messages of one chat (a phone number or a JID), newest first.")
    async def messages(
        self, info: Info, chat_id: str, first: First = None, after: After = None
    ) -> Connection[Message]:
        asked = 50 if first is None else first
        key = (self.entity, chat_id, one_more(first, 50), keyset_position(after, "message"))
        found = await info.context.loaders.latest_messages.load(key)
        return message_connection(found, asked, self.entity, after)

    @strawberry.field(
        description="One conversation by its chat id (a phone number or a JID, as REST's "
        "`chatId`); null when the instance has no message in such a chat."
    )
    async def chat(self, info: Info, id: str) -> Chat | None:
        found = await info.context.loaders.chat.load((self.entity, id))
        return Chat.from_entity(found, self.entity) if found is not None else None

    @strawberry.field(
        description="Events, oldest first, after the cursor (the /events stream): keyset "
        "cursors, so events arriving between two pages are neither repeated nor skipped. "
        "`types` null: the kinds the instance's webhook sends. `last: N` instead of `first`: "
        "the newest N events (after the cursor, if given), still oldest first; then "
        "`hasPreviousPage` says whether older ones remain (what a feed shows when it opens)."
    )
    async def events(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        types: list[EventType] | None = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="The newest this many events (1-1000) instead of the oldest `first`."
            ),
        ] = None,
    ) -> Connection[Event]:
        if first is not None and last is not None:
            raise ValidationFailed("give 'first' or 'last', not both", {"field": "last"})
        position = decode_cursor(after, "event", 1)
        since = position[0] if position is not None else None
        if position is not None and (not isinstance(since, int) or isinstance(since, bool)):
            raise ValidationFailed("'after' is not a cursor of this list", {"field": "after"})
        names = tuple(t.value for t in types) if types is not None else None
        newest = last is not None
        key = (self.entity, last if newest else first, since, names, newest)
        found, more = await info.context.loaders.events.load(key)
        return connection(
            found,
            event_from_entity,
            lambda e: encode_cursor("event", e.timestamp_ms),
            has_next=False if newest else more,
            has_previous=more if newest else after is not None,
        )

    @strawberry.field(
        description="The activity log, newest first, by keyset cursor (entries logged between "
        "two pages are neither repeated nor skipped). `actions` keeps only those actions; "
        "`startDate`/`endDate` bound `createdAt` (inclusive)."
    )
    async def activity(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        actions: list[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> Connection[ActivityLog]:
        asked = 100 if first is None else first
        wanted = tuple(actions) if actions else None
        key = (
            self.entity,
            one_more(first, 100),
            keyset_position(after, "activity"),
            wanted,
            start_date,
            end_date,
        )
        found = await info.context.loaders.activity.load(key)
        return connection(
            found[:asked],
            ActivityLog.from_entity,
            lambda a: encode_cursor("activity", a.created_at.isoformat(), a.id),
            has_next=len(found) > asked,
            has_previous=after is not None,
        )

    @strawberry.field(
        description="Contacts saved on the instance, by name (the saved name, else the push "
        "name, else the number), by keyset cursor. `search` matches name, push name or "
        "number (case-insensitive); `onlyGroups` keeps groups."
    )
    async def contacts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        search: str | None = None,
        only_groups: bool = False,
    ) -> Connection[Contact]:
        asked = 100 if first is None else first
        position = decode_cursor(after, "contact", 2)
        if position is not None and not all(isinstance(p, str) for p in position):
            raise ValidationFailed("'after' is not a cursor of this list", {"field": "after"})
        start = (str(position[0]), str(position[1])) if position is not None else None
        key = (self.entity, one_more(first, 100), start, search, only_groups)
        found = await info.context.loaders.contacts.load(key)
        return connection(
            found[:asked],
            Contact.from_entity,
            lambda c: encode_cursor("contact", sort_name(c), c.id),
            has_next=len(found) > asked,
            has_previous=after is not None,
        )

    @strawberry.field(
        description="Webhook deliveries, newest first, by keyset cursor (deliveries queued "
        "between two pages are neither repeated nor skipped); `event` is an event type or "
        "`webhook_test`."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        status: DeliveryStatus | None = None,
        event: str | None = None,
    ) -> Connection[WebhookDelivery]:
        asked = 50 if first is None else first
        position = decode_cursor(after, "delivery", 1)
        seq = position[0] if position is not None else None
        if position is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
            raise ValidationFailed("'after' is not a cursor of this list", {"field": "after"})
        state = status.value if status is not None else None
        key = (self.entity, one_more(first, 50), seq, state, event)
        found = await info.context.loaders.deliveries.load(key)
        return connection(
            found[:asked],
            WebhookDelivery.from_entity,
            lambda d: encode_cursor("delivery", d.seq),
            has_next=len(found) > asked,
            has_previous=after is not None,
        )

    @strawberry.field(description="Usage with a row per day; period today|week|month|all.")
    async def stats(self, info: Info, period: str | None = None) -> InstanceStats:
        c = info.context.container
        total, daily = await c.usage.for_instance(
            await info.context.principal(), self.entity.id, period
        )
        return instance_stats(total, daily)

    @strawberry.field(description="Today's usage counters (UTC day).")
    async def usage_today(self, info: Info) -> UsageCounters:
        return usage_counters(await info.context.loaders.usage_today.load(self.entity))

    @strawberry.field(description="The owner (admin only; null with an error for others).")
    async def owner(self, info: Info) -> User | None:
        found = await info.context.loaders.user.load(self.entity.user_id)
        return User.from_entity(found) if found is not None else None


@strawberry.type(description="A page of messages (offset paging; prefer Chat.messages).")
class MessagePage:
    messages: list[Message] = strawberry.field(description="The page.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")


@strawberry.type(description="A page of chats (offset paging; prefer Instance.chats).")
class ChatPage:
    chats: list[Chat] = strawberry.field(description="The page.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")
