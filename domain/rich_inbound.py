"""Rich content on a chat: how locations, contact cards and polls are stored, and how
reactions, edits, deletions and poll votes change the message they point at.

Both directions share these rules: a send applies its own update exactly as the receiver
applies the one that arrives, so the two sides' histories agree.

Stored shapes (a message's `metadata`):
- location: `{"location": {"latitude", "longitude", "name", "address"}}`
- contact:  `{"contacts": [{"name", "phone", "vcard"}]}`
- poll:     `{"poll": {"options": [...], "selectableCount", "votes": {voter: [...]},
             "tally": {option: n}}}`
- any message reacted to: `{"reactions": {reactor JID: emoji}}`
- an edited message: `{"edits": [{"body", "editedAt", "id"}]}` (the earlier bodies, oldest
  first; `id` is the edit's own message id, so an edit handed over twice applies once)
- a revoked message: `{"revoked": true, "revokedAt"}`; its content is cleared unless the
  operator keeps revoked content (`KEEP_REVOKED_CONTENT=true`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from domain.entities import EventType, Message
from domain.recorder import InstanceTransaction
from domain.times import iso
from domain.wire import (
    ContactCards,
    Edit,
    Location,
    Poll,
    PollVote,
    Reaction,
    Revoke,
    RichContent,
)

# WhatsApp's names for the kinds, as message_received's `type` shows them.
RICH_TYPES = {
    "location": "locationMessage",
    "contact": "contactsArrayMessage",
    "poll": "pollCreationMessage",
    "reaction": "reactionMessage",
}


def rich_fields(rich: RichContent) -> tuple[str, str | None, dict[str, Any]]:
    """A new message's `messageType`, `content` and metadata for rich content."""
    if isinstance(rich, Location):
        summary = rich.name or f"{rich.latitude},{rich.longitude}"
        return "location", summary, {"location": location_details(rich)}
    if isinstance(rich, ContactCards):
        names = ", ".join(card.name for card in rich.cards)
        cards = [{"name": c.name, "phone": c.phone, "vcard": c.vcard} for c in rich.cards]
        return "contact", names, {"contacts": cards}
    if isinstance(rich, Poll):
        poll = {
            "options": list(rich.options),
            "selectableCount": rich.selectable_count,
            "votes": {},
            "tally": dict.fromkeys(rich.options, 0),
        }
        return "poll", rich.question, {"poll": poll}
    if isinstance(rich, Reaction):
        return "reaction", rich.emoji or None, {"targetId": rich.target_id}
    raise ValueError(f"{rich.kind} changes another message; it is not one of its own")


def location_details(rich: Location) -> dict[str, Any]:
    return {
        "latitude": rich.latitude,
        "longitude": rich.longitude,
        "name": rich.name,
        "address": rich.address,
    }


def rich_payload(message: Message) -> dict[str, Any]:
    """The kind's details for message_received / message_sent payloads."""
    meta = message.metadata
    for key in ("location", "contacts", "poll"):
        if key in meta:
            return {key: meta[key]}
    return {}


def chosen_options(picked: tuple[str, ...], options: list[str]) -> list[str]:
    """The poll's options a vote names: by name, or as WhatsApp encodes them on the wire,
    `sha256:<hex of SHA-256 of the name>`; anything else is dropped."""
    hashed = {"sha256:" + hashlib.sha256(o.encode("utf-8")).hexdigest(): o for o in options}
    chosen: list[str] = []
    for name in picked:
        option = name if name in options else hashed.get(name)
        if option is not None and option not in chosen:
            chosen.append(option)
    return chosen


