"""Enums for the closed sets of the API.

Their GraphQL names are the API document's own strings (`connected`, `message_received`),
not GraphQL's customary upper case: a client then reads the same word in REST, webhooks,
`/events` and GraphQL, and the strings the GraphQL API answered before it had enums stay
valid values."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain import entities
from domain.webhooks import DeliveryStatus as DomainDeliveryStatus


@strawberry.enum(description="Where an instance's WhatsApp connection stands.")
class InstanceState(Enum):
    connecting = "connecting"
    qr = "qr"
    connected = "connected"
    disconnected = "disconnected"
    logged_out = "logged_out"

    @classmethod
    def of(cls, value: entities.InstanceStatus) -> InstanceState:
        return cls(value.value)


@strawberry.enum(description="How an instance reaches WhatsApp.")
class EngineKind(Enum):
    neonize = "neonize"
    sandbox = "sandbox"

    @classmethod
    def of(cls, value: entities.Engine) -> EngineKind:
        return cls(value.value)


@strawberry.enum(description="The kind of an event, as in /events and webhooks.")
class EventType(Enum):
    message_received = "message_received"
    message_sent = "message_sent"
    message_status = "message_status"
    connected = "connected"
    disconnected = "disconnected"
    qr_received = "qr_received"
    limit_exceeded = "limit_exceeded"
    webhook_updated = "webhook_updated"
    # Beyond the document: sent by webhooks only when an instance's settings name them.
    message_reaction = "message_reaction"
    message_edited = "message_edited"
    message_revoked = "message_revoked"
    poll_vote = "poll_vote"
    presence_update = "presence_update"
    group_update = "group_update"

    @classmethod
    def of(cls, value: entities.EventType) -> EventType:
        return cls(value.value)


@strawberry.enum(description="A message's delivery state.")
class MessageState(Enum):
    pending = "pending"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"
    received = "received"

    @classmethod
    def of(cls, value: entities.MessageStatus) -> MessageState:
        return cls(value.value)


@strawberry.enum(description="What a receipt reports about a sent message.")
class ReceiptStatus(Enum):
    delivered = "delivered"
    read = "read"


@strawberry.enum(description="What a message carries.")
class MessageKind(Enum):
    text = "text"
    image = "image"
    video = "video"
    audio = "audio"
    document = "document"
    sticker = "sticker"
    location = "location"
    contact = "contact"
    poll = "poll"
    reaction = "reaction"


@strawberry.enum(
    description="Someone's presence: typing, recording or paused in a chat, or the "
    "account online (available) or offline (unavailable)."
)
class PresenceState(Enum):
    available = "available"
    unavailable = "unavailable"
    composing = "composing"
    recording = "recording"
    paused = "paused"


@strawberry.enum(description="What an admin can do to a group's participants.")
class ParticipantAction(Enum):
    add = "add"
    remove = "remove"
    promote = "promote"
    demote = "demote"


@strawberry.enum(description="What changed in a group (a group_update event's `action`).")
class GroupAction(Enum):
    created = "created"
    subject = "subject"
    description = "description"
    add = "add"
    remove = "remove"
    promote = "promote"
    demote = "demote"
    join = "join"
    leave = "leave"
    invite_link_revoked = "invite_link_revoked"


@strawberry.enum(description="A user's role.")
class Role(Enum):
    admin = "admin"
    user = "user"

    @classmethod
    def of(cls, value: entities.Role) -> Role:
        return cls(value.value)


@strawberry.enum(description="Where a webhook delivery stands.")
class DeliveryStatus(Enum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"

    @classmethod
    def of(cls, value: DomainDeliveryStatus) -> DeliveryStatus:
        return cls(value.value)


@strawberry.enum(description="A daily usage limit of an instance.")
class LimitName(Enum):
    maxMessagesSent = "maxMessagesSent"
    maxMediaSent = "maxMediaSent"
    maxApiCalls = "maxApiCalls"
