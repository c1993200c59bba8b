"""REST: reactions, locations, contact cards, polls, edits, deletes, forwards and presence
between two paired sandbox instances — each send, and its arrival on the other side
(stored, on the event stream, as a webhook)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Api
from tests.webhook_receiver import WebhookReceiver

ALICE, BOB = "15550001111", "15550002222"
ALICE_JID, BOB_JID = ALICE + "@s.whatsapp.net", BOB + "@s.whatsapp.net"


async def _pair(api: Api, h: dict[str, str], phone: str, name: str, **body: Any) -> str:
    inst = await api.new_instance(h, name=name, **body)
    await api.wait_status(inst["id"], h, "qr")
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/scan", json={"phone": phone, "pushName": name}, headers=h
    )
    assert r.status_code == 200, r.text
    await api.wait_status(inst["id"], h, "connected")
    return str(inst["id"])


async def _until(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Polls `check` until it answers something truthy (no fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def _history(api: Api, h: dict[str, str], iid: str, chat: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/chats/{chat}/messages", headers=h)
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def _message(api: Api, h: dict[str, str], iid: str, chat: str, wa_id: str) -> Any:
    async def find() -> dict[str, Any] | None:
        return next((m for m in await _history(api, h, iid, chat) if m["messageId"] == wa_id), None)

    return await _until(find)


async def _events(api: Api, h: dict[str, str], iid: str, kind: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/events?types={kind}&limit=100", headers=h)
    assert r.status_code == 200, r.text
    return [e["data"] for e in r.json()["events"]]


async def _event(api: Api, h: dict[str, str], iid: str, kind: str, **match: Any) -> Any:
    async def find() -> dict[str, Any] | None:
        found = await _events(api, h, iid, kind)
        return next((e for e in found if all(e.get(k) == v for k, v in match.items())), None)

    return await _until(find)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as rx:
        yield rx


Pair = tuple[Api, dict[str, str], str, str]


@pytest.fixture
async def pair(api: Api, receiver: WebhookReceiver) -> Pair:
    """Alice and Bob, both connected; Bob's webhook asks for every new event kind."""
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice")
    b = await _pair(
        api,
        h,
        BOB,
        "Bob",
        webhookUrl=receiver.url,
        webhookEnabled=True,
        events=[
            "message_received",
            "message_reaction",
            "message_edited",
            "message_revoked",
            "poll_vote",
            "presence_update",
        ],
    )
    return api, h, a, b


async def _post(api: Api, h: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    r = await api.client.post(path, json=body, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


async def test_location_contact_card_and_poll_arrive_stored_streamed_and_as_webhooks(
    pair: Pair, receiver: WebhookReceiver
) -> None:
    api, h, a, b = pair
    loc = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-location",
        {"phone": BOB, "latitude": 55.75, "longitude": 37.62, "name": "Red Square"},
    )
    card = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-contact",
        {"phone": BOB, "contacts": [{"name": "Carol; Ltd", "phone": "+1 555 000 3333"}]},
    )
    poll = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-poll",
        {"phone": BOB, "question": "Lunch?", "options": ["pizza", "sushi", "soup"]},
    )

    got = await _message(api, h, b, ALICE, loc["id"])
    assert got["messageType"] == "location" and got["content"] == "Red Square"
    assert got["metadata"]["location"] == {
        "latitude": 55.75,
        "longitude": 37.62,
        "name": "Red Square",
        "address": None,
    }
    got = await _message(api, h, b, ALICE, card["id"])
    assert got["messageType"] == "contact" and got["content"] == "Carol; Ltd"
    (c,) = got["metadata"]["contacts"]
    assert c["phone"] == "15550003333"
    assert "FN:Carol\\; Ltd" in c["vcard"] and "waid=15550003333:+15550003333" in c["vcard"]
    got = await _message(api, h, b, ALICE, poll["id"])
    assert got["messageType"] == "poll" and got["content"] == "Lunch?"
    assert got["metadata"]["poll"]["options"] == ["pizza", "sushi", "soup"]
    assert got["metadata"]["poll"]["selectableCount"] == 1

    # the sender's own history has the same kinds, sent
    mine = await _message(api, h, a, BOB, loc["id"])
    assert mine["messageType"] == "location" and mine["fromMe"] is True
    sent = await _event(api, h, a, "message_sent", messageId=poll["id"])
    assert sent["type"] == "poll" and sent["poll"]["options"] == ["pizza", "sushi", "soup"]

    received = await _event(api, h, b, "message_received", messageId=loc["id"])
    assert received["type"] == "locationMessage" and received["location"]["latitude"] == 55.75
    hooks = await receiver.wait_for(
        lambda rs: (
            {card["id"], poll["id"]}
            <= {r.json()["data"].get("messageId") for r in rs if r.event == "message_received"}
        )
    )
    poll_hook = next(r for r in hooks if r.json()["data"].get("messageId") == poll["id"])
    assert poll_hook.json()["data"]["type"] == "pollCreationMessage"


