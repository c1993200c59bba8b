"""GraphQL: rich content and the six event kinds beyond the API document as typed graph
objects — a poll, a location and contact cards on `Chat.messages` with their typed kind and
details, and reactions, votes, edits, deletions, presence and group changes as their own
`Event` types with typed `data` (the same facts REST's /events shows)."""

from __future__ import annotations

from typing import Any

from tests.api.test_rest_rich import ALICE, ALICE_JID, BOB, BOB_JID, _event, _message, _pair, _post
from tests.conftest import Api

EVENTS = """
query($id: ID!, $types: [EventType!]) {
  instance(id: $id) {
    events(types: $types, first: 100) {
      nodes {
        __typename type instanceId
        ... on MessageSent { data { messageId type body
          location { latitude longitude name address }
          contacts { name phone vcard }
          poll { options selectableCount tally { option votes } ballots { voter options } } } }
        ... on MessageReceived { data { messageId type body
          location { latitude longitude name address }
          contacts { name phone }
          poll { options selectableCount tally { option votes } } } }
        ... on PollVote { data { instanceId pollMessageId remoteJid voter fromMe options
          tally { option votes } } }
        ... on MessageReaction { data { messageId remoteJid from fromMe reactionId emoji
          removed } }
        ... on MessageEdited { data { messageId from fromMe body previousBody editedAt } }
        ... on MessageRevoked { data { messageId from fromMe revokedAt } }
        ... on PresenceUpdate { data { remoteJid from state } }
        ... on GroupUpdate { data { groupJid action by participants subject
          group { id subject owner participants { jid isAdmin isSuperAdmin } } } }
      }
    }
  }
}
"""

CHAT_MESSAGES = """
query($id: ID!) {
  instance(id: $id) {
    chats(first: 10) { nodes { remoteJid messages(first: 20) { nodes {
      messageId messageType content revokedAt reactionTargetId
      location { latitude longitude name address }
      contacts { name phone vcard }
      poll { options selectableCount tally { option votes } ballots { voter options } }
      reactions { reactor emoji }
      edits { body editedAt }
    } } } }
  }
}
"""


async def _events(api: Api, h: dict[str, str], iid: str, types: list[str]) -> list[Any]:
    out = await api.gql(EVENTS, {"id": iid, "types": types}, h)
    assert "errors" not in out, out
    return list(out["data"]["instance"]["events"]["nodes"])


def _only(nodes: list[dict[str, Any]], typename: str) -> dict[str, Any]:
    found = [n for n in nodes if n["__typename"] == typename]
    assert len(found) == 1, (typename, nodes)
    return found[0]


