"""Typed events: one GraphQL type per event kind, each with the webhook payload's fields.

`/events` and webhooks send `{"event", "data", "timestamp"}` with `data` as the API document
shows it; here every kind is its own type (`MessageReceived`, `Connected`, ...) under the
`Event` interface, and its `data` is a typed object with exactly those fields, so clients
learn the shape of the live stream from introspection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from domain.entities import Event as EventEntity
from domain.entities import EventType as DomainEventType
from domain.times import from_ms, parse_iso
from graphql_schema.enums import EventType, LimitName, MessageState
from graphql_schema.rich_data import (
    ContactCard,
    GroupUpdateData,
    Location,
    MessageEditedData,
    MessageReactionData,
    MessageRevokedData,
    Poll,
    PollVoteData,
    PresenceUpdateData,
)
from graphql_schema.stats import Long


@strawberry.interface(description="Something that happened on an instance (webhooks, /events).")
class Event:
    id: strawberry.ID = strawberry.field(description="The event's id.")
    instance_id: strawberry.ID = strawberry.field(description="The instance it happened on.")
    type: EventType = strawberry.field(description="The kind; also told by the object type.")
    timestamp: datetime = strawberry.field(
        description="When it was recorded; strictly increasing per instance."
    )
    cursor: str = strawberry.field(
        description="Pass as `after` (events connection) to read what came after it."
    )


def _opt(data: Mapping[str, Any], key: str) -> Any:
    return data.get(key)


def _rich(d: Mapping[str, Any]) -> dict[str, Any]:
    """A rich message's details (`domain.rich_inbound.rich_payload`), typed."""
    return {
        "location": Location.from_data(d.get("location")),
        "contacts": ContactCard.list_from(d.get("contacts")),
        "poll": Poll.from_data(d.get("poll")),
    }


@strawberry.type(description="The `data` of a message_received event.")
class MessageReceivedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the message.")
    from_: str = strawberry.field(name="from", description="The chat's JID.")
    remote_jid: str = strawberry.field(description="The chat's JID (same as `from`).")
    from_me: bool = strawberry.field(description="Always false: it was received.")
    body: str | None = strawberry.field(description="Text, or a media message's caption.")
    type: str = strawberry.field(
        description="WhatsApp's kind, e.g. conversation, imageMessage, locationMessage, "
        "contactsArrayMessage, pollCreationMessage."
    )
    timestamp: Long = strawberry.field(description="When it was sent, in Unix seconds.")
    has_media: bool = strawberry.field(description="Whether it carries media.")
    push_name: str | None = strawberry.field(description="The sender's display name.")
    status: MessageState = strawberry.field(description="Always `received`.")
    media_url: str | None = strawberry.field(description="Where the media is served.")
    mime_type: str | None = strawberry.field(description="The media's MIME type.")
    file_name: str | None = strawberry.field(description="The media's file name.")
    caption: str | None = strawberry.field(description="The media's caption.")
    quoted_message_id: str | None = strawberry.field(description="The message it replies to.")
    participant: str | None = strawberry.field(description="In a group: who sent it.")
    metadata: JSON = strawberry.field(
        description="What else WhatsApp told: pushName, timestamp and any *Lid addresses."
    )
    location: Location | None = strawberry.field(description="A location message's pin.")
    contacts: list[ContactCard] | None = strawberry.field(description="A contact message's cards.")
    poll: Poll | None = strawberry.field(
        description="A poll's options (its question is `body`), votes and tally."
    )

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageReceivedData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            from_=d["from"],
            remote_jid=d.get("remoteJid", d["from"]),
            from_me=bool(d.get("fromMe", False)),
            body=_opt(d, "body"),
            type=d.get("type", ""),
            timestamp=Long(int(d.get("timestamp") or 0)),
            has_media=bool(d.get("hasMedia", False)),
            push_name=_opt(d, "pushName"),
            status=MessageState(d.get("status", "received")),
            media_url=_opt(d, "mediaUrl"),
            mime_type=_opt(d, "mimeType"),
            file_name=_opt(d, "fileName"),
            caption=_opt(d, "caption"),
            quoted_message_id=_opt(d, "quotedMessageId"),
            participant=_opt(d, "participant"),
            metadata=cast(JSON, dict(d.get("metadata") or {})),
            **_rich(d),
        )


