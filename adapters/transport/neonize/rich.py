"""neonize protobuf <-> rich content: reactions, locations, contact cards, polls and votes,
edits, deletes and presence (pure translation: no Go calls here).

Poll votes arrive encrypted; the worker decrypts them (a Go call) and hands the selected
options on as `sha256:<hex>` of each option's name — WhatsApp's own form — and the domain,
which knows the poll's options, matches them (`domain/rich_inbound.py`).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()

from neonize.builder import build_edit, build_revoke  # noqa: E402
from neonize.proto import Neonize_pb2 as npb  # noqa: E402
from neonize.proto.waCommon.WACommon_pb2 import MessageKey  # noqa: E402
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402
from neonize.proto.waSyncAction import WAWebProtobufSyncAction_pb2 as sync  # noqa: E402

from adapters.transport.neonize import translate as tr  # noqa: E402
from domain.wire import (  # noqa: E402
    ContactCard,
    ContactCards,
    Edit,
    LastMessageKey,
    Location,
    Poll,
    PollVote,
    Reaction,
    Revoke,
    RichContent,
)

_POLL_FIELDS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3")
_WAID = re.compile(r"waid=(\d+)")
_TEL = re.compile(r"^TEL[^:]*:([+\d][\d\s()+-]*)$", re.MULTILINE)
_FN = re.compile(r"^FN:(.*)$", re.MULTILINE)

# --- outgoing ----------------------------------------------------------------------------------

# whatsmeow's appstate.IndexMarkChatAsRead and the mutation version its BuildMarkChatAsRead uses.
MARK_CHAT_AS_READ_INDEX = "markChatAsRead"
MARK_CHAT_AS_READ_VERSION = 3


def mark_chat_as_read_patch(
    chat: npb.JID, read: bool, last: LastMessageKey | None, wa_id: str | None, now_ns: int
) -> npb.PatchInfo:
    """The app-state patch whatsmeow's `appstate.BuildMarkChatAsRead(chat, read, ts, key)`
    builds (read=False: "mark as unread"), for neonize's `send_app_state`.

    The message range names the chat's last message (`wa_id`, WhatsApp's id of it) and its
    time, or only the current time when the chat has none known. Timestamp (nanoseconds) and
    Version are always set: neonize's Go side dereferences both, so a patch without them
    would end the worker process."""
    at = last.timestamp if last is not None else now_ns // 1_000_000_000
    message_range = sync.SyncActionMessageRange(lastMessageTimestamp=at)
    if last is not None and wa_id:
        message_range.messages.append(
            sync.SyncActionMessage(
                key=key(chat, wa_id, from_me=last.from_me, participant=last.participant),
                timestamp=at,
            )
        )
    return npb.PatchInfo(
        Timestamp=now_ns,
        Type=npb.PatchInfo.REGULAR_LOW,
        Mutations=[
            npb.MutationInfo(
                Index=[MARK_CHAT_AS_READ_INDEX, tr.jid_text(chat)],
                Version=MARK_CHAT_AS_READ_VERSION,
                Value=sync.SyncActionValue(
                    markChatAsReadAction=sync.MarkChatAsReadAction(
                        read=read, messageRange=message_range
                    )
                ),
            )
        ],
    )


def key(chat: npb.JID, wa_id: str, *, from_me: bool, participant: str | None = None) -> MessageKey:
    k = MessageKey(remoteJID=tr.jid_text(chat), fromMe=from_me, ID=wa_id)
    if participant and chat.Server == "g.us" and not from_me:
        k.participant = participant
    return k


def reaction_message(
    chat: npb.JID, wa_id: str, emoji: str, *, from_me: bool, participant: str | None = None
) -> e2e.Message:
    return e2e.Message(
        reactionMessage=e2e.ReactionMessage(
            key=key(chat, wa_id, from_me=from_me, participant=participant),
            text=emoji,
            senderTimestampMS=int(time.time() * 1000),
        )
    )


def location_message(rich: Location) -> e2e.Message:
    part = e2e.LocationMessage(degreesLatitude=rich.latitude, degreesLongitude=rich.longitude)
    if rich.name:
        part.name = rich.name
    if rich.address:
        part.address = rich.address
    return e2e.Message(locationMessage=part)


def contacts_message(rich: ContactCards) -> e2e.Message:
    cards = [e2e.ContactMessage(displayName=c.name, vcard=c.vcard) for c in rich.cards]
    if len(cards) == 1:
        return e2e.Message(contactMessage=cards[0])
    name = f"{len(cards)} contacts"
    return e2e.Message(
        contactsArrayMessage=e2e.ContactsArrayMessage(displayName=name, contacts=cards)
    )


def poll_message(rich: Poll) -> e2e.Message:
    """As whatsmeow's BuildPollCreation: the options, and a message secret that votes are
    encrypted with (whatsmeow keeps the secret of what it sends)."""
    options = [e2e.PollCreationMessage.Option(optionName=o) for o in rich.options]
    return e2e.Message(
        pollCreationMessage=e2e.PollCreationMessage(
            name=rich.question, options=options, selectableOptionsCount=rich.selectable_count
        ),
        messageContextInfo=e2e.MessageContextInfo(messageSecret=secrets.token_bytes(32)),
    )


def edit_message(chat: npb.JID, wa_id: str, text: str) -> e2e.Message:
    return build_edit(chat, wa_id, e2e.Message(conversation=text))  # type: ignore[no-any-return]


def revoke_message(chat: npb.JID, wa_id: str, me: npb.JID) -> e2e.Message:
    return build_revoke(chat, me, wa_id, me)  # type: ignore[no-any-return]


def poll_info(chat: npb.JID, author: npb.JID, wa_id: str, *, from_me: bool) -> npb.MessageInfo:
    """What whatsmeow's BuildPollVote needs to know of the poll voted on."""
    empty = tr.empty_jid()
    source = npb.MessageSource(
        Chat=chat,
        Sender=author,
        IsFromMe=from_me,
        IsGroup=chat.Server == "g.us",
        SenderAlt=empty,
        RecipientAlt=empty,
        BroadcastListOwner=empty,
    )
    return npb.MessageInfo(
        MessageSource=source, ID=wa_id, ServerID=0, Type="poll", Pushname="",
        Timestamp=0, Category="", Multicast=False, MediaType="", Edit="",
    )  # fmt: skip