async def test_reaction_is_stored_on_both_sides_and_removed_by_an_empty_emoji(
    pair: Pair, receiver: WebhookReceiver
) -> None:
    api, h, a, b = pair
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "hi"})
    await _message(api, h, b, ALICE, text["id"])
    reaction = await _post(
        api, h, f"/api/whatsapp/{b}/react", {"messageId": text["id"], "emoji": "👍"}
    )

    async def reacted() -> bool:
        m = await _message(api, h, a, BOB, text["id"])
        return m["metadata"].get("reactions") == {BOB_JID: "👍"}

    await _until(reacted)
    event = await _event(api, h, a, "message_reaction", messageId=text["id"])
    assert event == {
        "instanceId": a,
        "messageId": text["id"],
        "remoteJid": BOB_JID,
        "from": BOB_JID,
        "fromMe": False,
        "reactionId": reaction["id"],
        "emoji": "👍",
        "removed": False,
    }
    row = await _message(api, h, a, BOB, reaction["id"])
    assert row["messageType"] == "reaction" and row["content"] == "👍"
    mine = await _message(api, h, b, ALICE, text["id"])
    assert mine["metadata"]["reactions"] == {BOB_JID: "👍"}
    hook = await receiver.wait_for(lambda rs: any(r.event == "message_reaction" for r in rs))
    assert any(r.json()["data"]["emoji"] == "👍" for r in hook if r.event == "message_reaction")

    # a reaction is never unread
    chats = (await api.client.get(f"/api/instances/{a}/chats", headers=h)).json()["chats"]
    assert chats[0]["unreadCount"] == 0

    await _post(api, h, f"/api/whatsapp/{b}/react", {"messageId": text["id"], "emoji": ""})

    async def removed() -> bool:
        m = await _message(api, h, a, BOB, text["id"])
        return m["metadata"].get("reactions") == {}

    await _until(removed)
    await _event(api, h, a, "message_reaction", removed=True)


async def test_edit_and_revoke_are_seen_by_the_receiver(
    pair: Pair, receiver: WebhookReceiver
) -> None:
    api, h, a, b = pair
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "helo"})
    await _message(api, h, b, ALICE, text["id"])

    edited = await _post(
        api, h, f"/api/whatsapp/{a}/messages/{text['id']}/edit", {"message": "hello"}
    )
    assert edited["content"] == "hello" and edited["metadata"]["edits"][0]["body"] == "helo"
    event = await _event(api, h, b, "message_edited", messageId=text["id"])
    assert event["body"] == "hello" and event["previousBody"] == "helo"
    assert event["from"] == ALICE_JID and event["fromMe"] is False
    theirs = await _message(api, h, b, ALICE, text["id"])
    assert theirs["content"] == "hello"
    assert [e["body"] for e in theirs["metadata"]["edits"]] == ["helo"]

    r = await api.client.delete(f"/api/whatsapp/{a}/messages/{text['id']}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["revoked"] is True and r.json()["content"] is None
    await _event(api, h, b, "message_revoked", messageId=text["id"])
    theirs = await _message(api, h, b, ALICE, text["id"])
    assert theirs["metadata"]["revoked"] is True
    # KEEP_REVOKED_CONTENT is off: neither the text nor its earlier versions are kept
    assert theirs["content"] is None and "edits" not in theirs["metadata"]
    await receiver.wait_for(
        lambda rs: {"message_edited", "message_revoked"} <= {r.event for r in rs}
    )

    # a deleted message can be neither edited nor deleted again: 409
    r = await api.client.post(
        f"/api/whatsapp/{a}/messages/{text['id']}/edit", json={"message": "x"}, headers=h
    )
    assert r.status_code == 409, r.text
    r = await api.client.delete(f"/api/whatsapp/{a}/messages/{text['id']}", headers=h)
    assert r.status_code == 409, r.text


async def test_revoked_content_is_kept_when_the_operator_says_so(api_factory: Any) -> None:
    api = await api_factory(keep_revoked_content=True)
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice")
    b = await _pair(api, h, BOB, "Bob")
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "oops"})
    await _message(api, h, b, ALICE, text["id"])
    r = await api.client.delete(f"/api/whatsapp/{a}/messages/{text['id']}", headers=h)
    assert r.status_code == 200 and r.json()["content"] == "oops"

    async def revoked() -> Any:
        m = await _message(api, h, b, ALICE, text["id"])
        return m if m["metadata"].get("revoked") else None

    theirs = await revoked() or await _until(revoked)
    assert theirs["content"] == "oops"