@strawberry.type(description="The `data` of a message_sent event.")
class MessageSentData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the message.")
    to: str = strawberry.field(description="The chat's JID.")
    remote_jid: str = strawberry.field(description="The chat's JID (same as `to`).")
    from_me: bool = strawberry.field(description="Always true: it was sent.")
    body: str | None = strawberry.field(description="Text, or a media message's caption.")
    type: str = strawberry.field(
        description="text, image, video, audio, document, sticker, location, contact or poll."
    )
    timestamp: Long = strawberry.field(description="When it was sent, in Unix seconds.")
    has_media: bool = strawberry.field(description="Whether it carries media.")
    status: MessageState = strawberry.field(description="Its state when it was sent.")
    media_url: str | None = strawberry.field(description="Where the media is served.")
    mime_type: str | None = strawberry.field(description="The media's MIME type.")
    file_name: str | None = strawberry.field(description="The media's file name.")
    caption: str | None = strawberry.field(description="The media's caption.")
    quoted_message_id: str | None = strawberry.field(description="The message it replies to.")
    location: Location | None = strawberry.field(description="A location message's pin.")
    contacts: list[ContactCard] | None = strawberry.field(description="A contact message's cards.")
    poll: Poll | None = strawberry.field(
        description="A poll's options (its question is `body`), votes and tally."
    )

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageSentData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            to=d["to"],
            remote_jid=d.get("remoteJid", d["to"]),
            from_me=bool(d.get("fromMe", True)),
            body=_opt(d, "body"),
            type=d.get("type", ""),
            timestamp=Long(int(d.get("timestamp") or 0)),
            has_media=bool(d.get("hasMedia", False)),
            status=MessageState(d.get("status", "sent")),
            media_url=_opt(d, "mediaUrl"),
            mime_type=_opt(d, "mimeType"),
            file_name=_opt(d, "fileName"),
            caption=_opt(d, "caption"),
            quoted_message_id=_opt(d, "quotedMessageId"),
            **_rich(d),
        )


@strawberry.type(description="The `data` of a message_status event.")
class MessageStatusData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the message.")
    status: MessageState = strawberry.field(description="Its new state.")
    from_: str = strawberry.field(name="from", description="The chat's JID.")
    from_me: bool = strawberry.field(description="Whether the instance sent it.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageStatusData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            status=MessageState(d["status"]),
            from_=d["from"],
            from_me=bool(d.get("fromMe", True)),
        )


@strawberry.type(description="The `data` of a connected event.")
class ConnectedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> ConnectedData:
        return cls(instance_id=strawberry.ID(d["instanceId"]))


@strawberry.type(description="The `data` of a disconnected event.")
class DisconnectedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    reason: str = strawberry.field(description="Why, e.g. logout or the transport's error.")
    will_reconnect: bool = strawberry.field(description="Whether it retries by itself.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> DisconnectedData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            reason=str(d.get("reason", "")),
            will_reconnect=bool(d.get("willReconnect", False)),
        )


