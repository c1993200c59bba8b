"""Mutations beyond text and files: reactions, locations, contact cards, polls and votes,
edits, deletes, forwards, presence, and the webhook's event kinds.

Each returns a payload with the changed object and `userErrors` (input the caller can fix);
authorisation, not-found, conflicts and engine failures stay GraphQL errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry

from domain.entities import Message as MessageEntity
from domain.instances import InstanceChanges, WebhookSettingsInput
from domain.rich import CardInput
from graphql_schema.context import Info
from graphql_schema.enums import EventType, PresenceState
from graphql_schema.graph import Message
from graphql_schema.payloads import UserError, attempt

T = TypeVar("T")


@strawberry.type(description="The message a rich send added or changed.")
class RichMessagePayload:
    message: Message | None = strawberry.field(
        description="The message added or changed; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


@strawberry.type(description="Whether a presence was sent.")
class PresencePayload:
    success: bool = strawberry.field(description="True once WhatsApp accepted it.")
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


@strawberry.type(description="The event kinds an instance's webhook sends.")
class WebhookEventsPayload:
    events: list[EventType] | None = strawberry.field(
        description="The event kinds the instance's webhook sends (null: the document's eight)."
    )
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


@strawberry.input(description="A location pin to send.")
class LocationInput:
    phone: str = strawberry.field(description="A phone number or a JID (a group's too).")
    latitude: float = strawberry.field(description="Degrees north, -90 to 90.")
    longitude: float = strawberry.field(description="Degrees east, -180 to 180.")
    name: str | None = strawberry.field(default=None, description="The place's name.")
    address: str | None = strawberry.field(default=None, description="The place's address.")


@strawberry.input(description="One contact card; the vCard is built from these.")
class ContactCardInput:
    name: str = strawberry.field(description="The contact's display name.")
    phone: str = strawberry.field(description="The contact's phone number.")


@strawberry.input(description="A poll to send.")
class PollInput:
    phone: str = strawberry.field(description="A phone number or a JID (a group's too).")
    question: str = strawberry.field(description="The poll's question.")
    options: list[str] = strawberry.field(description="2 to 12 distinct choices.")
    multiple_answers: bool = strawberry.field(
        default=False, description="Whether a voter may choose several options."
    )


async def _message(work: Awaitable[MessageEntity], root: str = "input") -> RichMessagePayload:
    done, errors = await attempt(work, root)
    shown = Message.from_entity(done) if done is not None else None
    return RichMessagePayload(message=shown, user_errors=errors)


@strawberry.type
class RichMutation:
    @strawberry.mutation(description="React to a message with an emoji; empty removes it.")
    async def react_to_message(
        self, info: Info, instance_id: strawberry.ID, message_id: str, emoji: str
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(c.rich.react(p, str(instance_id), message_id, emoji))

    @strawberry.mutation(description="Send a location pin.")
    async def send_location(
        self, info: Info, instance_id: strawberry.ID, input: LocationInput
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(
            c.rich.send_location(
                p,
                str(instance_id),
                input.phone,
                input.latitude,
                input.longitude,
                input.name,
                input.address,
            )
        )

    @strawberry.mutation(description="Send one or more contact cards (vCards).")
    async def send_contact_cards(
        self,
        info: Info,
        instance_id: strawberry.ID,
        phone: str,
        contacts: list[ContactCardInput],
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        cards = [CardInput(card.name, card.phone) for card in contacts]
        return await _message(c.rich.send_contacts(p, str(instance_id), phone, cards))

    @strawberry.mutation(description="Send a poll (2 to 12 options, single or multiple choice).")
    async def send_poll(
        self, info: Info, instance_id: strawberry.ID, input: PollInput
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(
            c.rich.send_poll(
                p, str(instance_id), input.phone, input.question, input.options,
                input.multiple_answers,
            )
        )  # fmt: skip

    @strawberry.mutation(description="Vote on a poll; empty options withdraw the vote.")
    async def vote_poll(
        self, info: Info, instance_id: strawberry.ID, poll_id: str, options: list[str]
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(c.rich.vote(p, str(instance_id), poll_id, options))

    @strawberry.mutation(description="Edit a sent text (within WhatsApp's 15 minutes).")
    async def edit_message(
        self, info: Info, instance_id: strawberry.ID, message_id: str, message: str
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(c.rich.edit(p, str(instance_id), message_id, message))

    @strawberry.mutation(description="Delete a sent message for everyone.")
    async def revoke_message(
        self, info: Info, instance_id: strawberry.ID, message_id: str
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(c.rich.revoke(p, str(instance_id), message_id))

    @strawberry.mutation(description="Forward a stored message to a phone number or JID.")
    async def forward_message(
        self, info: Info, instance_id: strawberry.ID, message_id: str, phone: str
    ) -> RichMessagePayload:
        c, p = info.context.container, await info.context.principal()
        return await _message(c.rich.forward(p, str(instance_id), message_id, phone))

    @strawberry.mutation(
        description="Typing/recording/paused in a chat (chatId), or available/unavailable."
    )
    async def send_presence(
        self,
        info: Info,
        instance_id: strawberry.ID,
        state: PresenceState,
        chat_id: str | None = None,
    ) -> PresencePayload:
        c, p = info.context.container, await info.context.principal()
        presence = c.rich.presence
        _, errors = await attempt(presence(p, str(instance_id), state.value, chat_id))
        return PresencePayload(success=not errors, user_errors=errors)

    @strawberry.mutation(
        description="Choose the event kinds the instance's webhook sends (the document's eight "
        "plus message_reaction, message_edited, message_revoked, poll_vote, presence_update, "
        "group_update); unfiltered event reads include the chosen ones too."
    )
    async def set_webhook_events(
        self, info: Info, instance_id: strawberry.ID, events: list[EventType]
    ) -> WebhookEventsPayload:
        c, p = info.context.container, await info.context.principal()
        names = [e.value for e in events]
        changes = InstanceChanges(webhook=WebhookSettingsInput(events=names))
        updated, errors = await attempt(c.instances.update(p, str(instance_id), changes))
        chosen = updated.webhook.events if updated is not None else None
        kinds = [EventType(e) for e in chosen] if chosen is not None else None
        return WebhookEventsPayload(events=kinds, user_errors=errors)


@strawberry.type(description="The answer of `markChatUnread`.")
class MarkChatUnreadPayload:
    success: bool = strawberry.field(description="Whether the chat is now marked unread.")
    user_errors: list[UserError] = strawberry.field(
        description="Input the caller can fix (e.g. a chatId that is not a phone or JID)."
    )


@strawberry.type
class ChatMarkMutation:
    @strawberry.mutation(
        description='WhatsApp\'s "mark as unread": a flag on the chat (the phone shows a '
        "badge), its messages untouched; a new message in the chat or markChatRead clears "
        "it. Shown as `Chat.markedUnread`."
    )
    async def mark_chat_unread(
        self, info: Info, instance_id: strawberry.ID, chat_id: str
    ) -> MarkChatUnreadPayload:
        c, p = info.context.container, await info.context.principal()
        _, errors = await attempt(c.messaging.mark_unread(p, str(instance_id), chat_id), None)
        return MarkChatUnreadPayload(success=not errors, user_errors=errors)