async def test_editing_after_whatsapps_window_is_409(pair: Pair) -> None:
    api, h, a, _ = pair
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "old"})
    async with api.container.storage.unit_of_work() as uow:
        stored = await uow.messages.get(a, text["id"])
        stored.created_at -= timedelta(minutes=16)
        await uow.messages.update(stored)
        await uow.commit()
    r = await api.client.post(
        f"/api/whatsapp/{a}/messages/{text['id']}/edit", json={"message": "new"}, headers=h
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert (await _message(api, h, a, BOB, text["id"]))["content"] == "old"


async def test_poll_votes_from_both_members_are_tallied_on_both_sides(
    pair: Pair, receiver: WebhookReceiver
) -> None:
    api, h, a, b = pair
    poll = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-poll",
        {
            "phone": BOB,
            "question": "Lunch?",
            "options": ["pizza", "sushi"],
            "multipleAnswers": True,
        },
    )
    await _message(api, h, b, ALICE, poll["id"])
    mine = await _post(
        api, h, f"/api/whatsapp/{a}/poll-vote", {"pollId": poll["id"], "options": ["pizza"]}
    )
    assert mine["metadata"]["poll"]["tally"] == {"pizza": 1, "sushi": 0}
    await _post(
        api,
        h,
        f"/api/whatsapp/{b}/poll-vote",
        {"pollId": poll["id"], "options": ["pizza", "sushi"]},
    )
    want = {"pizza": 2, "sushi": 1}

    async def tallied(iid: str, chat: str) -> bool:
        m = await _message(api, h, iid, chat, poll["id"])
        return bool(m["metadata"]["poll"]["tally"] == want)

    await _until(lambda: tallied(a, BOB))
    await _until(lambda: tallied(b, ALICE))
    vote = await _event(api, h, a, "poll_vote", voter=BOB_JID)
    assert vote["options"] == ["pizza", "sushi"] and vote["tally"] == want
    assert vote["pollMessageId"] == poll["id"] and vote["fromMe"] is False
    await receiver.wait_for(lambda rs: any(r.event == "poll_vote" for r in rs))


async def test_presence_reaches_the_other_instance(pair: Pair, receiver: WebhookReceiver) -> None:
    api, h, a, b = pair
    await _post(api, h, f"/api/whatsapp/{a}/presence", {"state": "composing", "chatId": BOB})
    event = await _event(api, h, b, "presence_update", state="composing")
    assert event["from"] == ALICE_JID and event["remoteJid"] == ALICE_JID
    await receiver.wait_for(lambda rs: any(r.event == "presence_update" for r in rs))
    r = await _post(api, h, f"/api/whatsapp/{a}/presence", {"state": "available"})
    assert r == {"success": True}


async def test_forward_sends_a_copy_marked_forwarded(pair: Pair) -> None:
    api, h, a, b = pair
    loc = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-location",
        {"phone": "79001234567", "latitude": 1, "longitude": 2},
    )
    fwd = await _post(api, h, f"/api/whatsapp/{a}/messages/{loc['id']}/forward", {"phone": BOB})
    got = await _message(api, h, b, ALICE, fwd["id"])
    assert got["messageType"] == "location" and got["metadata"]["forwarded"] is True
    assert got["metadata"]["location"]["latitude"] == 1


async def test_new_event_kinds_stay_out_of_document_clients_unless_asked(
    api: Api, receiver: WebhookReceiver
) -> None:
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice")
    b = await _pair(api, h, BOB, "Bob", webhookUrl=receiver.url, webhookEnabled=True)
    text = await _post(api, h, f"/api/whatsapp/{b}/send", {"phone": ALICE, "message": "x"})
    await _message(api, h, a, BOB, text["id"])
    await _post(api, h, f"/api/whatsapp/{a}/react", {"messageId": text["id"], "emoji": "🎉"})
    await _event(api, h, b, "message_reaction")  # recorded, and readable by name
    # ... but neither in an unfiltered poll nor as a webhook (the document's eight only)
    r = await api.client.get(f"/api/instances/{b}/events?limit=1000", headers=h)
    assert "message_reaction" not in {e["type"] for e in r.json()["events"]}
    await _post(api, h, f"/api/whatsapp/{b}/send", {"phone": ALICE, "message": "after"})
    await receiver.wait_for(lambda rs: any(r.event == "message_sent" for r in rs))
    assert not receiver.of_event("message_reaction")
    settings = (await api.client.get(f"/api/instances/{b}", headers=h)).json()
    assert "message_reaction" not in str(settings)