async def test_rich_messages_and_events_are_typed_in_the_graph(api: Api) -> None:
    h = await api.admin()
    a, b = await _pair(api, h, ALICE, "Alice"), await _pair(api, h, BOB, "Bob")
    send = f"/api/whatsapp/{a}"
    where = {"phone": BOB, "latitude": 48.85, "longitude": 2.35, "name": "Paris"}
    pin = await _post(api, h, f"{send}/send-location", where)
    card = {"name": "Ana", "phone": "+1 555 000 3333"}
    cards = await _post(api, h, f"{send}/send-contact", {"phone": BOB, "contacts": [card]})
    ask = {"phone": BOB, "question": "Lunch?", "options": ["pizza", "soup"]}
    poll = await _post(api, h, f"{send}/send-poll", ask)
    text = await _post(api, h, f"{send}/send", {"phone": BOB, "message": "v1"})
    for sent in (pin, cards, poll, text):
        await _message(api, h, b, ALICE, sent["id"])
    vote = {"pollId": poll["id"], "options": ["pizza"]}
    await _post(api, h, f"/api/whatsapp/{b}/poll-vote", vote)
    react = {"messageId": poll["id"], "emoji": "👍"}
    await _post(api, h, f"/api/whatsapp/{b}/react", react)
    await _post(api, h, f"{send}/messages/{text['id']}/edit", {"message": "v2"})
    await _post(api, h, f"/api/whatsapp/{b}/presence", {"state": "composing", "chatId": ALICE})
    r = await api.client.post(
        f"{send}/groups", json={"name": "Team", "participants": [BOB]}, headers=h
    )
    assert r.status_code == 201, r.text
    group_jid = r.json()["id"]
    # Everything has arrived on the other side (REST's /events, polled) before GraphQL reads.
    await _event(api, h, a, "poll_vote", pollMessageId=poll["id"])
    await _event(api, h, a, "message_reaction", messageId=poll["id"])
    await _event(api, h, a, "presence_update", state="composing")
    await _event(api, h, b, "message_edited", messageId=text["id"])
    await _event(api, h, b, "group_update", groupJid=group_jid, action="created")

    # Alice's side: what she sent, Bob's vote and reaction, Bob typing.
    kinds = ["message_sent", "poll_vote", "message_reaction", "presence_update"]
    nodes = await _events(api, h, a, kinds)
    sent = {n["data"]["messageId"]: n["data"] for n in nodes if n["__typename"] == "MessageSent"}
    assert sent[pin["id"]]["location"] == {
        "latitude": 48.85, "longitude": 2.35, "name": "Paris", "address": None,
    }  # fmt: skip
    assert sent[pin["id"]]["contacts"] is None and sent[pin["id"]]["poll"] is None
    assert [c["name"] for c in sent[cards["id"]]["contacts"]] == ["Ana"]
    assert "BEGIN:VCARD" in sent[cards["id"]]["contacts"][0]["vcard"]
    assert sent[poll["id"]]["body"] == "Lunch?"
    assert sent[poll["id"]]["poll"]["options"] == ["pizza", "soup"]
    assert sent[poll["id"]]["poll"]["selectableCount"] == 1
    assert sent[text["id"]]["location"] is None
    voted = _only(nodes, "PollVote")
    assert voted["type"] == "poll_vote"
    assert voted["data"] == {
        "instanceId": a,
        "pollMessageId": poll["id"],
        "remoteJid": BOB_JID,
        "voter": BOB_JID,
        "fromMe": False,
        "options": ["pizza"],
        "tally": [{"option": "pizza", "votes": 1}, {"option": "soup", "votes": 0}],
    }
    reaction = _only(nodes, "MessageReaction")["data"]
    assert reaction["messageId"] == poll["id"] and reaction["from"] == BOB_JID
    assert reaction["emoji"] == "👍" and reaction["removed"] is False
    assert reaction["fromMe"] is False and reaction["reactionId"]
    presence = _only(nodes, "PresenceUpdate")["data"]
    assert presence == {"remoteJid": BOB_JID, "from": BOB_JID, "state": "composing"}

    # Bob's side: the rich messages received, the edit, the group he was put in.
    r = await api.client.delete(f"{send}/messages/{text['id']}", headers=h)
    assert r.status_code == 200, r.text
    await _event(api, h, b, "message_revoked", messageId=text["id"])
    kinds = ["message_received", "message_edited", "message_revoked", "group_update"]
    nodes = await _events(api, h, b, kinds)
    got = {n["data"]["messageId"]: n["data"] for n in nodes if n["__typename"] == "MessageReceived"}
    assert got[pin["id"]]["type"] == "locationMessage"
    assert got[pin["id"]]["location"]["name"] == "Paris"
    assert got[cards["id"]]["type"] == "contactsArrayMessage"
    assert got[cards["id"]]["contacts"] == [{"name": "Ana", "phone": "15550003333"}]
    assert got[poll["id"]]["type"] == "pollCreationMessage"
    assert got[poll["id"]]["poll"]["tally"] == [
        {"option": "pizza", "votes": 0}, {"option": "soup", "votes": 0},
    ]  # fmt: skip
    edited = _only(nodes, "MessageEdited")["data"]
    assert edited["messageId"] == text["id"] and edited["from"] == ALICE_JID
    assert edited["body"] == "v2" and edited["previousBody"] == "v1"
    assert edited["editedAt"] and edited["fromMe"] is False
    revoked = _only(nodes, "MessageRevoked")["data"]
    assert revoked["messageId"] == text["id"] and revoked["revokedAt"]
    group = _only(nodes, "GroupUpdate")
    assert group["type"] == "group_update"
    assert group["data"]["groupJid"] == group_jid and group["data"]["action"] == "created"
    assert group["data"]["by"] == ALICE_JID and group["data"]["participants"] == [BOB_JID]
    assert group["data"]["subject"] is None
    assert group["data"]["group"]["subject"] == "Team"
    assert group["data"]["group"]["owner"] == ALICE_JID
    members = {p["jid"]: p["isSuperAdmin"] for p in group["data"]["group"]["participants"]}
    assert members == {ALICE_JID: True, BOB_JID: False}

    # Bob's chat with Alice lists each kind typed, with its details (no GraphQL error).
    out = await api.gql(CHAT_MESSAGES, {"id": b}, h)
    assert "errors" not in out, out
    chat = next(c for c in out["data"]["instance"]["chats"]["nodes"] if c["remoteJid"] == ALICE_JID)
    by_id = {m["messageId"]: m for m in chat["messages"]["nodes"]}
    assert by_id[pin["id"]]["messageType"] == "location"
    assert by_id[pin["id"]]["location"]["latitude"] == 48.85
    assert by_id[cards["id"]]["messageType"] == "contact"
    assert by_id[cards["id"]]["contacts"][0]["phone"] == "15550003333"
    stored = by_id[poll["id"]]
    assert stored["messageType"] == "poll" and stored["content"] == "Lunch?"
    assert stored["poll"]["tally"] == [
        {"option": "pizza", "votes": 1}, {"option": "soup", "votes": 0},
    ]  # fmt: skip
    assert stored["poll"]["ballots"] == [{"voter": BOB_JID, "options": ["pizza"]}]
    assert stored["reactions"] == [{"reactor": BOB_JID, "emoji": "👍"}]
    assert stored["location"] is None and stored["revokedAt"] is None
    deleted = by_id[text["id"]]
    assert deleted["messageType"] == "text" and deleted["revokedAt"] is not None
    assert deleted["content"] is None and deleted["edits"] == []  # cleared with the content
    # Bob's own reaction is a message of kind `reaction`, pointing at the poll.
    reactions = [m for m in by_id.values() if m["messageType"] == "reaction"]
    assert [m["reactionTargetId"] for m in reactions] == [poll["id"]]


