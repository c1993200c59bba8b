"""Use cases for messages: sending text and media, chat history, conversations, read marks."""

from __future__ import annotations

import builtins
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import validation as v
from domain.entities import (
    ChatSummary,
    EventType,
    Instance,
    InstanceStatus,
    Media,
    Message,
    MessageStatus,
    Page,
    Principal,
)
from domain.errors import DomainError, EngineFailure, NotFound, ValidationFailed
from domain.instances import Instances, require_connected, visible
from domain.media import MediaLibrary, media_url, read_capped, too_large
from domain.phones import to_jid
from domain.ports import (
    Clock,
    Connections,
    IdFactory,
    MediaFetcher,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.recorder import InstanceTransaction, Recorder
from domain.times import parse_iso, to_ms
from domain.usage import Usage
from domain.wire import (
    LastMessageKey,
    MediaPayload,
    OutgoingMessage,
    media_kind,
    whatsapp_message_id,
)

log = logging.getLogger(__name__)

MAX_TEXT = 65_536
MAX_CAPTION = 4_096
MAX_FILE_NAME = 255

# WhatsApp's own names for message kinds, as the spec's message_received payload shows.
WHATSAPP_TYPES = {
    "text": "conversation",
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}


@dataclass(frozen=True)
class Upload:
    data: bytes
    file_name: str | None
    mime_type: str | None


def clean_file_name(name: str | None, fallback: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')
    return (base or fallback)[:MAX_FILE_NAME]


def guess_mime(file_name: str, declared: str | None) -> str:
    if declared and "/" in declared and declared != "application/octet-stream":
        return declared.split(";", 1)[0].strip().lower()
    guessed, _ = mimetypes.guess_type(file_name)
    return guessed or declared or "application/octet-stream"


def sent_payload(m: Message) -> dict[str, object]:
    return {
        "messageId": m.message_id,
        "to": m.remote_jid,
        "remoteJid": m.remote_jid,
        "fromMe": True,
        "body": m.content if m.content is not None else m.caption,
        "type": m.message_type,
        "timestamp": to_ms(m.created_at) // 1000,
        "hasMedia": m.has_media,
        "status": m.status.value,
        "mediaUrl": m.media_url,
        "mimeType": m.mime_type,
        "fileName": m.file_name,
        "caption": m.caption,
        "quotedMessageId": m.quoted_message_id,
    }


class Messaging:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        recorder: Recorder,
        instances: Instances,
        connections: Connections,
        library: MediaLibrary,
        fetcher: MediaFetcher,
        clock: Clock,
        ids: IdFactory,
        max_media_bytes: int,
        usage: Usage,
        message_ids: Callable[[], str] = whatsapp_message_id,
    ) -> None:
        self._uow = uow
        self._recorder = recorder
        self._instances = instances
        self._connections = connections
        self._library = library
        self._fetcher = fetcher
        self._clock = clock
        self._ids = ids
        self._max_media = max_media_bytes
        self._usage = usage
        self._message_ids = message_ids

    async def read_upload(
        self,
        read: Callable[[int], Awaitable[bytes]],
        declared_size: int | None,
        file_name: str | None,
        mime_type: str | None,
    ) -> Upload:
        """An uploaded file, read no further than the media size cap allows."""
        data = await read_capped(read, declared_size, self._max_media)
        return Upload(data, file_name, mime_type)

    # --- sending -------------------------------------------------------------------------

    async def _connected(self, principal: Principal, instance_id: str) -> Instance:
        instance = await self._instances.get(principal, instance_id)
        await self._usage.precheck(instance, {"messages_sent": 1})
        require_connected(instance)
        return instance

    async def send_text(
        self,
        principal: Principal,
        instance_id: str,
        phone: str,
        text: str,
        quoted_message_id: str | None = None,
    ) -> Message:
        jid = to_jid(phone)
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("'message' must not be empty", {"field": "message"})
        if len(text) > MAX_TEXT:
            raise ValidationFailed(
                f"'message' must be at most {MAX_TEXT} characters", {"field": "message"}
            )
        quoted = v.text(quoted_message_id, "quotedMessageId", max_len=128) or None
        instance = await self._connected(principal, instance_id)
        return await self._send(instance, jid, "text", text, None, quoted)

    async def send_media_url(
        self,
        principal: Principal,
        instance_id: str,
        phone: str,
        url: str,
        caption: str | None = None,
        file_name: str | None = None,
        quoted_message_id: str | None = None,
    ) -> Message:
        jid = to_jid(phone)
        checked = v.url(url, "url")
        if checked is None:
            raise ValidationFailed("'url' is required", {"field": "url"})
        caption = v.text(caption, "caption", max_len=MAX_CAPTION) or None
        instance = await self._connected(principal, instance_id)
        fetched = await self._fetcher.fetch(checked)
        name = clean_file_name(file_name or fetched.file_name, "file")
        upload = Upload(fetched.data, name, fetched.mime_type)
        return await self._send_upload(instance, jid, upload, caption, quoted_message_id)

    async def send_file(
        self,
        principal: Principal,
        instance_id: str,
        phone: str,
        upload: Upload,
        caption: str | None = None,
        quoted_message_id: str | None = None,
    ) -> Message:
        jid = to_jid(phone)
        caption = v.text(caption, "caption", max_len=MAX_CAPTION) or None
        instance = await self._connected(principal, instance_id)
        return await self._send_upload(instance, jid, upload, caption, quoted_message_id)

    async def _send_upload(
        self, instance: Instance, jid: str, upload: Upload, caption: str | None, quoted: str | None
    ) -> Message:
        if not upload.data:
            raise ValidationFailed("'file' is empty", {"field": "file"})
        if len(upload.data) > self._max_media:
            raise too_large("file", self._max_media)
        name = clean_file_name(upload.file_name, "file")
        mime = guess_mime(name, upload.mime_type)
        await self._usage.precheck(instance, {"messages_sent": 1, "media_sent": 1})
        media = await self._library.keep(instance.id, upload.data, mime, name)
        payload = MediaPayload(upload.data, mime, name, media_kind(mime), caption)
        return await self._send(instance, jid, payload.kind, None, (media, payload), quoted)

    async def _send(
        self,
        instance: Instance,
        jid: str,
        kind: str,
        text: str | None,
        media: tuple[Media, MediaPayload] | None,
        quoted: str | None,
    ) -> Message:
        now = self._clock.now()
        stored, payload = media if media else (None, None)
        message = Message(
            id=self._ids(),
            instance_id=instance.id,
            remote_jid=jid,
            from_me=True,
            message_type=kind,
            content=text,
            message_id=self._message_ids(),
            status=MessageStatus.PENDING,
            created_at=now,
            updated_at=now,
            has_media=stored is not None,
            media_id=stored.id if stored else None,
            media_url=media_url(stored.id) if stored else None,
            caption=payload.caption if payload else None,
            mime_type=stored.mime_type if stored else None,
            file_name=stored.file_name if stored else None,
            media_size=stored.size if stored else None,
            quoted_message_id=quoted,
            metadata={"timestamp": to_ms(now) // 1000},
            status_updated_at=now,
        )
        # Written (and counted against the day's limits) before it is handed over, so a
        # crash in between leaves a visible trace.
        async with self._uow() as uow:
            refused = await self._usage.consume(uow, instance, _counters(message))
            if refused is None:
                await uow.messages.add(message)
                await uow.commit()
        if refused is not None:
            raise await self._usage.refuse(instance, refused)
        outgoing = OutgoingMessage(message.message_id, jid, text, payload, quoted)
        try:
            await self._connections.engine(instance).send(instance.id, outgoing)
        except DomainError as exc:
            await self._fail(message, exc.message)
            raise
        except Exception as exc:
            log.exception("engine failed to send %s on %s", message.message_id, instance.id)
            await self._fail(message, str(exc) or type(exc).__name__)
            raise EngineFailure(
                f"WhatsApp did not accept the message: {exc}", {"messageId": message.message_id}
            ) from exc
        async with self._recorder.transaction(instance.id) as txn:
            now = self._clock.now()
            ids = [message.message_id]
            if await txn.uow.messages.advance_outgoing(instance.id, ids, MessageStatus.SENT, now):
                message.status = MessageStatus.SENT
                message.status_updated_at = message.updated_at = now
            else:  # a receipt (or a failure) got there first: report what is stored
                current = await txn.uow.messages.get(instance.id, message.message_id)
                if current is not None:
                    message = current
            await txn.log("message_sent", {"messageId": message.message_id, "to": jid})
            await txn.emit(EventType.MESSAGE_SENT, sent_payload(message), instance)
            await txn.commit()
        return message

    async def _fail(self, message: Message, reason: str) -> None:
        async with self._recorder.transaction(message.instance_id) as txn:
            if await txn.uow.instances.get(message.instance_id) is None:
                return  # deleted meanwhile: nothing left to mark
            # Not sent, so not counted: give the day's allowance back.
            undo = {name: -amount for name, amount in _counters(message).items()}
            await txn.uow.usage.add(message.instance_id, message.created_at.date(), undo)
            message.status = MessageStatus.FAILED
            message.metadata = {**message.metadata, "error": reason}
            message.status_updated_at = message.updated_at = self._clock.now()
            await txn.uow.messages.update(message)
            await _status_event(txn, message)
            await txn.commit()

    # --- reading -------------------------------------------------------------------------

    async def history(
        self,
        principal: Principal,
        instance_id: str,
        chat_id: str,
        *,
        limit: int | None = None,
        skip: int | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
    ) -> tuple[builtins.list[Message], Page]:
        jid = to_jid(chat_id, "chatId")
        lim, off = v.page(limit, skip, default=50, maximum=1000)
        start_dt = parse_iso(start, "startDate") if isinstance(start, str) else start
        end_dt = parse_iso(end, "endDate") if isinstance(end, str) else end
        # one unit of work: the ownership check and the page
        async with self._uow(read_only=True) as uow:
            await self._instances.owned(uow, principal, instance_id)
            found, total = await uow.messages.list_chat(
                instance_id, jid, start=start_dt, end=end_dt, limit=lim, skip=off
            )
        return found, Page(total, lim, off)

    async def chats(
        self,
        principal: Principal,
        instance_id: str,
        *,
        limit: int | None = None,
        skip: int | None = None,
    ) -> tuple[builtins.list[ChatSummary], Page]:
        lim, off = v.page(limit, skip, default=50, maximum=1000)
        async with self._uow(read_only=True) as uow:
            await self._instances.owned(uow, principal, instance_id)
            found, total = await uow.messages.chats(instance_id, limit=lim, skip=off)
            known = await uow.contacts.get_many(instance_id, [c.remote_jid for c in found])
        for chat in found:
            contact = known.get(chat.remote_jid)
            if contact is not None:
                chat.name = contact.name or contact.push_name
        return found, Page(total, lim, off)

    # --- batch reads (GraphQL's nested fields: one storage round trip per level) ----------

    async def recent_chats(
        self,
        principal: Principal,
        instances: Sequence[Instance],
        *,
        limit: int | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> dict[str, builtins.list[ChatSummary]]:
        """The most recently active chats of each instance, named from saved contacts; `before`
        (last activity, JID) continues a walk. Two queries, however many instances."""
        lim, _ = v.page(limit, 0, default=50, maximum=1000)
        ids = [i.id for i in visible(principal, instances)]
        async with self._uow(read_only=True) as uow:
            found = await uow.messages.recent_chats(ids, before=before, limit=lim)
            keys = [(i, c.remote_jid) for i, chats in found.items() for c in chats]
            known = await uow.contacts.find(keys)
        for instance_id, chats in found.items():
            for chat in chats:
                contact = known.get((instance_id, chat.remote_jid))
                if contact is not None:
                    chat.name = contact.name or contact.push_name
        return found

    async def chats_by_id(
        self, principal: Principal, keys: Sequence[tuple[Instance, str]]
    ) -> builtins.list[ChatSummary | None]:
        """The conversation of each (instance, chat id: a phone or a JID), in the order
        given, named from saved contacts; None where the instance has no such chat. Two
        queries, however many keys."""
        visible(principal, [instance for instance, _ in keys])
        wanted = [(instance.id, to_jid(chat_id, "chatId")) for instance, chat_id in keys]
        async with self._uow(read_only=True) as uow:
            found = await uow.messages.chats_by_jid(wanted)
            known = await uow.contacts.find(builtins.list(found))
        for key, chat in found.items():
            contact = known.get(key)
            if contact is not None:
                chat.name = contact.name or contact.push_name
        return [found.get(key) for key in wanted]

    async def latest(
        self,
        principal: Principal,
        chats: Sequence[tuple[Instance, str]],
        *,
        limit: int | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> builtins.list[builtins.list[Message]]:
        """A newest-first keyset page of each (instance, chat id), in the order given:
        strictly older than `before` (created_at, row id), so new messages never shift a
        walk. One query."""
        lim, _ = v.page(limit, 0, default=50, maximum=1000)
        visible(principal, [instance for instance, _ in chats])
        keys = [(instance.id, to_jid(chat_id, "chatId")) for instance, chat_id in chats]
        async with self._uow(read_only=True) as uow:
            found = await uow.messages.latest(keys, before=before, limit=lim)
        return [found.get(key, []) for key in keys]

    async def by_ids(
        self, principal: Principal, keys: Sequence[tuple[Instance, str]]
    ) -> dict[tuple[str, str], Message]:
        """Messages by (instance, WhatsApp id), e.g. the messages others quote. One query."""
        visible(principal, [instance for instance, _ in keys])
        async with self._uow(read_only=True) as uow:
            return await uow.messages.get_many([(i.id, message_id) for i, message_id in keys])

    async def mark_read(self, principal: Principal, instance_id: str, chat_id: str) -> int:
        """Marks a chat's received messages read and sends read receipts; returns how many.
        Also clears the chat's "marked unread" flag (on the phone too)."""
        jid = to_jid(chat_id, "chatId")
        instance = await self._instances.get(principal, instance_id)
        async with self._uow() as uow:
            unread = await uow.messages.unread(instance_id, jid)
            was_marked = await uow.messages.set_marked_unread(instance_id, jid, False)
            if not unread and not was_marked:
                return 0
            if unread:
                await uow.messages.set_status(
                    instance_id,
                    [m.message_id for m in unread],
                    MessageStatus.READ,
                    self._clock.now(),
                )
            last = await _last_key(uow, instance_id, jid) if was_marked else None
            await uow.commit()
        if instance.status is InstanceStatus.CONNECTED:
            engine = self._connections.engine(instance)
            if unread:
                try:
                    await engine.mark_read(instance_id, jid, [m.message_id for m in unread])
                except Exception:  # the local read mark stands; receipts are best effort
                    log.warning(
                        "read receipts for %s on %s not sent", jid, instance_id, exc_info=True
                    )
            if was_marked:
                await self._send_mark(instance, jid, last, unread=False)
        return len(unread)

    async def mark_unread(self, principal: Principal, instance_id: str, chat_id: str) -> None:
        """Marks a chat unread as WhatsApp does: a flag on the chat (the phone shows a badge),
        its messages untouched. A message sent or received in the chat, or a read mark, clears
        it. NotFound for a chat the instance has no message in."""
        jid = to_jid(chat_id, "chatId")
        instance = await self._instances.get(principal, instance_id)
        async with self._uow() as uow:
            if await uow.messages.set_marked_unread(instance_id, jid, True) is None:
                raise NotFound(f"Chat {jid} not found")
            last = await _last_key(uow, instance_id, jid)
            await uow.commit()
        if instance.status is InstanceStatus.CONNECTED:
            await self._send_mark(instance, jid, last, unread=True)

    async def _send_mark(
        self, instance: Instance, jid: str, last: LastMessageKey | None, *, unread: bool
    ) -> None:
        try:
            await self._connections.engine(instance).mark_unread(
                instance.id, jid, last, unread=unread
            )
        except Exception:  # the local mark stands; WhatsApp's copy of it is best effort
            state = "unread" if unread else "read"
            log.warning("%s mark for %s on %s not sent", state, jid, instance.id, exc_info=True)

    async def media(self, principal: Principal, media_id: str) -> tuple[Media, bytes]:
        async with self._uow(read_only=True) as uow:
            media = await uow.media.get(media_id)
        if media is None:
            raise NotFound(f"Media {media_id} not found")
        try:
            await self._instances.get(principal, media.instance_id)
        except NotFound:
            raise NotFound(f"Media {media_id} not found") from None
        data = await self._library.store.read(media.instance_id, media.id)
        if data is None:
            raise NotFound(f"Media {media_id} is no longer stored")
        return media, data


async def _last_key(uow: UnitOfWork, instance_id: str, jid: str) -> LastMessageKey | None:
    """The chat's newest message, as a read/unread mark on the chat names it."""
    found = await uow.messages.latest([(instance_id, jid)], before=None, limit=1)
    newest = found.get((instance_id, jid)) or []
    if not newest:
        return None
    m = newest[0]
    participant = m.metadata.get("participant")
    return LastMessageKey(
        message_id=m.message_id,
        from_me=m.from_me,
        timestamp=int(m.created_at.timestamp()),
        participant=str(participant) if participant and not m.from_me else None,
    )


def _counters(message: Message) -> dict[str, int]:
    return {
        "messages_sent": 1,
        "media_sent": 1 if message.has_media else 0,
        "media_bytes": message.media_size or 0,
    }


async def _status_event(txn: InstanceTransaction, message: Message) -> None:
    details = {
        "messageId": message.message_id,
        "status": message.status.value,
        "from": message.remote_jid,
        "fromMe": message.from_me,
    }
    await txn.log("message_status", details)
    await txn.emit(EventType.MESSAGE_STATUS, details)


status_event = _status_event  # the rich sends (domain/rich.py) announce theirs the same way


async def outgoing_status_event(
    txn: InstanceTransaction, message_id: str, status: MessageStatus, remote_jid: str
) -> None:
    """The `message_status` event of one of our messages (a receipt), as `_status_event`."""
    details = {"messageId": message_id, "status": status.value, "from": remote_jid, "fromMe": True}
    await txn.log("message_status", details)
    await txn.emit(EventType.MESSAGE_STATUS, details)
