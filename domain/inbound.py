"""Incoming messages and delivery receipts: stored, counted, contact touched, event emitted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.entities import Contact, EventType, Message, MessageStatus
from domain.media import MediaLibrary, media_url
from domain.messages import WHATSAPP_TYPES, outgoing_status_event, sent_payload
from domain.ports import Clock, IdFactory
from domain.recorder import InstanceTransaction, Recorder
from domain.rich_inbound import RICH_TYPES, Change, rich_fields, rich_payload
from domain.wire import UPDATES, IncomingMessage


class MessageEvents:
    """The message half of the ConnectionListener: incoming messages and receipts."""

    def __init__(
        self, recorder: Recorder, clock: Clock, library: MediaLibrary, ids: IdFactory
    ) -> None:
        self._recorder = recorder
        self._clock = clock
        self._library = library
        self._ids = ids
        # KEEP_REVOKED_CONTENT: whether a message deleted for everyone keeps its content.
        self.keep_revoked = False

    async def on_message(self, instance_id: str, incoming: IncomingMessage) -> None:
        if incoming.rich is not None and incoming.rich.kind in UPDATES:
            if not await self._is_new(instance_id, incoming.message_id):
                return  # a deleted instance, or a redelivery: WhatsApp may hand it over twice
            await self._on_update(instance_id, incoming)
            return
        media = None
        if incoming.media is not None:
            # Checked before the media is kept, so a redelivery (WhatsApp may hand a message
            # over twice) or a deleted instance stores no file; the transaction below checks
            # again either way, so a text message needs no separate read.
            if not await self._is_new(instance_id, incoming.message_id):
                return
            m = incoming.media
            media = await self._library.keep(instance_id, m.data, m.mime_type, m.file_name)
        now = self._clock.now()
        kind = incoming.media.kind if incoming.media else "text"
        text, rich_meta = incoming.text, dict[str, Any]()
        if incoming.rich is not None:
            kind, text, rich_meta = rich_fields(incoming.rich)
        # Sent from the owner's phone (or another linked device): ours, already on its way.
        from_me = bool(incoming.extra.get("fromMe"))
        message = Message(
            id=self._ids(),
            instance_id=instance_id,
            remote_jid=incoming.chat_jid,
            from_me=from_me,
            message_type=kind,
            content=text,
            message_id=incoming.message_id,
            status=MessageStatus.SENT if from_me else MessageStatus.RECEIVED,
            created_at=now,
            updated_at=now,
            has_media=media is not None,
            media_id=media.id if media else None,
            media_url=media_url(media.id) if media else None,
            caption=incoming.media.caption if incoming.media else None,
            mime_type=media.mime_type if media else None,
            file_name=media.file_name if media else None,
            media_size=media.size if media else None,
            quoted_message_id=incoming.quoted_message_id,
            metadata={
                **rich_meta,
                **incoming.extra,  # the engine's own facts: LIDs, participant, ptt...
                "pushName": incoming.push_name,
                "timestamp": incoming.timestamp,
                "sender": incoming.sender_jid,
            },
            status_updated_at=now,
        )
        async with self._recorder.transaction(instance_id) as txn:
            instance = await txn.uow.instances.get(instance_id)
            if instance is None or await txn.uow.messages.get(instance_id, message.message_id):
                return  # lost a race with a delete or a duplicate since the check above
            await txn.uow.messages.add(message)
            await self._touch_contact(txn, instance_id, incoming, now)
            direction = "sent" if from_me else "received"
            await txn.uow.usage.add(
                instance_id,
                now.date(),
                {
                    f"messages_{direction}": 1,
                    f"media_{direction}": 1 if media else 0,
                    "media_bytes": media.size if media else 0,
                },
            )
            if from_me:
                await txn.log(
                    "message_sent", {"messageId": message.message_id, "to": message.remote_jid}
                )
                await txn.emit(EventType.MESSAGE_SENT, sent_payload(message), instance)
            else:
                await txn.log(
                    "message_received",
                    {"messageId": message.message_id, "from": message.remote_jid},
                )
                await txn.emit(
                    EventType.MESSAGE_RECEIVED, received_payload(message, incoming), instance
                )
            await txn.commit()

    async def _on_update(self, instance_id: str, incoming: IncomingMessage) -> None:
        """A reaction, edit, deletion or poll vote from the chat: applied to its target."""
        assert incoming.rich is not None
        now = self._clock.now()
        from_me = bool(incoming.extra.get("fromMe"))
        async with self._recorder.transaction(instance_id) as txn:
            instance = await txn.uow.instances.get(instance_id)
            if instance is None:
                return
            if incoming.rich.kind == "reaction":
                if await txn.uow.messages.get(instance_id, incoming.message_id):
                    return  # the same reaction handed over twice
                kind, text, meta = rich_fields(incoming.rich)
                await txn.uow.messages.add(
                    Message(
                        id=self._ids(),
                        instance_id=instance_id,
                        remote_jid=incoming.chat_jid,
                        from_me=from_me,
                        message_type=kind,
                        content=text,
                        message_id=incoming.message_id,
                        # a reaction is never unread: it must not count in the chat's badge
                        status=MessageStatus.SENT if from_me else MessageStatus.READ,
                        created_at=now,
                        updated_at=now,
                        metadata={**meta, **incoming.extra, "sender": incoming.sender_jid},
                        status_updated_at=now,
                    )
                )
            change = Change(
                txn,
                chat_jid=incoming.chat_jid,
                actor_jid=incoming.sender_jid,
                from_me=from_me,
                update_id=incoming.message_id,
                at=now,
                keep_revoked=self.keep_revoked,
            )
            await change.apply(incoming.rich)
            await txn.commit()

    async def _is_new(self, instance_id: str, message_id: str) -> bool:
        async with self._recorder.uow_factory(read_only=True) as uow:
            if await uow.instances.get(instance_id) is None:
                return False
            return await uow.messages.get(instance_id, message_id) is None

    async def _touch_contact(
        self, txn: InstanceTransaction, instance_id: str, incoming: IncomingMessage, now: datetime
    ) -> None:
        """The chat's contact: created on its first message, its activity moved on every
        one, its push name taken from what the sender calls itself. One write, no read."""
        is_group = incoming.chat_jid.endswith("@g.us")
        named = incoming.push_name and not is_group and not incoming.extra.get("fromMe")
        await txn.uow.contacts.touch(
            Contact(
                id=self._ids(),
                instance_id=instance_id,
                number=incoming.chat_jid.split("@", 1)[0],
                remote_jid=incoming.chat_jid,
                is_group=is_group,
                push_name=incoming.push_name if named else None,
                last_activity=now,
                created_at=now,
                updated_at=now,
            )
        )

    async def on_presence(
        self, instance_id: str, chat_jid: str, sender_jid: str, state: str
    ) -> None:
        """Typing, recording, paused, online or offline: an event only (nothing stored)."""
        async with self._recorder.transaction(instance_id) as txn:
            if await txn.uow.instances.get(instance_id) is None:
                return
            data = {"remoteJid": chat_jid, "from": sender_jid, "state": state}
            await txn.emit(EventType.PRESENCE_UPDATE, data)
            await txn.commit()

    async def on_receipt(
        self, instance_id: str, chat_jid: str, message_ids: Sequence[str], status: MessageStatus
    ) -> None:
        async with self._recorder.transaction(instance_id) as txn:
            # Receipts may arrive late or twice: a status only ever moves forward, and one
            # statement moves (and names) the messages it applies to.
            moved = await txn.uow.messages.advance_outgoing(
                instance_id, message_ids, status, self._clock.now()
            )
            for message_id, remote_jid in moved:
                await outgoing_status_event(txn, message_id, status, remote_jid)
            if moved:
                await txn.commit()


def received_payload(m: Message, incoming: IncomingMessage) -> dict[str, object]:
    """The union of the spec's two message_received examples (webhook and /events)."""
    body = m.content if m.content is not None else m.caption
    return {
        "messageId": m.message_id,
        "from": m.remote_jid,
        "remoteJid": m.remote_jid,
        "fromMe": False,
        "body": body,
        "type": WHATSAPP_TYPES.get(m.message_type)
        or RICH_TYPES.get(m.message_type, m.message_type),
        "timestamp": incoming.timestamp,
        "hasMedia": m.has_media,
        "pushName": incoming.push_name,
        "status": m.status.value,
        "mediaUrl": m.media_url,
        "mimeType": m.mime_type,
        "fileName": m.file_name,
        "caption": m.caption,
        "quotedMessageId": m.quoted_message_id,
        "participant": incoming.sender_jid if incoming.sender_jid != incoming.chat_jid else None,
        "metadata": {
            **{k: v for k, v in incoming.extra.items() if k.endswith(("Lid", "LidUnresolved"))},
            "pushName": incoming.push_name,
            "timestamp": incoming.timestamp,
        },
        **rich_payload(m),
    }