async def test_an_edit_keeps_its_earlier_text_typed(api: Api) -> None:
    h = await api.admin()
    a, b = await _pair(api, h, ALICE, "Alice"), await _pair(api, h, BOB, "Bob")
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "v1"})
    await _message(api, h, b, ALICE, text["id"])
    await _post(api, h, f"/api/whatsapp/{a}/messages/{text['id']}/edit", {"message": "v2"})
    await _event(api, h, b, "message_edited", messageId=text["id"])
    query = """query($id: ID!, $chat: String!) { instance(id: $id) {
        messages(chatId: $chat) { nodes { messageId content edits { body editedAt } } } } }"""
    out = await api.gql(query, {"id": b, "chat": ALICE}, h)
    assert "errors" not in out, out
    found = next(
        m for m in out["data"]["instance"]["messages"]["nodes"] if m["messageId"] == text["id"]
    )
    assert found["content"] == "v2"
    assert [e["body"] for e in found["edits"]] == ["v1"] and found["edits"][0]["editedAt"]


async def test_rich_closed_sets_are_enums(api: Api) -> None:
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice")
    query = """mutation($i: ID!, $e: [EventType!]!) { setWebhookEvents(instanceId: $i,
        events: $e) { events userErrors { field } } }"""
    wrong = await api.gql(query, {"i": a, "e": ["message_reactions"]}, h)
    assert wrong["data"] is None and wrong["errors"], wrong
    r = await api.client.get(f"/api/instances/{a}", headers=h)
    assert "events" not in r.json()["webhookSettings"]  # nothing changed
    presence = """mutation($i: ID!) { sendPresence(instanceId: $i, state: typing)
        { success } }"""
    refused = await api.gql(presence, {"i": a}, h)
    assert refused["data"] is None and "PresenceState" in refused["errors"][0]["message"]
    presence = """mutation($i: ID!) { sendPresence(instanceId: $i, state: available)
        { success userErrors { field } } }"""
    done = await api.gql(presence, {"i": a}, h)
    assert done["data"]["sendPresence"] == {"success": True, "userErrors": []}