class Change:
    """One update (reaction, edit, revoke, vote) applied to a chat by `actor`."""

    def __init__(
        self,
        txn: InstanceTransaction,
        *,
        chat_jid: str,
        actor_jid: str,
        from_me: bool,
        update_id: str,
        at: datetime,
        keep_revoked: bool,
    ) -> None:
        self.txn = txn
        self.chat = chat_jid
        self.actor = actor_jid
        self.from_me = from_me
        self.update_id = update_id
        self.at = at
        self.keep_revoked = keep_revoked

    async def _target(self, message_id: str) -> Message | None:
        return await self.txn.uow.messages.get(self.txn.instance_id, message_id)

    async def apply(self, rich: RichContent) -> Message | None:
        """Changes the target and emits the event; returns the changed message, if stored."""
        if isinstance(rich, Reaction):
            return await self.react(rich)
        if isinstance(rich, Edit):
            return await self.edit(rich)
        if isinstance(rich, Revoke):
            return await self.revoke(rich)
        if isinstance(rich, PollVote):
            return await self.vote(rich)
        raise ValueError(f"{rich.kind} is not an update")

    def _base(self, target_id: str) -> dict[str, Any]:
        return {
            "messageId": target_id,
            "remoteJid": self.chat,
            "from": self.actor,
            "fromMe": self.from_me,
        }

    async def _save(self, message: Message, metadata: dict[str, Any]) -> None:
        message.metadata = metadata
        message.updated_at = self.at
        await self.txn.uow.messages.update(message)

    async def react(self, rich: Reaction) -> Message | None:
        target = await self._target(rich.target_id)
        if target is not None:
            reactions = dict(target.metadata.get("reactions") or {})
            if rich.emoji:
                reactions[self.actor] = rich.emoji
            else:
                reactions.pop(self.actor, None)
            await self._save(target, {**target.metadata, "reactions": reactions})
        data = {
            **self._base(rich.target_id),
            "reactionId": self.update_id,
            "emoji": rich.emoji,
            "removed": not rich.emoji,
        }
        await self.txn.log("message_reaction", data)
        await self.txn.emit(EventType.MESSAGE_REACTION, data)
        return target

    async def edit(self, rich: Edit) -> Message | None:
        target = await self._target(rich.target_id)
        previous = target.content if target is not None else None
        if target is not None:
            done = target.metadata.get("edits") or []
            if target.metadata.get("revoked") or any(e.get("id") == self.update_id for e in done):
                return target  # deleted meanwhile, or this edit handed over twice: no change
            earlier = {"body": previous, "editedAt": iso(self.at), "id": self.update_id}
            edits = [*done, earlier]
            target.content = rich.text
            await self._save(target, {**target.metadata, "edits": edits})
        data = {
            **self._base(rich.target_id),
            "body": rich.text,
            "previousBody": previous,
            "editedAt": iso(self.at),
        }
        await self.txn.log("message_edited", {"messageId": rich.target_id})
        await self.txn.emit(EventType.MESSAGE_EDITED, data)
        return target

    async def revoke(self, rich: Revoke) -> Message | None:
        target = await self._target(rich.target_id)
        if target is not None and target.metadata.get("revoked"):
            return target  # handed over twice: already deleted, nothing to announce again
        if target is not None:
            meta = {**target.metadata, "revoked": True, "revokedAt": iso(self.at)}
            if not self.keep_revoked:
                target.content = None
                target.caption = None
                for key in ("edits", "location", "contacts"):
                    meta.pop(key, None)
            await self._save(target, meta)
        data = {**self._base(rich.target_id), "revokedAt": iso(self.at)}
        await self.txn.log("message_revoked", {"messageId": rich.target_id})
        await self.txn.emit(EventType.MESSAGE_REVOKED, data)
        return target

    async def vote(self, rich: PollVote) -> Message | None:
        poll = await self._target(rich.poll_id)
        details = poll.metadata.get("poll") if poll is not None else None
        tally: dict[str, int] = {}
        chosen = list(rich.options)
        if poll is not None and isinstance(details, dict):
            options = list(details.get("options") or [])
            chosen = chosen_options(rich.options, options)
            votes = {k: list(v) for k, v in (details.get("votes") or {}).items()}
            if votes.get(self.actor, []) == chosen:
                return poll  # the same choice again (or handed over twice): nothing changed
            if chosen:
                votes[self.actor] = chosen
            else:
                votes.pop(self.actor, None)
            tally = {o: sum(o in picked for picked in votes.values()) for o in options}
            poll_meta = {**details, "votes": votes, "tally": tally}
            await self._save(poll, {**poll.metadata, "poll": poll_meta})
        data = {
            "pollMessageId": rich.poll_id,
            "remoteJid": self.chat,
            "voter": self.actor,
            "fromMe": self.from_me,
            "options": chosen,
            "tally": tally,
        }
        await self.txn.log("poll_vote", {"pollMessageId": rich.poll_id, "voter": self.actor})
        await self.txn.emit(EventType.POLL_VOTE, data)
        return poll
