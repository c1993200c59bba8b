"""Use cases beyond text and files: reactions, locations, contact cards, polls and votes,
edits, deletes for everyone, forwards, and presence (typing, recording, online).

Each send is validated, counted (reactions and presence are free: they do not count
against maxMessagesSent), handed to the instance's engine, and then applied to the local
history by the same rules a receiver applies (`domain/rich_inbound.py`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain import validation as v
from domain.entities import EventType, Instance, Message, MessageStatus, Principal
from domain.errors import Conflict, DomainError, EngineFailure, NotFound
from domain.instances import Instances, require_connected
from domain.media import MediaLibrary
from domain.messages import MAX_TEXT, sent_payload, status_event
from domain.phones import normalise_phone, to_jid
from domain.ports import Clock, Connections, IdFactory, UnitOfWorkFactory
from domain.recorder import Recorder
from domain.rich_inbound import Change, rich_fields, rich_payload
from domain.times import to_ms
from domain.usage import Usage
from domain.wire import (
    CHAT_PRESENCE_STATES,
    PRESENCE_STATES,
    ContactCard,
    ContactCards,
    Edit,
    Location,
    MediaPayload,
    OutgoingMessage,
    Poll,
    PollVote,
    Reaction,
    Revoke,
    RichContent,
    media_kind,
    whatsapp_message_id,
)

log = logging.getLogger(__name__)

# WhatsApp's own windows: a text can be edited for 15 minutes, deleted for everyone for
# about two and a half days.
EDIT_WINDOW = timedelta(minutes=15)
REVOKE_WINDOW = timedelta(hours=60)
MAX_POLL_OPTIONS = 12
MAX_CONTACT_CARDS = 10
FORWARDABLE = ("text", "image", "video", "audio", "document", "sticker", "location", "contact")
_USER = "@s.whatsapp.net"


@dataclass(frozen=True)
class CardInput:
    name: str
    phone: str


def vcard(name: str, phone: str) -> str:
    """A vCard 3.0 as WhatsApp clients write one: `waid` lets the app open the chat."""
    escaped = name.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return (
        "BEGIN:VCARD\nVERSION:3.0\n"
        f"FN:{escaped}\n"
        f"TEL;type=CELL;type=VOICE;waid={phone}:+{phone}\n"
        "END:VCARD"
    )


def _coordinate(value: Any, field: str, bound: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise v.fail(field, f"'{field}' must be a number")
    if not -bound <= value <= bound:
        raise v.fail(field, f"'{field}' must be between {-bound:g} and {bound:g}")
    return float(value)


def _message_id(value: str | None, field: str = "messageId") -> str:
    checked = v.text(value, field, max_len=128, required=True)
    assert checked is not None
    return checked


class RichMessaging:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        recorder: Recorder,
        instances: Instances,
        connections: Connections,
        library: MediaLibrary,
        clock: Clock,
        ids: IdFactory,
        usage: Usage,
        keep_revoked: bool = False,
        message_ids: Callable[[], str] = whatsapp_message_id,
    ) -> None:
        self._uow = uow
        self._recorder = recorder
        self._instances = instances
        self._connections = connections
        self._library = library
        self._clock = clock
        self._ids = ids
        self._usage = usage
        self._keep_revoked = keep_revoked
        self._message_ids = message_ids

    # --- sends that add a message --------------------------------------------------------

    async def send_location(
        self,
        principal: Principal,
        instance_id: str,
        phone: str,
        latitude: Any,
        longitude: Any,
        name: str | None = None,
        address: str | None = None,
    ) -> Message:
        jid = to_jid(phone)
        rich = Location(
            latitude=_coordinate(latitude, "latitude", 90),
            longitude=_coordinate(longitude, "longitude", 180),
            name=v.text(name, "name", max_len=256) or None,
            address=v.text(address, "address", max_len=512) or None,
        )
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_new(instance, jid, rich)

    async def send_contacts(
        self, principal: Principal, instance_id: str, phone: str, contacts: Sequence[CardInput]
    ) -> Message:
        jid = to_jid(phone)
        if not contacts or len(contacts) > MAX_CONTACT_CARDS:
            raise v.fail("contacts", f"'contacts' must hold 1 to {MAX_CONTACT_CARDS} cards")
        cards = []
        for n, card in enumerate(contacts):
            name = v.text(card.name, f"contacts[{n}].name", max_len=256, required=True)
            digits = normalise_phone(card.phone, f"contacts[{n}].phone")
            assert name is not None
            cards.append(ContactCard(name=name, phone=digits, vcard=vcard(name, digits)))
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_new(instance, jid, ContactCards(tuple(cards)))

    async def send_poll(
        self,
        principal: Principal,
        instance_id: str,
        phone: str,
        question: str,
        options: Sequence[str],
        multiple: bool = False,
    ) -> Message:
        jid = to_jid(phone)
        asked = v.text(question, "question", max_len=255, required=True)
        if not isinstance(options, list | tuple) or not 2 <= len(options) <= MAX_POLL_OPTIONS:
            raise v.fail("options", f"'options' must hold 2 to {MAX_POLL_OPTIONS} choices")
        clean: list[str] = []
        for n, option in enumerate(options):
            text = v.text(option, f"options[{n}]", max_len=100, required=True)
            assert text is not None
            if text in clean:
                raise v.fail("options", f"option {text!r} is given twice")
            clean.append(text)
        assert asked is not None
        rich = Poll(question=asked, options=tuple(clean), selectable_count=0 if multiple else 1)
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_new(instance, jid, rich)

    async def forward(
        self, principal: Principal, instance_id: str, message_id: str, phone: str
    ) -> Message:
        jid = to_jid(phone)
        original = await self._stored(principal, instance_id, _message_id(message_id))
        if original.message_type not in FORWARDABLE:
            raise v.fail("messageId", f"a {original.message_type} message cannot be forwarded")
        if original.metadata.get("revoked"):
            raise Conflict("The message was deleted for everyone", {"messageId": message_id})
        instance = await self._connected(principal, instance_id, counted=True)
        rich: RichContent | None = None
        meta = original.metadata
        if original.message_type == "location":
            loc = meta.get("location") or {}
            rich = Location(loc["latitude"], loc["longitude"], loc.get("name"), loc.get("address"))
        elif original.message_type == "contact":
            cards = tuple(ContactCard(**c) for c in meta.get("contacts") or [])
            rich = ContactCards(cards)
        media = None
        if original.has_media and original.media_id:
            data = await self._library.store.read(instance_id, original.media_id)
            if data is None:
                raise Conflict("The message's media is no longer stored")
            mime = original.mime_type or "application/octet-stream"
            media = MediaPayload(
                data, mime, original.file_name or "file", media_kind(mime), original.caption
            )
        return await self._send_new(
            instance, jid, rich, text=original.content, media=media, copy_of=original
        )

    # --- sends that change a message -----------------------------------------------------

    async def react(
        self, principal: Principal, instance_id: str, message_id: str, emoji: str
    ) -> Message:
        """Puts `emoji` on a message (an empty emoji takes the reaction back)."""
        if not isinstance(emoji, str) or len(emoji) > 32 or any(c.isspace() for c in emoji):
            raise v.fail("emoji", "'emoji' must be one emoji, or empty to remove the reaction")
        if any(c.isascii() and c.isalnum() for c in emoji):
            raise v.fail("emoji", "'emoji' must be an emoji, not letters or digits")
        target = await self._stored(principal, instance_id, _message_id(message_id))
        self._not_revoked(target)
        instance = await self._connected(principal, instance_id, counted=False)
        rich = Reaction(target.message_id, emoji, target_from_me=target.from_me)
        return await self._send_new(instance, target.remote_jid, rich)

    async def edit(
        self, principal: Principal, instance_id: str, message_id: str, text: str
    ) -> Message:
        if not isinstance(text, str) or not text.strip():
            raise v.fail("message", "'message' must not be empty")
        if len(text) > MAX_TEXT:
            raise v.fail("message", f"'message' must be at most {MAX_TEXT} characters")
        target = await self._stored(principal, instance_id, _message_id(message_id))
        if not target.from_me or target.message_type != "text":
            raise v.fail("messageId", "only a text message this instance sent can be edited")
        self._not_revoked(target)
        self._within(target, EDIT_WINDOW, "edited")
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_update(instance, target, Edit(target.message_id, text))

    async def revoke(self, principal: Principal, instance_id: str, message_id: str) -> Message:
        target = await self._stored(principal, instance_id, _message_id(message_id))
        if not target.from_me:
            raise v.fail("messageId", "only a message this instance sent can be deleted")
        self._not_revoked(target)
        self._within(target, REVOKE_WINDOW, "deleted for everyone")
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_update(instance, target, Revoke(target.message_id))

    async def vote(
        self, principal: Principal, instance_id: str, poll_message_id: str, options: Sequence[str]
    ) -> Message:
        """This account's choice on a poll (empty: withdraws its vote)."""
        poll = await self._stored(principal, instance_id, _message_id(poll_message_id, "pollId"))
        details = poll.metadata.get("poll")
        if poll.message_type != "poll" or not isinstance(details, dict):
            raise v.fail("pollId", "the message is not a poll")
        self._not_revoked(poll)
        if not isinstance(options, list | tuple):
            raise v.fail("options", "'options' must be a list")
        known = list(details.get("options") or [])
        unknown = [o for o in options if o not in known]
        if unknown:
            raise v.fail("options", f"not an option of this poll: {unknown[0]!r}", known=known)
        chosen = list(dict.fromkeys(options))
        if details.get("selectableCount") == 1 and len(chosen) > 1:
            raise v.fail("options", "this poll allows one choice")
        instance = await self._connected(principal, instance_id, counted=True)
        return await self._send_update(instance, poll, PollVote(poll.message_id, tuple(chosen)))

    async def presence(
        self, principal: Principal, instance_id: str, state: str, chat_id: str | None = None
    ) -> None:
        """Typing/recording/paused in a chat, or available/unavailable for the account."""
        instance = await self._instances.get(principal, instance_id)  # someone else's: 404
        if state not in PRESENCE_STATES:
            raise v.fail("state", f"'state' must be one of: {', '.join(PRESENCE_STATES)}")
        jid = None
        if state in CHAT_PRESENCE_STATES:
            if not chat_id:
                raise v.fail("chatId", f"'chatId' is required for {state!r}")
            jid = to_jid(chat_id, "chatId")
        elif chat_id:
            raise v.fail("chatId", f"{state!r} is the account's presence: give no 'chatId'")
        require_connected(instance)
        await self._engine_call(
            lambda: self._connections.engine(instance).send_presence(instance.id, jid, state)
        )

    # --- the shared steps ----------------------------------------------------------------

    async def _connected(
        self, principal: Principal, instance_id: str, *, counted: bool
    ) -> Instance:
        instance = await self._instances.get(principal, instance_id)
        if counted:
            await self._usage.precheck(instance, {"messages_sent": 1})
        require_connected(instance)
        return instance

    async def _stored(self, principal: Principal, instance_id: str, message_id: str) -> Message:
        async with self._uow(read_only=True) as uow:
            await self._instances.owned(uow, principal, instance_id)
            found = await uow.messages.get(instance_id, message_id)
        if found is None:
            raise NotFound(f"Message {message_id} not found", {"messageId": message_id})
        return found

    @staticmethod
    def _not_revoked(message: Message) -> None:
        if message.metadata.get("revoked"):
            raise Conflict(
                "The message was deleted for everyone", {"messageId": message.message_id}
            )

    def _within(self, message: Message, window: timedelta, what: str) -> None:
        if self._clock.now() - message.created_at > window:
            minutes = int(window.total_seconds() // 60)
            raise Conflict(
                f"WhatsApp lets a message be {what} only within {minutes} minutes of sending",
                {"messageId": message.message_id, "windowMinutes": minutes},
            )

    @staticmethod
    async def _engine_call(call: Callable[[], Any]) -> None:
        try:
            await call()
        except DomainError:
            raise
        except Exception as exc:
            log.exception("engine call failed")
            raise EngineFailure(f"WhatsApp did not accept the request: {exc}") from exc

    @staticmethod
    def _own_jid(instance: Instance) -> str:
        return f"{instance.phone}{_USER}" if instance.phone else "me"

    async def _send_new(
        self,
        instance: Instance,
        jid: str,
        rich: RichContent | None,
        *,
        text: str | None = None,
        media: MediaPayload | None = None,
        copy_of: Message | None = None,
    ) -> Message:
        """A message of its own (location, contact, poll, reaction, forward): written
        pending, handed over, then marked sent."""
        now = self._clock.now()
        if rich is not None:
            kind, content, meta = rich_fields(rich)
        else:
            assert copy_of is not None
            kind, content, meta = copy_of.message_type, text, {}
        message = Message(
            id=self._ids(),
            instance_id=instance.id,
            remote_jid=jid,
            from_me=True,
            message_type=kind,
            content=content,
            message_id=self._message_ids(),
            status=MessageStatus.PENDING,
            created_at=now,
            updated_at=now,
            metadata={**meta, "timestamp": to_ms(now) // 1000},
            status_updated_at=now,
        )
        if copy_of is not None:
            message.metadata["forwarded"] = True
            for name in ("has_media", "media_id", "media_url", "caption", "mime_type"):
                setattr(message, name, getattr(copy_of, name))
            message.file_name, message.media_size = copy_of.file_name, copy_of.media_size
        counters = _counters(message)
        async with self._uow() as uow:
            refused = await self._usage.consume(uow, instance, counters)
            if refused is None:
                await uow.messages.add(message)
                await uow.commit()
        if refused is not None:
            raise await self._usage.refuse(instance, refused)
        outgoing = OutgoingMessage(
            message.message_id, jid, text, media, rich=rich, forwarded=copy_of is not None
        )
        try:
            await self._engine_call(
                lambda: self._connections.engine(instance).send(instance.id, outgoing)
            )
        except DomainError as exc:
            await self._fail(message, counters, exc.message)
            raise
        async with self._recorder.transaction(instance.id) as txn:
            current = await txn.uow.messages.get(instance.id, message.message_id)
            message = current or message
            if message.status.rank < MessageStatus.SENT.rank:
                message.status = MessageStatus.SENT
                message.status_updated_at = message.updated_at = self._clock.now()
                await txn.uow.messages.update(message)
            if isinstance(rich, Reaction):
                await self._change(txn, instance, jid, message.message_id).apply(rich)
            else:
                await txn.log("message_sent", {"messageId": message.message_id, "to": jid})
                payload = {**sent_payload(message), **rich_payload(message)}
                await txn.emit(EventType.MESSAGE_SENT, payload, instance)
            await txn.commit()
        return message

    async def _send_update(self, instance: Instance, target: Message, rich: RichContent) -> Message:
        """An edit, a delete or a vote: counted, handed over, then applied to `target`."""
        counters = {"messages_sent": 1}
        async with self._uow() as uow:
            refused = await self._usage.consume(uow, instance, counters)
            if refused is None:
                await uow.commit()
        if refused is not None:
            raise await self._usage.refuse(instance, refused)
        update_id = self._message_ids()
        outgoing = OutgoingMessage(update_id, target.remote_jid, rich=rich)
        try:
            await self._engine_call(
                lambda: self._connections.engine(instance).send(instance.id, outgoing)
            )
        except DomainError:
            await self._refund(instance.id, counters)
            raise
        async with self._recorder.transaction(instance.id) as txn:
            changed = await self._change(txn, instance, target.remote_jid, update_id).apply(rich)
            await txn.commit()
        return changed or target

    def _change(self, txn: Any, instance: Instance, chat: str, update_id: str) -> Change:
        return Change(
            txn,
            chat_jid=chat,
            actor_jid=self._own_jid(instance),
            from_me=True,
            update_id=update_id,
            at=self._clock.now(),
            keep_revoked=self._keep_revoked,
        )

    async def _refund(self, instance_id: str, counters: dict[str, int]) -> None:
        async with self._uow() as uow:
            undo = {name: -amount for name, amount in counters.items()}
            await uow.usage.add(instance_id, self._usage.today(), undo)
            await uow.commit()

    async def _fail(self, message: Message, counters: dict[str, int], reason: str) -> None:
        async with self._recorder.transaction(message.instance_id) as txn:
            if await txn.uow.instances.get(message.instance_id) is None:
                return
            undo = {name: -amount for name, amount in counters.items()}
            await txn.uow.usage.add(message.instance_id, message.created_at.date(), undo)
            message.status = MessageStatus.FAILED
            message.metadata = {**message.metadata, "error": reason}
            message.status_updated_at = message.updated_at = self._clock.now()
            await txn.uow.messages.update(message)
            await status_event(txn, message)
            await txn.commit()


def _counters(message: Message) -> dict[str, int]:
    """Reactions are free; every other send counts as a message (media also as media)."""
    if message.message_type == "reaction":
        return {}
    return {
        "messages_sent": 1,
        "media_sent": 1 if message.has_media else 0,
        "media_bytes": message.media_size or 0,
    }
