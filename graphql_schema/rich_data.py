"""Typed shapes of rich content: a location, contact cards, a poll with its votes and tally,
reactions and earlier edits — on a `Message` and in the data of message events — and the
`data` of the six event kinds beyond the API document (reactions, edits, deletions, poll
votes, presence, group changes).

Each is built from what the domain stores or emits (`domain/rich_inbound.py`,
`domain/groups.py`); the webhook payloads keep their JSON maps, here a map becomes a list of
typed entries so clients learn its shape from introspection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry

from domain.times import parse_iso
from graphql_schema.enums import GroupAction, PresenceState
from graphql_schema.groups import Group


@strawberry.type(description="A location pin.")
class Location:
    latitude: float = strawberry.field(description="Degrees north (negative: south).")
    longitude: float = strawberry.field(description="Degrees east (negative: west).")
    name: str | None = strawberry.field(description="The place's name, if given.")
    address: str | None = strawberry.field(description="The place's address, if given.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any] | None) -> Location | None:
        if not isinstance(d, Mapping):
            return None
        return cls(
            latitude=float(d.get("latitude") or 0.0),
            longitude=float(d.get("longitude") or 0.0),
            name=d.get("name"),
            address=d.get("address"),
        )


@strawberry.type(description="One contact card (vCard).")
class ContactCard:
    name: str = strawberry.field(description="The contact's display name.")
    phone: str | None = strawberry.field(description="The contact's phone number, if any.")
    vcard: str | None = strawberry.field(description="The card's full vCard text.")

    @classmethod
    def list_from(cls, cards: Any) -> list[ContactCard] | None:
        if not isinstance(cards, list):
            return None
        return [
            cls(name=str(c.get("name") or ""), phone=c.get("phone"), vcard=c.get("vcard"))
            for c in cards
            if isinstance(c, Mapping)
        ]


@strawberry.type(description="How many voters chose one option of a poll.")
class PollOptionCount:
    option: str = strawberry.field(description="The option's text.")
    votes: int = strawberry.field(description="Voters who chose it.")


@strawberry.type(description="One voter's current choice in a poll.")
class PollBallot:
    voter: str = strawberry.field(description="The voter's JID.")
    options: list[str] = strawberry.field(description="The options chosen.")


def tally_of(tally: Any) -> list[PollOptionCount]:
    """`{option: n}` as entries, in the map's order (the poll's option order)."""
    if not isinstance(tally, Mapping):
        return []
    return [PollOptionCount(option=str(o), votes=int(n or 0)) for o, n in tally.items()]


@strawberry.type(description="A poll: its options, how many may be chosen, the votes so far.")
class Poll:
    options: list[str] = strawberry.field(description="The choices, in order.")
    selectable_count: int = strawberry.field(
        description="How many options a voter may choose (0: any number)."
    )
    tally: list[PollOptionCount] = strawberry.field(
        description="Voters per option, one entry per option in order."
    )
    ballots: list[PollBallot] = strawberry.field(description="Each voter's current choice.")

    @classmethod
    def from_data(cls, d: Any) -> Poll | None:
        if not isinstance(d, Mapping):
            return None
        votes = d.get("votes") or {}
        return cls(
            options=[str(o) for o in d.get("options") or []],
            selectable_count=int(d.get("selectableCount") or 0),
            tally=tally_of(d.get("tally")),
            ballots=[
                PollBallot(voter=str(voter), options=[str(o) for o in picked or []])
                for voter, picked in (votes.items() if isinstance(votes, Mapping) else ())
            ],
        )


@strawberry.type(description="Someone's reaction to a message.")
class Reaction:
    reactor: str = strawberry.field(description="Who reacted (JID).")
    emoji: str = strawberry.field(description="The emoji.")


def reactions_of(metadata: Mapping[str, Any]) -> list[Reaction]:
    found = metadata.get("reactions")
    if not isinstance(found, Mapping):
        return []
    return [Reaction(reactor=str(who), emoji=str(emoji)) for who, emoji in found.items()]


@strawberry.type(description="An earlier version of an edited message.")
class MessageEdit:
    body: str | None = strawberry.field(description="The text before this edit.")
    edited_at: datetime = strawberry.field(description="When the edit replaced it.")
    edit_id: str | None = strawberry.field(description="WhatsApp's id of the edit.")


def edits_of(metadata: Mapping[str, Any]) -> list[MessageEdit]:
    found = metadata.get("edits")
    if not isinstance(found, list):
        return []
    return [
        MessageEdit(
            body=e.get("body"),
            edited_at=parse_iso(str(e.get("editedAt")), "editedAt"),
            edit_id=e.get("id"),
        )
        for e in found
        if isinstance(e, Mapping) and e.get("editedAt")
    ]


def revoked_at_of(metadata: Mapping[str, Any]) -> datetime | None:
    at = metadata.get("revokedAt")
    return parse_iso(str(at), "revokedAt") if metadata.get("revoked") and at else None


# --- the data of the six event kinds beyond the document ----------------------------------


@strawberry.type(description="The `data` of a message_reaction event.")
class MessageReactionData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the message reacted to.")
    remote_jid: str = strawberry.field(description="The chat's JID.")
    from_: str = strawberry.field(name="from", description="Who reacted (JID).")
    from_me: bool = strawberry.field(description="Whether the instance reacted.")
    reaction_id: str = strawberry.field(description="WhatsApp's id of the reaction itself.")
    emoji: str = strawberry.field(description="The emoji; empty when the reaction was removed.")
    removed: bool = strawberry.field(description="Whether the reaction was taken back.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageReactionData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            remote_jid=d["remoteJid"],
            from_=d["from"],
            from_me=bool(d.get("fromMe", False)),
            reaction_id=str(d.get("reactionId") or ""),
            emoji=str(d.get("emoji") or ""),
            removed=bool(d.get("removed", False)),
        )


@strawberry.type(description="The `data` of a message_edited event.")
class MessageEditedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the edited message.")
    remote_jid: str = strawberry.field(description="The chat's JID.")
    from_: str = strawberry.field(name="from", description="Who edited it (JID).")
    from_me: bool = strawberry.field(description="Whether the instance edited it.")
    body: str | None = strawberry.field(description="The new text.")
    previous_body: str | None = strawberry.field(
        description="The text before, when the message is stored here."
    )
    edited_at: datetime = strawberry.field(description="When it was edited.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageEditedData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            remote_jid=d["remoteJid"],
            from_=d["from"],
            from_me=bool(d.get("fromMe", False)),
            body=d.get("body"),
            previous_body=d.get("previousBody"),
            edited_at=parse_iso(str(d["editedAt"]), "editedAt"),
        )


@strawberry.type(description="The `data` of a message_revoked event.")
class MessageRevokedData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    message_id: str = strawberry.field(description="WhatsApp's id of the deleted message.")
    remote_jid: str = strawberry.field(description="The chat's JID.")
    from_: str = strawberry.field(name="from", description="Who deleted it (JID).")
    from_me: bool = strawberry.field(description="Whether the instance deleted it.")
    revoked_at: datetime = strawberry.field(description="When it was deleted for everyone.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> MessageRevokedData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            message_id=d["messageId"],
            remote_jid=d["remoteJid"],
            from_=d["from"],
            from_me=bool(d.get("fromMe", False)),
            revoked_at=parse_iso(str(d["revokedAt"]), "revokedAt"),
        )


@strawberry.type(description="The `data` of a poll_vote event.")
class PollVoteData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    poll_message_id: str = strawberry.field(description="WhatsApp's id of the poll.")
    remote_jid: str = strawberry.field(description="The chat's JID.")
    voter: str = strawberry.field(description="Who voted (JID).")
    from_me: bool = strawberry.field(description="Whether the instance voted.")
    options: list[str] = strawberry.field(
        description="The voter's current choice (empty: the vote was withdrawn)."
    )
    tally: list[PollOptionCount] = strawberry.field(
        description="Voters per option after the vote (empty when the poll is not stored here)."
    )

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> PollVoteData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            poll_message_id=d["pollMessageId"],
            remote_jid=d["remoteJid"],
            voter=d["voter"],
            from_me=bool(d.get("fromMe", False)),
            options=[str(o) for o in d.get("options") or []],
            tally=tally_of(d.get("tally")),
        )


@strawberry.type(description="The `data` of a presence_update event.")
class PresenceUpdateData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    remote_jid: str = strawberry.field(description="The chat (or, for online/offline, the JID).")
    from_: str = strawberry.field(name="from", description="Whose presence it is (JID).")
    state: PresenceState = strawberry.field(description="Typing, recording, paused, online...")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> PresenceUpdateData:
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            remote_jid=d["remoteJid"],
            from_=d["from"],
            state=PresenceState(d["state"]),
        )


@strawberry.type(description="The `data` of a group_update event.")
class GroupUpdateData:
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    group_jid: str = strawberry.field(description="The group's JID, <id>@g.us.")
    action: GroupAction = strawberry.field(description="What changed.")
    by: str | None = strawberry.field(description="Who changed it (JID), when known.")
    participants: list[str] | None = strawberry.field(
        description="The members concerned (created, add, remove, promote, demote, join, leave)."
    )
    subject: str | None = strawberry.field(description="The new subject (action `subject`).")
    description: str | None = strawberry.field(
        description="The new description (action `description`)."
    )
    group: Group | None = strawberry.field(description="The group after the change, when known.")

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> GroupUpdateData:
        people = d.get("participants")
        return cls(
            instance_id=strawberry.ID(d["instanceId"]),
            group_jid=str(d.get("groupJid") or ""),
            action=GroupAction(d["action"]),
            by=d.get("by"),
            participants=[str(p) for p in people] if isinstance(people, list) else None,
            subject=d.get("subject"),
            description=d.get("description"),
            group=Group.from_payload(d.get("group")),
        )