def forwarded(body: e2e.Message) -> e2e.Message:
    """Marks a message as forwarded, as WhatsApp shows it ("Forwarded")."""
    if body.HasField("conversation") or body.conversation:
        body = e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(text=body.conversation))
    for _field, value in body.ListFields():
        if value.DESCRIPTOR.fields_by_name.get("contextInfo") is not None:
            value.contextInfo.isForwarded = True
            value.contextInfo.forwardingScore = max(value.contextInfo.forwardingScore, 1)
            break
    return body


# --- incoming ----------------------------------------------------------------------------------


def is_rich(body: e2e.Message) -> bool:
    """A kind this module reads (the poll vote needs decrypting first: see `poll_vote`)."""
    if body.HasField("protocolMessage"):
        return body.protocolMessage.type in (
            e2e.ProtocolMessage.REVOKE,
            e2e.ProtocolMessage.MESSAGE_EDIT,
        )
    return any(
        body.HasField(name)
        for name in (
            "reactionMessage",
            "locationMessage",
            "contactMessage",
            "contactsArrayMessage",
            "pollUpdateMessage",
            *_POLL_FIELDS,
        )
    )


def card_of(part: e2e.ContactMessage) -> ContactCard:
    vcard = part.vcard
    found = _WAID.search(vcard)
    phone = found.group(1) if found else ""
    if not phone:
        tel = _TEL.search(vcard)
        phone = re.sub(r"\D", "", tel.group(1)) if tel else ""
    name = part.displayName
    if not name:
        fn = _FN.search(vcard)
        name = fn.group(1).strip() if fn else phone
    return ContactCard(name=name, phone=phone, vcard=vcard)


def rich_content(body: e2e.Message, ours: Any) -> RichContent | None:
    """The rich content of a (decrypted, unwrapped) message; `ours` maps WhatsApp ids to the
    ids the server knows. Poll votes come from `poll_vote` instead."""
    if body.HasField("reactionMessage"):
        r = body.reactionMessage
        return Reaction(target_id=ours(r.key.ID), emoji=r.text, target_from_me=r.key.fromMe)
    if body.HasField("locationMessage"):
        loc = body.locationMessage
        return Location(
            latitude=loc.degreesLatitude,
            longitude=loc.degreesLongitude,
            name=loc.name or None,
            address=loc.address or None,
        )
    if body.HasField("contactMessage"):
        return ContactCards((card_of(body.contactMessage),))
    if body.HasField("contactsArrayMessage"):
        return ContactCards(tuple(card_of(c) for c in body.contactsArrayMessage.contacts))
    for name in _POLL_FIELDS:
        if body.HasField(name):
            poll = getattr(body, name)
            return Poll(
                question=poll.name,
                options=tuple(o.optionName for o in poll.options),
                selectable_count=poll.selectableOptionsCount,
            )
    if body.HasField("protocolMessage"):
        proto = body.protocolMessage
        if proto.type == e2e.ProtocolMessage.REVOKE:
            return Revoke(target_id=ours(proto.key.ID))
        if proto.type == e2e.ProtocolMessage.MESSAGE_EDIT:
            text = tr.message_text(proto.editedMessage) or ""
            return Edit(target_id=ours(proto.key.ID), text=text)
    return None


def poll_vote(body: e2e.Message, vote: Any, ours: Any) -> PollVote:
    """A decrypted vote (`PollVoteMessage.selectedOptions`: SHA-256 of each option name)."""
    poll_id = ours(body.pollUpdateMessage.pollCreationMessageKey.ID)
    return PollVote(poll_id, tuple(f"sha256:{h.hex()}" for h in vote.selectedOptions))


_CHAT_STATES = {
    npb.ChatPresence.COMPOSING: "composing",
    npb.ChatPresence.PAUSED: "paused",
}


def chat_presence_state(ev: npb.ChatPresence) -> str:
    state = _CHAT_STATES.get(ev.State, "paused")
    if state == "composing" and ev.Media == npb.ChatPresence.AUDIO:
        return "recording"
    return state
