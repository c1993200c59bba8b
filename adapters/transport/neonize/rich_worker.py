"""Rich sends, poll-vote decryption and presence of hosted clients (inside a worker).

Translation lives in `rich.py`; this module adds what needs the client: id mapping, the
Go calls (poll votes, presence) under the host's reader lock, and presence events."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()

from neonize.utils.enum import ChatPresence, ChatPresenceMedia, Presence  # noqa: E402

from adapters.transport.neonize import rich as rx  # noqa: E402
from adapters.transport.neonize import translate as tr  # noqa: E402
from adapters.transport.neonize.hosted import HostedClient  # noqa: E402
from domain.errors import DomainError, ValidationFailed  # noqa: E402
from domain.wire import (  # noqa: E402
    ContactCards,
    Edit,
    Location,
    OutgoingMessage,
    Poll,
    PollVote,
    Reaction,
    Revoke,
    RichContent,
    last_message_key_from_wire,
)

log = logging.getLogger(__name__)

GoCall = Callable[..., Awaitable[Any]]
EmitEvent = Callable[[str, str, dict[str, Any]], Awaitable[None]]

_CHAT_PRESENCE = {
    "composing": (ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
    "recording": (
        ChatPresence.CHAT_PRESENCE_COMPOSING,
        ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO,
    ),
    "paused": (ChatPresence.CHAT_PRESENCE_PAUSED, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT),
}
_PRESENCE = {"available": Presence.AVAILABLE, "unavailable": Presence.UNAVAILABLE}


class RichWorker:
    def __init__(self, call: GoCall, emit: EmitEvent) -> None:
        self._call = call  # Messaging._call: one Go call under the reader lock
        self._emit = emit

    # --- sending -------------------------------------------------------------------------------

    async def body(self, hosted: HostedClient, message: OutgoingMessage, to: Any) -> Any:
        """The E2E message for `message.rich`, addressed to `to`."""
        rich: RichContent | None = message.rich
        me = tr.make_jid(hosted.phone or "")
        if isinstance(rich, Location):
            return rx.location_message(rich)
        if isinstance(rich, ContactCards):
            return rx.contacts_message(rich)
        if isinstance(rich, Poll):
            return rx.poll_message(rich)
        if isinstance(rich, Reaction):
            wa_id = hosted.ids.wa(rich.target_id)
            seen = hosted.recent.get(wa_id)
            author = tr.jid_text(seen.sender) if seen is not None else None
            return rx.reaction_message(
                to, wa_id, rich.emoji, from_me=rich.target_from_me, participant=author
            )
        if isinstance(rich, Edit):
            return rx.edit_message(to, hosted.ids.wa(rich.target_id), rich.text)
        if isinstance(rich, Revoke):
            return rx.revoke_message(to, hosted.ids.wa(rich.target_id), me)
        if isinstance(rich, PollVote):
            wa_id = hosted.ids.wa(rich.poll_id)
            seen = hosted.recent.get(wa_id)
            # Not seen by this worker: in a one-to-one chat it is ours or the other side's.
            ours = wa_id != rich.poll_id
            author = seen.sender if seen is not None else (me if ours else to)
            info = rx.poll_info(to, author, wa_id, from_me=tr.jid_text(author) == tr.jid_text(me))
            build = partial(hosted.client.build_poll_vote, info, list(rich.options))
            return await self._call(hosted, "poll vote", build)
        raise ValidationFailed(f"cannot send {getattr(rich, 'kind', rich)!r} content")

    async def send_presence(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        state = str(args.get("state"))
        chat = args.get("chatJid")
        if chat:
            if state not in _CHAT_PRESENCE:
                raise ValidationFailed(f"{state!r} is not a chat presence")
            kind, media = _CHAT_PRESENCE[state]
            work = partial(hosted.client.send_chat_presence, tr.parse_jid(str(chat)), kind, media)
        else:
            if state not in _PRESENCE:
                raise ValidationFailed(f"{state!r} is not an account presence")
            work = partial(hosted.client.send_presence, _PRESENCE[state])
        await self._call(hosted, "presence", work)

    async def mark_unread(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        """Sets (or, with `unread` false, clears) the chat's "marked unread" flag in the
        account's app state, as WhatsApp Web does: one markChatAsRead mutation."""
        chat = tr.parse_jid(str(args.get("chatJid") or ""))
        last = last_message_key_from_wire(args.get("last"))
        wa_id = hosted.ids.wa(last.message_id) if last is not None else None
        read = not bool(args.get("unread", True))
        patch = rx.mark_chat_as_read_patch(chat, read, last, wa_id, time.time_ns())
        await self._call(hosted, "chat mark", partial(hosted.client.send_app_state, patch))

    # --- receiving -----------------------------------------------------------------------------

    async def incoming(self, hosted: HostedClient, ev: Any, body: Any) -> RichContent | None:
        """The rich content of a received message; poll votes are decrypted first."""
        if body.HasField("pollUpdateMessage"):
            try:
                vote = await self._call(
                    hosted, "poll vote decryption", partial(hosted.client.decrypt_poll_vote, ev)
                )
            except DomainError as exc:
                log.warning("%s: %s (message %s)", hosted.instance_id, exc, ev.Info.ID)
                return None
            return rx.poll_vote(body, vote, hosted.ids.ours)
        return rx.rich_content(body, hosted.ids.ours)

    async def on_chat_presence(self, hosted: HostedClient, ev: Any) -> None:
        where = tr.addressing(ev.MessageSource)
        data = {"chatJid": where.chat, "senderJid": where.sender}
        await self._emit(
            hosted.instance_id, "presence", {**data, "state": rx.chat_presence_state(ev)}
        )

    async def on_presence(self, hosted: HostedClient, ev: Any) -> None:
        who = tr.jid_text(ev.From)
        state = "unavailable" if ev.Unavailable else "available"
        await self._emit(
            hosted.instance_id, "presence", {"chatJid": who, "senderJid": who, "state": state}
        )
