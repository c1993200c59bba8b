"""Rich content through the neonize worker: the protobuf each send produces (checked at the
fake FFI layer), real neonize events for each received kind, and what the domain then
stores and emits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from neonize.utils.enum import ChatPresence, ChatPresenceMedia

from adapters.transport.neonize import protocol
from adapters.transport.neonize.host import NeonizeHost
from domain.entities import EventType
from domain.rich import vcard
from domain.wire import (
    ContactCard,
    ContactCards,
    Edit,
    LastMessageKey,
    Location,
    OutgoingMessage,
    Poll,
    PollVote,
    Reaction,
    Revoke,
    last_message_key_to_wire,
)
from tests.unit.neonize_support import (
    ME,
    FakeGo,
    Recorder,
    WaKey,
    attach,
    dispatch,
    e2e,
    eventually,
    jid,
    make_host,
    message_event,
    npb,
    reset_event_loop,
    source,
)
from tests.unit.test_neonize_domain import Rig
from tests.unit.test_neonize_domain import rig as domain_rig  # noqa: F401

PHONE = "4915112345678"
TO = f"{PHONE}@s.whatsapp.net"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[NeonizeHost, Recorder, FakeGo]]:
    reset_event_loop()
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    attach(host, "i1", go)
    yield host, recorder, go
    await host.close()
    reset_event_loop()


async def _send(host: NeonizeHost, message: OutgoingMessage, instance: str = "i1") -> None:
    await host.call("send", instance, {"message": protocol.outgoing_to_wire(message)})


def _last_sent(go: FakeGo) -> tuple[Any, e2e.Message]:
    return [args for name, args in go.calls if name == "SendMessage"][-1]  # type: ignore[no-any-return]


# --- sends -------------------------------------------------------------------------------------


async def test_a_reaction_names_the_whatsapp_id_of_the_message_it_reacts_to(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0OURS", TO, "hello"))  # WhatsApp calls it WA0001
    await _send(host, OutgoingMessage("3EB0R", TO, rich=Reaction("3EB0OURS", "👍", True)))
    to, body = _last_sent(go)
    assert to.User == PHONE
    r = body.reactionMessage
    assert (r.key.remoteJID, r.key.fromMe, r.key.ID, r.text) == (TO, True, "WA0001", "👍")
    assert r.senderTimestampMS > 0


async def test_location_contact_cards_and_poll_are_whatsapps_own_messages(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("L", TO, rich=Location(48.85, 2.35, "Paris", "Rivoli")))
    loc = _last_sent(go)[1].locationMessage
    assert (loc.degreesLatitude, loc.degreesLongitude, loc.name, loc.address) == (
        48.85, 2.35, "Paris", "Rivoli",
    )  # fmt: skip

    ana = ContactCard("Ana", "15550003333", vcard("Ana", "15550003333"))
    await _send(host, OutgoingMessage("C1", TO, rich=ContactCards((ana,))))
    card = _last_sent(go)[1].contactMessage
    assert card.displayName == "Ana" and "waid=15550003333" in card.vcard
    bob = ContactCard("Bob", "15550004444", vcard("Bob", "15550004444"))
    await _send(host, OutgoingMessage("C2", TO, rich=ContactCards((ana, bob))))
    array = _last_sent(go)[1].contactsArrayMessage
    assert [c.displayName for c in array.contacts] == ["Ana", "Bob"]

    await _send(host, OutgoingMessage("P", TO, rich=Poll("Lunch?", ("pizza", "soup"), 1)))
    body = _last_sent(go)[1]
    poll = body.pollCreationMessage
    assert poll.name == "Lunch?" and [o.optionName for o in poll.options] == ["pizza", "soup"]
    assert poll.selectableOptionsCount == 1
    assert len(body.messageContextInfo.messageSecret) == 32  # votes are encrypted with it


async def test_edit_and_revoke_are_protocol_messages_about_the_sent_message(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0T", TO, "helo"))
    await _send(host, OutgoingMessage("3EB0E", TO, rich=Edit("3EB0T", "hello")))
    proto = _last_sent(go)[1].editedMessage.message.protocolMessage
    assert proto.type == e2e.ProtocolMessage.MESSAGE_EDIT
    assert (proto.key.ID, proto.key.fromMe, proto.key.remoteJID) == ("WA0001", True, TO)
    assert proto.editedMessage.conversation == "hello"

    await _send(host, OutgoingMessage("3EB0X", TO, rich=Revoke("3EB0T")))
    proto = _last_sent(go)[1].protocolMessage
    assert proto.type == e2e.ProtocolMessage.REVOKE
    assert (proto.key.ID, proto.key.fromMe) == ("WA0001", True)


async def test_a_vote_is_built_by_whatsmeow_for_the_poll_and_sent(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0P", TO, rich=Poll("Day?", ("Mon", "Tue"), 0)))
    await _send(host, OutgoingMessage("3EB0V", TO, rich=PollVote("3EB0P", ("Tue",))))
    [(info, names)] = [args for name, args in go.calls if name == "BuildPollVote"]
    assert (info.ID, names) == ("WA0001", ["Tue"])
    assert info.MessageSource.IsFromMe and info.MessageSource.Sender.User == ME
    vote = _last_sent(go)[1].pollUpdateMessage
    assert vote.pollCreationMessageKey.ID == "WA0001"


async def test_a_forwarded_text_says_so(rig: Any) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0F", TO, "look", forwarded=True))
    ext = _last_sent(go)[1].extendedTextMessage
    assert ext.text == "look" and ext.contextInfo.isForwarded


async def test_presence_goes_to_the_chat_or_to_the_account(rig: Any) -> None:
    host, _, go = rig
    await host.call("send_presence", "i1", {"chatJid": TO, "state": "recording"})
    await host.call("send_presence", "i1", {"chatJid": None, "state": "unavailable"})
    chat = [a for n, a in go.calls if n == "SendChatPresence"]
    # composing with audio media: recording a voice note, in neonize's own enum values
    composing = ChatPresence.CHAT_PRESENCE_COMPOSING.value
    assert chat == [(PHONE, composing, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO.value)]
    assert [a for n, a in go.calls if n == "SendPresence"] == [b"unavailable"]


def _patches(go: FakeGo) -> list[npb.PatchInfo]:
    return [args for name, args in go.calls if name == "SendAppState"]


async def test_mark_unread_is_whatsmeows_mark_chat_as_read_patch_with_read_false(
    rig: Any,
) -> None:
    host, _, go = rig
    await _send(host, OutgoingMessage("3EB0OURS", TO, "hello"))  # WhatsApp calls it WA0001
    last = LastMessageKey("3EB0OURS", from_me=True, timestamp=1_760_000_123)
    args = {"chatJid": TO, "unread": True, "last": last_message_key_to_wire(last)}
    await host.call("mark_unread", "i1", args)
    [patch] = _patches(go)
    # appstate.BuildMarkChatAsRead(chat, false, ts, key): regular_low, index
    # ["markChatAsRead", chat], version 3, the chat's last message in the range.
    assert patch.Type == npb.PatchInfo.REGULAR_LOW
    assert patch.Timestamp > 1_700_000_000 * 10**9  # nanoseconds: neonize reads it so
    [mutation] = patch.Mutations
    assert list(mutation.Index) == ["markChatAsRead", TO] and mutation.Version == 3
    action = mutation.Value.markChatAsReadAction
    assert action.HasField("read") and action.read is False
    assert action.messageRange.lastMessageTimestamp == 1_760_000_123
    [covered] = action.messageRange.messages
    assert (covered.key.remoteJID, covered.key.fromMe, covered.key.ID) == (TO, True, "WA0001")
    assert covered.timestamp == 1_760_000_123 and not covered.key.participant


async def test_marking_a_group_read_again_names_the_sender_of_its_last_message(
    rig: Any,
) -> None:
    host, _, go = rig
    group = "120363000000000001@g.us"
    sender = f"{PHONE}@s.whatsapp.net"
    last = LastMessageKey("ABCD", from_me=False, timestamp=1_760_000_500, participant=sender)
    args = {"chatJid": group, "unread": False, "last": last_message_key_to_wire(last)}
    await host.call("mark_unread", "i1", args)
    await host.call("mark_unread", "i1", {"chatJid": TO, "unread": True, "last": None})
    read, bare = _patches(go)
    action = read.Mutations[0].Value.markChatAsReadAction
    assert list(read.Mutations[0].Index) == ["markChatAsRead", group] and action.read is True
    [covered] = action.messageRange.messages
    assert (covered.key.ID, covered.key.fromMe, covered.key.participant) == ("ABCD", False, sender)
    # No message known: the range holds only a time, as whatsmeow's builder allows.
    empty = bare.Mutations[0].Value.markChatAsReadAction.messageRange
    assert not empty.messages and empty.lastMessageTimestamp > 1_700_000_000
    assert bare.Timestamp > 0 and bare.Mutations[0].Version == 3


# --- receives ----------------------------------------------------------------------------------


async def _incoming(host: NeonizeHost, recorder: Recorder, msg_id: str, body: e2e.Message) -> Any:
    peer = jid(PHONE)
    dispatch(host._hosted["i1"], message_event(msg_id, source(peer, peer), body))
    await recorder.wait_for(lambda: any(m["messageId"] == msg_id for m in recorder.of("message")))
    return next(m for m in recorder.of("message") if m["messageId"] == msg_id)


async def test_received_reaction_location_card_and_poll_carry_their_content(rig: Any) -> None:
    host, recorder, _ = rig
    await _send(host, OutgoingMessage("3EB0MINE", TO, "hi"))  # WA0001 on WhatsApp
    reaction = e2e.Message(
        reactionMessage=e2e.ReactionMessage(
            key=WaKey(remoteJID=TO, fromMe=True, ID="WA0001"), text="❤️", senderTimestampMS=1
        )
    )
    got = await _incoming(host, recorder, "R1", reaction)
    assert got["rich"] == {
        "kind": "reaction", "target_id": "3EB0MINE", "emoji": "❤️", "target_from_me": True,
    }  # fmt: skip

    loc = e2e.Message(locationMessage=e2e.LocationMessage(degreesLatitude=1.5, degreesLongitude=-2))
    got = await _incoming(host, recorder, "L1", loc)
    assert got["rich"]["kind"] == "location" and got["rich"]["longitude"] == -2

    card = "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;type=CELL:+1 555 000 3333\nEND:VCARD"
    got = await _incoming(
        host, recorder, "C1", e2e.Message(contactMessage=e2e.ContactMessage(vcard=card))
    )
    assert got["rich"]["cards"] == [{"name": "Ana", "phone": "15550003333", "vcard": card}]

    options = [e2e.PollCreationMessage.Option(optionName=o) for o in ("a", "b", "c")]
    poll = e2e.Message(
        pollCreationMessageV3=e2e.PollCreationMessage(
            name="Pick", options=options, selectableOptionsCount=0
        )
    )
    got = await _incoming(host, recorder, "P1", poll)
    assert got["rich"] == {
        "kind": "poll", "question": "Pick", "options": ["a", "b", "c"], "selectable_count": 0,
    }  # fmt: skip


async def test_received_edit_and_revoke_point_at_our_id(rig: Any) -> None:
    host, recorder, _ = rig
    peer_key = WaKey(remoteJID=TO, fromMe=False, ID="THEIRS")
    edit = e2e.Message(
        editedMessage=e2e.FutureProofMessage(
            message=e2e.Message(
                protocolMessage=e2e.ProtocolMessage(
                    key=peer_key,
                    type=e2e.ProtocolMessage.MESSAGE_EDIT,
                    editedMessage=e2e.Message(conversation="fixed"),
                )
            )
        )
    )
    got = await _incoming(host, recorder, "E1", edit)
    assert got["rich"] == {"kind": "edit", "target_id": "THEIRS", "text": "fixed"}
    revoke = e2e.Message(
        protocolMessage=e2e.ProtocolMessage(key=peer_key, type=e2e.ProtocolMessage.REVOKE)
    )
    got = await _incoming(host, recorder, "X1", revoke)
    assert got["rich"] == {"kind": "revoke", "target_id": "THEIRS"}


def _vote_event(msg_id: str, poll_id: str) -> npb.Message:
    peer = jid(PHONE)
    body = e2e.Message(
        pollUpdateMessage=e2e.PollUpdateMessage(
            pollCreationMessageKey=WaKey(remoteJID=TO, fromMe=True, ID=poll_id),
            vote=e2e.PollEncValue(encPayload=b"enc", encIV=b"iv"),
        )
    )
    return message_event(msg_id, source(peer, peer), body)


async def test_a_received_vote_is_decrypted_into_option_hashes(rig: Any) -> None:
    host, recorder, go = rig
    go.votes["V1"] = ["b"]
    dispatch(host._hosted["i1"], _vote_event("V0", "WAPOLL"))  # no secret: dropped, logged
    dispatch(host._hosted["i1"], _vote_event("V1", "WAPOLL"))
    await recorder.wait_for(lambda: bool(recorder.of("message")))
    [got] = recorder.of("message")
    assert got["rich"] == {
        "kind": "poll_vote", "poll_id": "WAPOLL", "options": ["sha256:" + sha256(b"b").hexdigest()],
    }  # fmt: skip


async def test_typing_and_online_become_presence_events(rig: Any) -> None:
    host, recorder, _ = rig
    peer = jid(PHONE)
    hosted = host._hosted["i1"]
    typing = npb.ChatPresence(
        MessageSource=source(peer, peer), State=npb.ChatPresence.COMPOSING,
        Media=npb.ChatPresence.AUDIO,
    )  # fmt: skip
    dispatch(hosted, typing)
    dispatch(hosted, npb.Presence(From=peer, Unavailable=True, LastSeen=0))
    await recorder.wait_for(lambda: len(recorder.of("presence")) == 2)
    assert sorted(e["state"] for e in recorder.of("presence")) == ["recording", "unavailable"]
    assert all(e["chatJid"] == TO for e in recorder.of("presence"))


# --- through the domain ------------------------------------------------------------------------


async def test_a_poll_and_its_votes_are_stored_and_tallied(domain_rig: Rig) -> None:  # noqa: F811
    rig = domain_rig
    hosted = rig.host._hosted[rig.inst.id]
    peer = jid(PHONE)
    options = [e2e.PollCreationMessage.Option(optionName=o) for o in ("red", "blue")]
    poll = e2e.Message(pollCreationMessage=e2e.PollCreationMessage(name="Colour?", options=options))
    dispatch(hosted, message_event("POLL1", source(peer, peer), poll))
    await eventually(lambda: len(rig.stored()) == 1)
    rig.go.votes["V1"] = ["blue"]
    before = rig.delivered
    dispatch(hosted, _vote_event("V1", "POLL1"))
    dispatch(hosted, _vote_event("V1", "POLL1"))  # handed over twice: counted once
    await eventually(lambda: rig.delivered >= before + 2)
    [stored] = rig.stored()
    assert stored.message_type == "poll" and stored.content == "Colour?"
    assert stored.metadata["poll"]["tally"] == {"red": 0, "blue": 1}
    [vote] = rig.events(EventType.POLL_VOTE)
    assert vote["voter"] == TO and vote["options"] == ["blue"]


async def test_a_received_edit_then_revoke_change_the_stored_message(domain_rig: Rig) -> None:  # noqa: F811
    rig = domain_rig
    hosted = rig.host._hosted[rig.inst.id]
    peer = jid(PHONE)
    dispatch(hosted, message_event("T1", source(peer, peer), e2e.Message(conversation="helo")))
    await eventually(lambda: len(rig.stored()) == 1)
    key = WaKey(remoteJID=TO, fromMe=False, ID="T1")
    edit = e2e.Message(
        protocolMessage=e2e.ProtocolMessage(
            key=key, type=e2e.ProtocolMessage.MESSAGE_EDIT,
            editedMessage=e2e.Message(conversation="hello"),
        )
    )  # fmt: skip
    before = rig.delivered
    # WhatsApp may hand the same edit over twice: it applies once
    dispatch(hosted, message_event("E1", source(peer, peer), edit))
    dispatch(hosted, message_event("E1", source(peer, peer), edit))
    await eventually(lambda: rig.delivered >= before + 2)
    assert len(rig.events(EventType.MESSAGE_EDITED)) == 1
    [stored] = rig.stored()
    assert stored.content == "hello" and [e["body"] for e in stored.metadata["edits"]] == ["helo"]
    revoke = e2e.Message(protocolMessage=e2e.ProtocolMessage(key=key, type=0))
    before = rig.delivered
    dispatch(hosted, message_event("X1", source(peer, peer), revoke))
    dispatch(hosted, message_event("X1", source(peer, peer), revoke))
    await eventually(lambda: rig.delivered >= before + 2)
    assert len(rig.events(EventType.MESSAGE_REVOKED)) == 1
    [stored] = rig.stored()
    assert stored.metadata["revoked"] is True and stored.content is None
    assert rig.events(EventType.MESSAGE_REVOKED)[0]["from"] == TO


async def test_a_reaction_from_whatsapp_lands_on_the_message(domain_rig: Rig) -> None:  # noqa: F811
    rig = domain_rig
    hosted = rig.host._hosted[rig.inst.id]
    peer = jid(PHONE)
    dispatch(hosted, message_event("T1", source(peer, peer), e2e.Message(conversation="hi")))
    await eventually(lambda: len(rig.stored()) == 1)
    reaction = e2e.Message(
        reactionMessage=e2e.ReactionMessage(
            key=WaKey(remoteJID=TO, fromMe=False, ID="T1"), text="😂"
        )
    )
    dispatch(hosted, message_event("R1", source(peer, peer), reaction))
    await eventually(lambda: bool(rig.events(EventType.MESSAGE_REACTION)))
    target = next(m for m in rig.stored() if m.message_id == "T1")
    assert target.metadata["reactions"] == {TO: "😂"}
    [event] = rig.events(EventType.MESSAGE_REACTION)
    assert event["emoji"] == "😂" and event["reactionId"] == "R1"
