"""Keyset cursors on every list of the graph (activity, contacts, webhook deliveries, users):
rows added between two pages are neither repeated nor skipped; and `Instance.chat(id)`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.api.test_graphql_graph import incoming
from tests.conftest import Api
from tests.webhook_receiver import WebhookReceiver

LIST = """
query($id: ID!, $first: Int, $after: String) {
  instance(id: $id) {
    %s(first: $first, after: $after) {
      edges { cursor node { %s } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

USERS = """
query($first: Int, $after: String) {
  allUsers(first: $first, after: $after) {
    edges { cursor node { id email } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def _walk(
    api: Api,
    headers: dict[str, str],
    query: str,
    variables: dict[str, Any],
    path: Callable[[dict[str, Any]], dict[str, Any]],
    between: Callable[[], Awaitable[None]],
) -> list[dict[str, Any]]:
    """Every node, two per page, calling `between` after the first page."""
    seen: list[dict[str, Any]] = []
    after: str | None = None
    for page in range(100):
        out = await api.gql(query, {**variables, "first": 2, "after": after}, headers)
        assert "errors" not in out, out
        found = path(out["data"])
        assert found["pageInfo"]["hasPreviousPage"] is (page > 0)
        seen.extend(edge["node"] for edge in found["edges"])
        if page == 0:
            await between()
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        after = found["pageInfo"]["endCursor"]
        assert after == found["edges"][-1]["cursor"]
    raise AssertionError("the walk did not end")


def _ids(nodes: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return [n[key] for n in nodes]


async def test_activity_pages_by_keyset_while_entries_are_logged(api: Api) -> None:
    headers = await api.new_user("activity@example.com")
    iid = (await api.paired_instance(headers))["id"]
    for n in range(3):
        r = await api.client.put(
            f"/api/instances/{iid}", json={"name": f"renamed {n}"}, headers=headers
        )
        assert r.status_code == 200, r.text
    r = await api.client.get(
        f"/api/instances/{iid}/activity", params={"limit": 100}, headers=headers
    )
    before = [log["id"] for log in r.json()["logs"]]
    assert len(before) >= 5

    async def log_more() -> None:
        for n in range(3):
            await api.client.put(
                f"/api/instances/{iid}", json={"name": f"again {n}"}, headers=headers
            )

    query = LIST % ("activity", "id action createdAt")
    seen = await _walk(
        api, headers, query, {"id": iid}, lambda d: d["instance"]["activity"], log_more
    )
    assert _ids(seen) == before  # newest first: the new entries sit before the walk


async def test_contacts_page_by_name_while_contacts_are_saved(api: Api) -> None:
    headers = await api.new_user("contacts@example.com")
    iid = (await api.paired_instance(headers))["id"]

    async def save(phone: str, name: str) -> None:
        out = await api.gql(
            """mutation($id: ID!, $input: ContactInput!) {
                 saveContact(instanceId: $id, input: $input) { userErrors { message } }
               }""",
            {"id": iid, "input": {"number": phone, "name": name}},
            headers,
        )
        assert out["data"]["saveContact"]["userErrors"] == [], out

    for n, name in enumerate(["Bea", "Cid", "Dan", "Eve", "Fay"]):
        await save(f"7900111000{n}", name)

    async def save_more() -> None:
        await save("79001119999", "Abe")  # sorts before the cursor: not in later pages
        await save("79001118888", "Zoe")  # after it: the walk reaches it

    query = LIST % ("contacts", "id name number")
    seen = await _walk(
        api, headers, query, {"id": iid}, lambda d: d["instance"]["contacts"], save_more
    )
    assert _ids(seen, "name") == ["Bea", "Cid", "Dan", "Eve", "Fay", "Zoe"]
    assert len(set(_ids(seen))) == len(seen)


@pytest.fixture
async def rx() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_deliveries_page_by_keyset_while_events_are_queued(
    api: Api, rx: WebhookReceiver
) -> None:
    headers = await api.admin()  # a receiver on 127.0.0.1: an admin's instance
    iid = (await api.paired_instance(headers, webhookUrl=rx.url, webhookEnabled=True))["id"]
    for n in range(4):
        await incoming(api, headers, iid, "79001234567", f"hello {n}")
    query = LIST % ("webhookDeliveries", "id event")
    out = await api.gql(query, {"id": iid, "first": 100}, headers)
    before = [e["node"]["id"] for e in out["data"]["instance"]["webhookDeliveries"]["edges"]]
    assert len(before) >= 5

    async def queue_more() -> None:
        for n in range(3):
            await incoming(api, headers, iid, "79001234567", f"more {n}")

    seen = await _walk(
        api, headers, query, {"id": iid}, lambda d: d["instance"]["webhookDeliveries"], queue_more
    )
    assert _ids(seen) == before


async def test_all_users_page_by_keyset_while_users_are_created(api: Api) -> None:
    admin = await api.admin()
    for n in range(3):
        await api.new_user(f"walker{n}@example.com")
    out = await api.gql(USERS, {"first": 100}, admin)
    before = [e["node"]["email"] for e in out["data"]["allUsers"]["edges"]]

    async def create_more() -> None:
        await api.new_user("latecomer@example.com")

    seen = await _walk(api, admin, USERS, {}, lambda d: d["allUsers"], create_more)
    # Oldest first: the new user comes last, after every user that was there.
    assert _ids(seen, "email") == [*before, "latecomer@example.com"]
    user = await api.new_user("nosy@example.com")
    denied = await api.gql(USERS, {}, user)
    assert denied["errors"][0]["extensions"]["code"] == "forbidden", denied


CHAT = """
query($id: ID!, $chat: String!) {
  instance(id: $id) {
    chat(id: $chat) { remoteJid name unreadCount messageCount lastMessage { content } }
  }
}
"""


async def test_chat_by_phone_or_jid_and_null_when_absent(api: Api) -> None:
    headers = await api.new_user("chat@example.com")
    iid = (await api.paired_instance(headers))["id"]
    await incoming(api, headers, iid, "79001234567", "first")
    await incoming(api, headers, iid, "79001234567", "second")
    jid = "79001234567@s.whatsapp.net"
    for chat_id in ("+7 900 123-45-67", jid):
        out = await api.gql(CHAT, {"id": iid, "chat": chat_id}, headers)
        assert "errors" not in out, out
        assert out["data"]["instance"]["chat"] == {
            "remoteJid": jid,
            "name": None,
            "unreadCount": 2,
            "messageCount": 2,
            "lastMessage": {"content": "second"},
        }
    out = await api.gql(CHAT, {"id": iid, "chat": "79009999999"}, headers)
    assert out["data"]["instance"]["chat"] is None, out
    out = await api.gql(CHAT, {"id": iid, "chat": "not a phone"}, headers)
    assert out["errors"][0]["extensions"]["code"] == "validation_error", out
    # Many instances' chats in one query: batched, and each answers its own.
    other = (await api.paired_instance(headers, name="other"))["id"]
    out = await api.gql(
        "query($chat: String!) { instances { id chat(id: $chat) { lastMessage { content } } } }",
        {"chat": jid},
        headers,
    )
    chats = {i["id"]: i["chat"] for i in out["data"]["instances"]}
    assert chats == {iid: {"lastMessage": {"content": "second"}}, other: None}


LAST_EVENTS = """
query($id: ID!, $last: Int, $first: Int) {
  instance(id: $id) {
    events(last: $last, first: $first, types: [message_received]) {
      nodes { type timestamp ... on MessageReceived { data { body } } }
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
}
"""


async def test_events_last_gives_the_newest_oldest_first(api: Api) -> None:
    headers = await api.new_user("last-events@example.com")
    iid = (await api.paired_instance(headers))["id"]
    for n in range(5):
        await incoming(api, headers, iid, "15550001111", f"hello {n}")
    out = await api.gql(LAST_EVENTS, {"id": iid, "last": 3}, headers)
    assert "errors" not in out, out
    events = out["data"]["instance"]["events"]
    assert [e["data"]["body"] for e in events["nodes"]] == ["hello 2", "hello 3", "hello 4"]
    assert events["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    out = await api.gql(LAST_EVENTS, {"id": iid, "last": 9}, headers)
    assert len(out["data"]["instance"]["events"]["nodes"]) == 5
    assert out["data"]["instance"]["events"]["pageInfo"]["hasPreviousPage"] is False
    both = await api.gql(LAST_EVENTS, {"id": iid, "last": 2, "first": 2}, headers)
    assert both["data"] is None or both["data"]["instance"] is None
    assert both["errors"][0]["extensions"]["code"] == "validation_error"
