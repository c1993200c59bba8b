"""Messages, receipts, contacts and number checks of hosted clients (inside a worker).

Every Go call takes the reader side of the host's read-write lock (see host.py), and store
calls are refused unless the client is paired and running.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()  # before the first neonize import loads its Go library

import aiorwlock  # noqa: E402
from neonize.utils.enum import ClientName, MediaType, ReceiptType  # noqa: E402

from adapters.transport.neonize import protocol  # noqa: E402
from adapters.transport.neonize import rich as rx  # noqa: E402
from adapters.transport.neonize import translate as tr  # noqa: E402
from adapters.transport.neonize.groups import GroupWorker  # noqa: E402
from adapters.transport.neonize.hosted import HostedClient, Seen  # noqa: E402
from adapters.transport.neonize.rich_worker import RichWorker  # noqa: E402
from domain.errors import Conflict, DomainError, EngineFailure, ValidationFailed  # noqa: E402
from domain.wire import EngineContact  # noqa: E402

log = logging.getLogger(__name__)

T = TypeVar("T")
EmitEvent = Callable[[str, str, dict[str, Any]], Awaitable[None]]
Method = Callable[[HostedClient, dict[str, Any]], Awaitable[Any]]
NOT_CONNECTED = "Instance is not connected"
NO_RESULTS = "Function returned nothing."  # neonize's IsOnWhatsApp error for an empty answer


class Messaging:
    def __init__(self, go: aiorwlock.RWLock, emit: EmitEvent) -> None:
        self._go = go
        self._emit = emit
        self.methods: dict[str, Method] = {
            "send": self.send,
            "contacts": self.contacts,
            "add_contact": self.add_contact,
            "mark_read": self.mark_read,
            "check_numbers": self.check_numbers,
            "pairing_code": self.pairing_code,
        }
        self.rich = RichWorker(self._call, emit)
        self.methods["send_presence"] = self.rich.send_presence
        self.methods["mark_unread"] = self.rich.mark_unread
        self.groups = GroupWorker(self._call, emit)
        self.methods.update(self.groups.methods)

    async def _call(
        self,
        hosted: HostedClient,
        what: str,
        work: Callable[[], Awaitable[T]],
        allowed: Callable[[], bool] | None = None,
        refusal: str = NOT_CONNECTED,
    ) -> T:
        """One Go call under the reader lock; neonize's errors become EngineFailure.

        `allowed` (default: paired and running) is checked under the lock, where no stop can
        remove the client from Go's tables before the call reaches them.
        """
        try:
            async with self._go.reader:
                if not (allowed or hosted.store_usable)():
                    raise Conflict(refusal)
                return await work()
        except DomainError:
            raise
        except Exception as exc:
            raise EngineFailure(f"{what} failed: {exc}") from exc

    # --- incoming ------------------------------------------------------------------------------

    async def on_message(self, hosted: HostedClient, ev: Any) -> None:
        body = tr.unwrap(ev.Message)
        is_rich = rx.is_rich(body)
        if not tr.is_supported(body) and not is_rich:
            log.debug("%s: skipped a message of another kind", hosted.instance_id)
            return
        rich = await self.rich.incoming(hosted, ev, body) if is_rich else None
        if is_rich and rich is None:
            return  # a poll vote that could not be decrypted (logged)
        source = ev.Info.MessageSource
        seen = Seen(chat=source.Chat, sender=source.Sender, message=tr.quotable(body))
        hosted.recent.put(ev.Info.ID, seen)
        media = None
        media_error = None
        if tr.media_field(body) is not None:
            try:
                download = partial(hosted.client.download_any, body)
                data = await self._call(hosted, "media download", download)
                media = tr.media_payload(ev.Info.ID, body, data)
            except DomainError as exc:
                media_error = str(exc)
                log.warning("%s: %s (message %s)", hosted.instance_id, exc, ev.Info.ID)
        known = await self._phone_numbers(hosted, tr.unresolved_lids(source))
        quoted = tr.quoted_id(body)
        incoming = tr.incoming_message(
            ev,
            media=media,
            media_error=media_error,
            known_lids=known,
            quoted_message_id=hosted.ids.ours(quoted) if quoted else None,
            rich=rich,
        )
        if incoming is not None:
            await self._emit(hosted.instance_id, "message", protocol.incoming_to_wire(incoming))

    async def on_receipt(self, hosted: HostedClient, ev: Any) -> None:
        status = tr.receipt_status(ev.Type)
        if status is None or not ev.MessageIDs:
            return
        source = ev.MessageSource
        known = await self._phone_numbers(hosted, tr.unresolved_lids(source))
        chat = tr.addressing(source, known).chat
        ids = [hosted.ids.ours(wa) for wa in ev.MessageIDs]
        await self._emit(hosted.instance_id, "receipt", protocol.receipt_data(chat, ids, status))

    async def _phone_numbers(self, hosted: HostedClient, lids: list[Any]) -> dict[str, str]:
        """The store's phone number for each LID it knows (a store call: paired clients only)."""
        known: dict[str, str] = {}
        if not lids or not hosted.store_usable():
            return known
        for lid in lids:
            try:
                lookup = partial(hosted.client.get_pn_from_lid, lid)
                pn = await self._call(hosted, "LID lookup", lookup)
            except DomainError as exc:
                log.info("%s: %s", hosted.instance_id, exc)
                continue
            if not tr.is_empty(pn):
                known[tr.jid_text(lid)] = tr.jid_text(pn)
        return known

    # --- sending -------------------------------------------------------------------------------

    async def send(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        message = protocol.outgoing_from_wire(args["message"])
        if not hosted.store_usable():
            raise Conflict(NOT_CONNECTED)
        to = tr.parse_jid(message.to_jid)
        context = None
        if message.quoted_message_id:
            context = self._quote(hosted, message.quoted_message_id, to)
        client = hosted.client
        if message.rich is not None:
            body = await self.rich.body(hosted, message, to)
        elif message.media is not None:
            media = message.media
            upload_class = MediaType(tr.MEDIA_UPLOAD.get(media.kind, 3))
            upload = await self._call(
                hosted, "media upload", partial(client.upload, media.data, upload_class)
            )
            body = tr.media_message(media, upload, text=message.text, context=context)
        elif message.text:
            body = tr.text_message(message.text, context)
        else:
            raise ValidationFailed("a message needs text or media")
        if message.forwarded:
            body = rx.forwarded(body)
        response = await self._call(hosted, "send", partial(client.send_message, to, body))
        hosted.ids.bind(message.message_id, response.ID)
        own = Seen(chat=to, sender=self._own_jid(hosted), message=tr.quotable(body))
        hosted.recent.put(response.ID, own)
        log.debug("%s: sent %s as %s", hosted.instance_id, message.message_id, response.ID)

    def _quote(self, hosted: HostedClient, quoted_id: str, to: Any) -> Any:
        wa_id = hosted.ids.wa(quoted_id)
        seen = hosted.recent.get(wa_id)
        if seen is not None:
            return tr.quote_context(wa_id, tr.jid_text(seen.sender), seen.message)
        # Not seen by this worker: in a one-to-one chat the author is the other side or us.
        author = self._own_jid(hosted) if wa_id != quoted_id else to
        return tr.quote_context(wa_id, tr.jid_text(author))

    @staticmethod
    def _own_jid(hosted: HostedClient) -> Any:
        return tr.make_jid(hosted.phone or "")

    async def mark_read(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        chat = tr.parse_jid(str(args.get("chatJid") or ""))
        batches: dict[tuple[str, str], tuple[Any, Any, list[str]]] = {}
        for message_id in args.get("messageIds") or []:
            seen = hosted.recent.get(str(message_id))
            if seen is not None:
                where, who = seen.chat, seen.sender
            elif chat.Server == tr.GROUP_SERVER:
                log.info(
                    "%s: cannot mark %s read: its sender is unknown", hosted.instance_id, message_id
                )
                continue
            else:
                where, who = chat, chat
            key = (tr.jid_text(where), tr.jid_text(who))
            batches.setdefault(key, (where, who, []))[2].append(str(message_id))
        for where, who, ids in batches.values():
            read = partial(
                hosted.client.mark_read, *ids, chat=where, sender=who, receipt=ReceiptType.READ
            )
            await self._call(hosted, "mark read", read)

    # --- linking by phone number ---------------------------------------------------------------

    async def pairing_code(self, hosted: HostedClient, args: dict[str, Any]) -> dict[str, str]:
        digits = "".join(ch for ch in str(args.get("phone") or "") if ch.isdigit())
        if not digits:
            raise ValidationFailed("phone must be a number in international format")
        link = partial(hosted.client.PairPhone, digits, True, ClientName.LINUX)
        code = await self._call(
            hosted,
            "pairing code",
            link,
            # whatsmeow pairs by phone only while its connect call runs (after the first QR)
            allowed=lambda: hosted.go_registered and hosted.qr_seen and not hosted.paired,
            refusal="A pairing code can only be requested while the instance is waiting to be "
            "linked: start it and wait for its first QR code",
        )
        return {"code": str(code)}

    # --- contacts and numbers ------------------------------------------------------------------

    async def contacts(self, hosted: HostedClient, args: dict[str, Any]) -> list[dict[str, Any]]:
        entries = await self._call(hosted, "contacts", hosted.client.contact.get_all_contacts)
        lids = [entry.JID for entry in entries if tr.is_lid(entry.JID)]
        known = await self._phone_numbers(hosted, lids)
        out: list[dict[str, Any]] = []
        for entry in entries:
            info = entry.Info
            jid = tr.jid_text(entry.JID)
            contact = EngineContact(
                jid=known.get(jid, jid),
                name=info.FullName or info.FirstName or info.BusinessName or None,
                push_name=info.PushName or None,
                is_group=entry.JID.Server == tr.GROUP_SERVER,
            )
            out.append(protocol.contact_to_wire(contact))
        return out

    async def add_contact(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        jid = tr.parse_jid(str(args.get("jid") or ""))
        name = str(args.get("name") or "")
        first = name.split()[0] if name.split() else ""
        rename = partial(hosted.client.contact.put_contact_name, jid, name, first)
        await self._call(hosted, "add contact", rename)

    async def check_numbers(
        self, hosted: HostedClient, args: dict[str, Any]
    ) -> list[dict[str, Any]]:
        phones = [_digits(str(p)) for p in args.get("phones") or []]
        if not phones:
            return []
        if not (hosted.store_usable() and hosted.online):
            raise Conflict(NOT_CONNECTED)
        try:
            query = partial(hosted.client.is_on_whatsapp, *("+" + p for p in phones))
            answers = await self._call(hosted, "number check", query)
        except EngineFailure as exc:
            if NO_RESULTS not in str(exc):
                raise
            answers = []
        by_phone = {"".join(ch for ch in a.Query if ch.isdigit()): a for a in answers}
        result = []
        for phone in phones:
            answer = by_phone.get(phone)
            exists, jid = False, None
            if answer is not None and answer.IsIn:
                exists = True
                jid = None if tr.is_empty(answer.JID) else tr.jid_text(answer.JID)
            result.append({"phone": phone, "jid": jid, "exists": exists})
        return result


def _digits(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not 6 <= len(digits) <= 15:
        raise ValidationFailed(f"{phone!r} is not a phone number in international format")
    return digits
