"""Response bodies of messages, chats, contacts and webhook deliveries (see `responses`)."""

from __future__ import annotations

from typing import Any

from domain.entities import MessageStatus
from domain.webhooks import DeliveryStatus, Outcome
from rest_compat.responses import Answer, Pagination

# --- messages, chats, contacts --------------------------------------------------------------


class Sent(Answer):
    """The send path's answer: one key, so validating it costs next to nothing."""

    id: str


class Message(Answer):
    id: str
    instance_id: str
    remote_jid: str
    from_me: bool
    message_type: str
    content: str | None
    message_id: str
    has_media: bool
    media_url: str | None
    caption: str | None
    mime_type: str | None
    file_name: str | None
    media_size: int | None
    quoted_message_id: str | None
    status: MessageStatus
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    status_updated_at: str | None


class MessagePage(Answer):
    messages: list[Message]
    pagination: Pagination


class Chat(Answer):
    remote_jid: str
    name: str | None
    is_group: bool
    unread_count: int
    message_count: int
    last_message: Message
    # Beyond the document (which does not define this list): WhatsApp's "mark as unread".
    marked_unread: bool


class ChatPage(Answer):
    chats: list[Chat]
    pagination: Pagination


class MarkedRead(Answer):
    success: bool
    marked_read: int


class WhatsappContact(Answer):
    id: str
    name: str | None
    number: str
    is_group: bool


class WhatsappContacts(Answer):
    contacts: list[WhatsappContact]


class AddedContactEntry(Answer):
    id: str
    number: str
    name: str | None


class AddedContact(Answer):
    success: bool
    message: str
    contact: AddedContactEntry


class Contact(Answer):
    id: str
    instance_id: str
    name: str | None
    number: str
    remote_jid: str
    push_name: str | None
    is_group: bool
    profile_picture: str | None
    about: str | None
    last_activity: str | None
    created_at: str
    updated_at: str


class ContactPage(Answer):
    contacts: list[Contact]
    pagination: Pagination


class ImportedContacts(Answer):
    success: bool
    message: str
    imported_count: int


# --- webhooks -------------------------------------------------------------------------------


class Delivery(Answer):
    id: str
    instance_id: str
    event: str
    event_id: str | None
    url: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    next_attempt_at: str | None
    delivered_at: str | None
    created_at: str
    updated_at: str
    payload: Any  # the exact JSON body that was (or will be) posted


class DeliveryPage(Answer):
    deliveries: list[Delivery]
    pagination: Pagination


class RetriedDelivery(Answer):
    success: bool
    delivery: Delivery


class WebhookTest(Answer):
    success: bool
    # delivered, http_status, timeout, connection_refused, connection_failed, host_not_found,
    # target_refused, invalid_request: a class, never the raw error of whatever answered.
    outcome: Outcome
    status_code: int | None
    error: str | None
    duration_ms: int
    delivery: Delivery
