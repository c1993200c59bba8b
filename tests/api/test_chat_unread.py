"""Marking a chat unread, through REST and GraphQL, between two paired sandbox instances: a flag
on the chat (the account's app state keeps it, the phone shows a badge), not a change to its
messages; a new message in the chat or a read mark clears it."""

from __future__ import annotations

from typing import Any

from tests.api.test_rest_rich import ALICE, ALICE_JID, BOB, _history, _message, _pair, _until
from tests.conftest import Api

CHATS = """query($id: ID!) {
  instance(id: $id) { chats(first: 10) { nodes { remoteJid unreadCount markedUnread } } }
}"""
MARK_UNREAD = """mutation($id: ID!, $chat: String!) {
  markChatUnread(instanceId: $id, chatId: $chat) { success userErrors { field code message } }
}"""
MARK_READ = "mutation($id: ID!, $chat: String!) { markChatRead(instanceId: $id, chatId: $chat) }"


async def _chats(api: Api, h: dict[str, str], iid: str) -> dict[str, tuple[int, bool]]:
    r = await api.client.get(f"/api/instances/{iid}/chats", headers=h)
    assert r.status_code == 200, r.text
    return {c["remoteJid"]: (c["unreadCount"], c["markedUnread"]) for c in r.json()["chats"]}


async def _gql_chats(api: Api, h: dict[str, str], iid: str) -> dict[str, tuple[int, bool]]:
    out = await api.gql(CHATS, {"id": iid}, h)
    assert "errors" not in out, out
    nodes = out["data"]["instance"]["chats"]["nodes"]
    return {n["remoteJid"]: (n["unreadCount"], n["markedUnread"]) for n in nodes}


def _app_state(api: Api, iid: str) -> dict[str, Any]:
    """What the account's app state on the simulated network shows marked unread."""
    return dict(api.container.connections.sandbox().marked_unread(iid))


async def _send(api: Api, h: dict[str, str], iid: str, to: str, text: str) -> str:
    r = await api.client.post(
        f"/api/whatsapp/{iid}/send", json={"phone": to, "message": text}, headers=h
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def _two(api: Api) -> tuple[dict[str, str], str, str]:
    h = await api.admin()
    return h, await _pair(api, h, ALICE, "Alice"), await _pair(api, h, BOB, "Bob")


async def test_rest_mark_unread_is_a_flag_on_the_chat_until_read_or_a_new_message(
    api: Api,
) -> None:
    h, a, b = await _two(api)
    sent = await _send(api, h, a, BOB, "hello Bob")
    got = await _message(api, h, b, ALICE, sent)
    r = await api.client.post(f"/api/instances/{b}/chats/{ALICE}/read", headers=h)
    assert r.json() == {"success": True, "markedRead": 1}
    await _until(lambda: _status_is(api, h, a, BOB, sent, "read"))

    r = await api.client.post(f"/api/instances/{b}/chats/{ALICE}/unread", headers=h)
    assert (r.status_code, r.json()) == (200, {"success": True})
    # The chat is marked; its message is untouched (still read) and Alice sees nothing change.
    assert await _chats(api, h, b) == {ALICE_JID: (0, True)}
    assert [m["status"] for m in await _history(api, h, b, ALICE)] == ["read"]
    assert await _chats(api, h, a) == {f"{BOB}@s.whatsapp.net": (0, False)}
    assert [m["status"] for m in await _history(api, h, a, BOB)] == ["read"]
    # The account's app state got the mark, naming the chat's last message.
    mark = _app_state(api, b)[ALICE_JID]
    assert (mark.message_id, mark.from_me) == (got["messageId"], False)

    # Marking it read clears it (on the phone too), though no message was unread.
    r = await api.client.post(f"/api/instances/{b}/chats/{ALICE_JID}/read", headers=h)
    assert r.json() == {"success": True, "markedRead": 0}
    assert await _chats(api, h, b) == {ALICE_JID: (0, False)}
    assert _app_state(api, b) == {}

    # A message received in the chat clears it; so does one sent in it.
    await api.client.post(f"/api/instances/{b}/chats/{ALICE}/unread", headers=h)
    assert await _chats(api, h, b) == {ALICE_JID: (0, True)}
    incoming = await _send(api, h, a, BOB, "are you there?")
    await _message(api, h, b, ALICE, incoming)
    assert await _chats(api, h, b) == {ALICE_JID: (1, False)}
    await api.client.post(f"/api/instances/{b}/chats/{ALICE}/unread", headers=h)
    assert await _chats(api, h, b) == {ALICE_JID: (1, True)}
    await _send(api, h, b, ALICE, "yes")
    assert await _chats(api, h, b) == {ALICE_JID: (1, False)}


async def _status_is(api: Api, h: dict[str, str], iid: str, chat: str, wa: str, s: str) -> bool:
    return any(m["messageId"] == wa and m["status"] == s for m in await _history(api, h, iid, chat))


async def test_rest_mark_unread_refuses_bad_unknown_and_foreign_targets(api: Api) -> None:
    h, a, b = await _two(api)
    sent = await _send(api, h, a, BOB, "hi")
    await _message(api, h, b, ALICE, sent)
    stranger = await api.new_user("stranger@example.com")
    cases = [
        (f"/api/instances/{b}/chats/not-a-phone@example.com/unread", h, 400),
        (f"/api/instances/{b}/chats/15559990000/unread", h, 404),  # no such chat
        ("/api/instances/no-such-instance/chats/15550001111/unread", h, 404),
        (f"/api/instances/{b}/chats/{ALICE}/unread", stranger, 404),  # someone else's
    ]
    for path, headers, status in cases:
        r = await api.client.post(path, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert set(r.json()) >= {"error", "message"}
    assert await _chats(api, h, b) == {ALICE_JID: (1, False)}  # nothing changed
    assert _app_state(api, b) == {}


async def test_graphql_mark_chat_unread_and_chat_marked_unread(api: Api) -> None:
    h, a, b = await _two(api)
    sent = await _send(api, h, a, BOB, "hello")
    await _message(api, h, b, ALICE, sent)

    out = await api.gql(MARK_UNREAD, {"id": b, "chat": ALICE}, h)
    assert out["data"]["markChatUnread"] == {"success": True, "userErrors": []}, out
    assert await _gql_chats(api, h, b) == {ALICE_JID: (1, True)}
    assert ALICE_JID in _app_state(api, b)

    out = await api.gql(MARK_READ, {"id": b, "chat": ALICE_JID}, h)
    assert out["data"]["markChatRead"] == 1, out
    assert await _gql_chats(api, h, b) == {ALICE_JID: (0, False)}
    assert _app_state(api, b) == {}

    # Input the caller can fix is a user error on the argument; nothing is marked.
    out = await api.gql(MARK_UNREAD, {"id": b, "chat": "nope@example.com"}, h)
    answer = out["data"]["markChatUnread"]
    assert answer["success"] is False and answer["userErrors"][0]["field"] == ["chatId"], out
    # Someone else's instance, or a chat without messages: not found, as GraphQL errors.
    stranger = await api.new_user("stranger@example.com")
    no_chat = {"id": b, "chat": "15559990000"}
    for variables, headers in (({"id": b, "chat": ALICE}, stranger), (no_chat, h)):
        out = await api.gql(MARK_UNREAD, variables, headers)
        assert out["errors"][0]["extensions"]["code"] == "not_found", out
    assert await _gql_chats(api, h, b) == {ALICE_JID: (0, False)}