async def test_reactions_and_presence_do_not_count_against_max_messages_sent(api: Api) -> None:
    h = await api.admin()
    a = await _pair(api, h, ALICE, "Alice", limits={"maxMessagesSent": 1})
    await _pair(api, h, BOB, "Bob")
    loc = await _post(
        api, h, f"/api/whatsapp/{a}/send-location", {"phone": BOB, "latitude": 0, "longitude": 0}
    )
    await _post(api, h, f"/api/whatsapp/{a}/react", {"messageId": loc["id"], "emoji": "❤️"})
    await _post(api, h, f"/api/whatsapp/{a}/presence", {"state": "paused", "chatId": BOB})
    r = await api.client.post(
        f"/api/whatsapp/{a}/send-poll",
        json={"phone": BOB, "question": "q", "options": ["a", "b"]},
        headers=h,
    )
    assert r.status_code == 429 and r.json()["details"]["limit"] == "maxMessagesSent"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("send-location", {"phone": BOB, "latitude": 91, "longitude": 0}, "latitude"),
        ("send-location", {"phone": BOB, "latitude": 0, "longitude": -181}, "longitude"),
        ("send-poll", {"phone": BOB, "question": "q", "options": ["a"]}, "options"),
        ("send-poll", {"phone": BOB, "question": "q", "options": ["a", "a"]}, "options"),
        ("send-poll", {"phone": BOB, "question": " ", "options": ["a", "b"]}, "question"),
        ("send-contact", {"phone": BOB, "contacts": []}, "contacts"),
        ("send-contact", {"phone": BOB, "contacts": [{"name": "x", "phone": "abc"}]}, None),
        ("react", {"messageId": "ANY", "emoji": "ok"}, "emoji"),
        ("presence", {"state": "dancing"}, "state"),
        ("presence", {"state": "composing"}, "chatId"),
        ("presence", {"state": "available", "chatId": BOB}, "chatId"),
    ],
)
async def test_bad_input_is_a_clear_400_and_sends_nothing(
    pair: Pair, path: str, body: dict[str, Any], field: str | None
) -> None:
    api, h, a, _ = pair
    r = await api.client.post(f"/api/whatsapp/{a}/{path}", json=body, headers=h)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "validation_error"
    if field is not None:
        assert r.json()["details"]["field"] == field
    assert await _history(api, h, a, BOB) == []


async def test_votes_edits_and_reactions_on_unknown_or_wrong_messages(pair: Pair) -> None:
    api, h, a, b = pair
    r = await api.client.post(
        f"/api/whatsapp/{a}/react", json={"messageId": "NOPE", "emoji": "👍"}, headers=h
    )
    assert r.status_code == 404
    text = await _post(api, h, f"/api/whatsapp/{a}/send", {"phone": BOB, "message": "x"})
    r = await api.client.post(
        f"/api/whatsapp/{a}/poll-vote", json={"pollId": text["id"], "options": []}, headers=h
    )
    assert r.status_code == 400 and r.json()["details"]["field"] == "pollId"
    theirs = await _message(api, h, b, ALICE, text["id"])
    # Bob cannot edit or delete Alice's message
    r = await api.client.post(
        f"/api/whatsapp/{b}/messages/{theirs['messageId']}/edit", json={"message": "y"}, headers=h
    )
    assert r.status_code == 400
    r = await api.client.delete(f"/api/whatsapp/{b}/messages/{theirs['messageId']}", headers=h)
    assert r.status_code == 400
    poll = await _post(
        api,
        h,
        f"/api/whatsapp/{a}/send-poll",
        {"phone": BOB, "question": "q", "options": ["a", "b"]},
    )
    r = await api.client.post(
        f"/api/whatsapp/{a}/poll-vote", json={"pollId": poll["id"], "options": ["c"]}, headers=h
    )
    assert r.status_code == 400 and r.json()["details"]["field"] == "options"
    r = await api.client.post(
        f"/api/whatsapp/{a}/poll-vote",
        json={"pollId": poll["id"], "options": ["a", "b"]},
        headers=h,
    )
    assert r.status_code == 400  # single choice


async def test_webhook_events_are_set_through_the_instance_update_and_checked(api: Api) -> None:
    h = await api.admin()
    iid = (await api.new_instance(h))["id"]
    r = await api.client.put(
        f"/api/instances/{iid}",
        json={"webhookSettings": {"events": ["poll_vote", "nope"]}},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["details"]["field"] == "events"
    assert (
        "events"
        not in (await api.client.get(f"/api/instances/{iid}", headers=h)).json()["webhookSettings"]
    )
    r = await api.client.put(
        f"/api/instances/{iid}",
        json={"webhookSettings": {"events": ["message_received", "poll_vote"]}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    got = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()["webhookSettings"]
    assert got["events"] == ["message_received", "poll_vote"]