@strawberry.type(description="The `data` of a qr_received event.")
class QrReceivedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    qr_code: str = strawberry.field(description="The QR code's text, in WhatsApp's format.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> QrReceivedData:
        return cls(instance_id=strawberry.ID(d["instanceId"]), qr_code=d["qrCode"])


@strawberry.type(description="Today's counters of the limits reached (absent: not capped).")
class LimitUsage:
    messages_sent: Long | None = strawberry.field(description="Messages sent today.")
    media_sent: Long | None = strawberry.field(description="Media sent today.")
    api_calls: Long | None = strawberry.field(description="API calls today.")


@strawberry.type(description="The `data` of a limit_exceeded event.")
class LimitExceededData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    exceeded_limits: list[LimitName] = strawberry.field(description="The limits reached.")
    usage: LimitUsage = strawberry.field(description="Today's counters of the capped limits.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> LimitExceededData:
        usage = d.get("usage") or {}
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            exceeded_limits=[LimitName(x) for x in d.get("exceededLimits", [])],
            usage=LimitUsage(
                messages_sent=usage.get("messagesSent"),
                media_sent=usage.get("mediaSent"),
                api_calls=usage.get("apiCalls"),
            ),
        )


@strawberry.type(description="The `data` of a webhook_updated event.")
class WebhookUpdatedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    timestamp: datetime = strawberry.field(description="When the settings changed.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> WebhookUpdatedData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            timestamp=parse_iso(str(d["timestamp"]), "timestamp"),
        )


def _base(e: EventEntity) -> dict[str, Any]:
    return {
        "id": strawberry.ID(e.id),
        "instance_id": strawberry.ID(e.instance_id),
        "type": EventType.of(e.type),
        "timestamp": from_ms(e.timestamp_ms),
        "cursor": event_cursor(e.timestamp_ms),
    }


def event_cursor(timestamp_ms: int) -> str:
    from graphql_schema.relay import encode_cursor

    return encode_cursor("event", timestamp_ms)


@strawberry.type(description="A message arrived.")
class MessageReceived(Event):
    data: MessageReceivedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A message was sent.")
class MessageSent(Event):
    data: MessageSentData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A sent message's state changed.")
class MessageStatus(Event):
    data: MessageStatusData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="The WhatsApp connection was established.")
class Connected(Event):
    data: ConnectedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="The WhatsApp connection was closed.")
class Disconnected(Event):
    data: DisconnectedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A QR code to pair the instance was issued.")
class QrReceived(Event):
    data: QrReceivedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A daily usage limit was reached (once per day per limit).")
class LimitExceeded(Event):
    data: LimitExceededData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="The instance's webhook settings changed.")
class WebhookUpdated(Event):
    data: WebhookUpdatedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="Someone reacted to a message, or took a reaction back.")
class MessageReaction(Event):
    data: MessageReactionData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A message was edited.")
class MessageEdited(Event):
    data: MessageEditedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A message was deleted for everyone.")
class MessageRevoked(Event):
    data: MessageRevokedData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="Someone voted on a poll, changed or withdrew their vote.")
class PollVote(Event):
    data: PollVoteData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="Someone is typing, recording, paused, or came online/offline.")
class PresenceUpdate(Event):
    data: PresenceUpdateData = strawberry.field(description="The webhook payload's data.")


@strawberry.type(description="A group changed: created, renamed, members added, removed...")
class GroupUpdate(Event):
    data: GroupUpdateData = strawberry.field(description="The webhook payload's data.")


_KINDS: dict[DomainEventType, tuple[type[Event], Callable[[Mapping[str, Any]], Any]]] = {
    DomainEventType.MESSAGE_RECEIVED: (MessageReceived, MessageReceivedData.from_data),
    DomainEventType.MESSAGE_SENT: (MessageSent, MessageSentData.from_data),
    DomainEventType.MESSAGE_STATUS: (MessageStatus, MessageStatusData.from_data),
    DomainEventType.CONNECTED: (Connected, ConnectedData.from_data),
    DomainEventType.DISCONNECTED: (Disconnected, DisconnectedData.from_data),
    DomainEventType.QR_RECEIVED: (QrReceived, QrReceivedData.from_data),
    DomainEventType.LIMIT_EXCEEDED: (LimitExceeded, LimitExceededData.from_data),
    DomainEventType.WEBHOOK_UPDATED: (WebhookUpdated, WebhookUpdatedData.from_data),
    DomainEventType.MESSAGE_REACTION: (MessageReaction, MessageReactionData.from_data),
    DomainEventType.MESSAGE_EDITED: (MessageEdited, MessageEditedData.from_data),
    DomainEventType.MESSAGE_REVOKED: (MessageRevoked, MessageRevokedData.from_data),
    DomainEventType.POLL_VOTE: (PollVote, PollVoteData.from_data),
    DomainEventType.PRESENCE_UPDATE: (PresenceUpdate, PresenceUpdateData.from_data),
    DomainEventType.GROUP_UPDATE: (GroupUpdate, GroupUpdateData.from_data),
}

EVENT_TYPES = tuple(kind for kind, _ in _KINDS.values())


def event_from_entity(e: EventEntity) -> Event:
    kind, data = _KINDS[e.type]
    return kind(**_base(e), data=data({"instanceId": e.instance_id, **e.data}))  # type: ignore[call-arg]
