"""GraphQL as a graph: one query for a dashboard, batched storage reads, keyset cursors,
typed events, typed limits and enums."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event

from tests.conftest import Api

DASHBOARD = """
{
  instances {
    id name status
    connectionStatus { status ready hasQr }
    qr { qrCode }
    usageToday { messagesSent messagesReceived apiCalls }
    chats(first: 5) {
      edges { cursor node { remoteJid name unreadCount lastMessage { content status } } }
      pageInfo { hasNextPage endCursor }
    }
    events(first: 3) { nodes { type timestamp } pageInfo { hasNextPage } }
    activity(first: 2) { nodes { action } pageInfo { hasNextPage } }
    contacts(first: 2) { nodes { name } }
    webhookDeliveries(first: 2) { nodes { event } }
  }
}
"""

HISTORY = """
query($id: ID!, $chat: String!, $first: Int, $after: String) {
  instance(id: $id) {
    messages(chatId: $chat, first: $first, after: $after) {
      edges { cursor node { id messageId content } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""


_REQUEST: ContextVar[list[str] | None] = ContextVar("request_statements", default=None)


@contextmanager
def counted_selects(api: Api) -> Iterator[list[str]]:
    """Every SELECT sent on behalf of the code run meanwhile in this task (the request, and
    the tasks it starts: contextvars follow them; SQLAlchemy's greenlets and the SQLite
    reader threads keep them).
    The server's own background work (the webhook outbox poll) runs in other tasks."""
    storage = api.container.storage.backend.storage
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        mine = _REQUEST.get()
        if mine is not None and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            mine.append(statement)

    engines = [storage.engine.sync_engine]
    if storage.writer is not None:
        engines.append(storage.writer.engine)
    if storage.reader is not None:  # read-only units run on reader threads (reader.py)
        engines.append(storage.reader.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    token = _REQUEST.set(sent)
    try:
        yield sent
    finally:
        _REQUEST.reset(token)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def incoming(api: Api, headers: dict[str, str], iid: str, sender: str, body: str) -> None:
    r = await api.client.post(
        f"/api/sandbox/{iid}/incoming", json={"from": sender, "body": body}, headers=headers
    )
    assert r.status_code == 200, r.text


async def _settled(api: Api, headers: dict[str, str], ids: list[str], status: str) -> None:
    await asyncio.gather(*(api.wait_status(i, headers, status, within=30) for i in ids))


async def _dashboard(api: Api, headers: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    with counted_selects(api) as sent:
        out = await api.gql(DASHBOARD, headers=headers)
    assert "errors" not in out, out
    return out["data"]["instances"], len(sent)


async def test_dashboard_query_costs_the_same_round_trips_for_3_or_50_instances(
    api: Api,
) -> None:
    headers = await api.new_user("dash@example.com")
    paired = [(await api.paired_instance(headers, name=f"paired {n}"))["id"] for n in range(3)]
    for n, iid in enumerate(paired):
        for k in range(7):  # more chats than the five asked for
            await incoming(api, headers, iid, f"7900123{n}{k:03d}", f"hello {k}")
    await incoming(api, headers, paired[0], "79001230000", "again")
    # The API key is resolved (and cached) before measuring, as in any later request.
    await api.gql("{ me { id } }", headers=headers)

    few, few_selects = await _dashboard(api, headers)
    assert [i["id"] for i in few] == paired
    first = few[0]
    assert first["status"] == "connected" and first["qr"] is None
    assert first["connectionStatus"] == {"status": "connected", "ready": True, "hasQr": False}
    assert first["usageToday"]["messagesReceived"] == 8
    chats = first["chats"]
    assert len(chats["edges"]) == 5 and chats["pageInfo"]["hasNextPage"] is True
    top = chats["edges"][0]["node"]
    assert top["remoteJid"] == "79001230000@s.whatsapp.net"
    assert top["unreadCount"] == 2 and top["lastMessage"]["content"] == "again"
    assert top["lastMessage"]["status"] == "received"

    waiting = [(await api.new_instance(headers, name=f"waiting {n}"))["id"] for n in range(47)]
    await _settled(api, headers, waiting, "qr")
    many, many_selects = await _dashboard(api, headers)
    assert len(many) == 50
    shown = {i["id"]: i for i in many}
    assert shown[waiting[0]]["status"] == "qr"
    assert shown[waiting[0]]["qr"]["qrCode"].startswith("2@")
    assert shown[waiting[0]]["chats"]["edges"] == []
    assert shown[paired[2]]["chats"]["edges"][0]["node"]["unreadCount"] == 1
    assert shown[waiting[0]]["events"]["nodes"][0]["type"] == "qr_received"
    assert shown[waiting[0]]["activity"]["nodes"][0]["action"] == "qr_received"
    assert shown[paired[0]]["activity"]["pageInfo"]["hasNextPage"] is True
    # Instances, chats (+ their contacts' names), today's usage, events, activity, contacts
    # and deliveries: one read each.
    assert many_selects == few_selects, (few_selects, many_selects)
    assert 8 <= few_selects <= 9  # (the caller, if its cached lookup expired meanwhile)


async def test_paging_messages_while_new_ones_arrive_neither_repeats_nor_skips(api: Api) -> None:
    headers = await api.new_user("pages@example.com")
    iid = (await api.paired_instance(headers))["id"]
    sender = "79001234567"
    for n in range(10):
        await incoming(api, headers, iid, sender, f"old {n}")
    r = await api.client.get(
        f"/api/instances/{iid}/chats/{sender}/messages", params={"limit": 100}, headers=headers
    )
    assert r.status_code == 200, r.text
    existing = [m["messageId"] for m in r.json()["messages"]]  # newest first
    assert len(existing) == 10

    seen: list[str] = []
    after: str | None = None
    for page_number in range(20):
        out = await api.gql(
            HISTORY, {"id": iid, "chat": sender, "first": 3, "after": after}, headers=headers
        )
        assert "errors" not in out, out
        page = out["data"]["instance"]["messages"]
        seen += [e["node"]["messageId"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        # Two new messages arrive between every two pages (they are newer than the walk).
        await incoming(api, headers, iid, sender, f"new {page_number}a")
        await incoming(api, headers, iid, sender, f"new {page_number}b")
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == existing


async def test_a_foreign_cursor_is_a_clear_validation_error(api: Api) -> None:
    headers = await api.new_user("cursor@example.com")
    iid = (await api.paired_instance(headers))["id"]
    out = await api.gql(
        HISTORY, {"id": iid, "chat": "79001234567", "after": "not-a-cursor"}, headers=headers
    )
    assert out["errors"][0]["extensions"]["code"] == "validation_error", out
    assert out["errors"][0]["extensions"]["status"] == 400, out


async def test_typed_events_carry_the_webhook_payload_fields(api: Api) -> None:
    headers = await api.new_user("typed@example.com")
    iid = (await api.paired_instance(headers))["id"]
    await incoming(api, headers, iid, "79001234567", "привет")
    query = """
    query($id: ID!, $types: [EventType!]) {
      instance(id: $id) {
        events(types: $types) {
          edges { node {
            __typename type instanceId
            ... on MessageReceived { data { messageId from body type hasMedia status } }
            ... on Connected { data { instanceId } }
          } }
        }
      }
    }
    """
    out = await api.gql(
        query, {"id": iid, "types": ["connected", "message_received"]}, headers=headers
    )
    assert "errors" not in out, out
    nodes = [e["node"] for e in out["data"]["instance"]["events"]["edges"]]
    assert [n["__typename"] for n in nodes] == ["Connected", "MessageReceived"]
    assert nodes[0]["data"] == {"instanceId": iid}
    received = nodes[1]["data"]
    assert received["from"] == "79001234567@s.whatsapp.net"
    assert received["body"] == "привет" and received["type"] == "conversation"
    assert received["hasMedia"] is False and received["status"] == "received"
    # The same message as REST's /events has it.
    r = await api.client.get(
        f"/api/instances/{iid}/events", params={"types": "message_received"}, headers=headers
    )
    assert r.json()["events"][0]["data"]["messageId"] == received["messageId"]


async def test_limits_are_typed_on_the_way_in_and_out(api: Api) -> None:
    headers = await api.new_user("limits@example.com")
    create = """
    mutation($input: NewInstanceInput!) {
      createInstance(input: $input) {
        instance { id engine limits { maxMessagesSent maxApiCalls } }
        userErrors { field code }
      }
    }
    """
    out = await api.gql(
        create,
        {"input": {"name": "capped", "engine": "sandbox", "limits": {"maxMessagesSent": 5}}},
        headers=headers,
    )
    assert "errors" not in out, out
    assert out["data"]["createInstance"]["userErrors"] == []
    created = out["data"]["createInstance"]["instance"]
    assert created["engine"] == "sandbox"
    assert created["limits"] == {"maxMessagesSent": 5, "maxApiCalls": None}
    update = """
    mutation($id: ID!, $input: InstanceChangesInput!) {
      updateInstance(id: $id, input: $input) {
        instance { limits { maxMessagesSent maxApiCalls } }
        userErrors { field code }
      }
    }
    """
    out = await api.gql(
        update,
        {"id": created["id"], "input": {"limits": {"maxMessagesSent": None, "maxApiCalls": 9}}},
        headers=headers,
    )
    assert "errors" not in out, out
    changed = out["data"]["updateInstance"]["instance"]
    assert changed["limits"] == {"maxMessagesSent": None, "maxApiCalls": 9}
    # A limit out of range is a user error next to its field, and changes nothing.
    out = await api.gql(
        update, {"id": created["id"], "input": {"limits": {"maxApiCalls": -1}}}, headers=headers
    )
    assert out["data"]["updateInstance"] == {
        "instance": None,
        "userErrors": [{"field": ["input", "limits.maxApiCalls"], "code": "validation_error"}],
    }
    r = await api.client.get(f"/api/instances/{created['id']}", headers=headers)
    assert r.json()["limits"] == {"maxApiCalls": 9}


async def test_chat_contact_quoted_message_and_owner(api: Api) -> None:
    admin = await api.admin()
    headers = await api.new_user("graph@example.com")
    iid = (await api.paired_instance(headers))["id"]
    sender = "79001234567"
    await incoming(api, headers, iid, sender, "first")
    r = await api.client.post(
        f"/api/instances/{iid}/contacts/save",
        json={"number": sender, "name": "Алиса"},
        headers=headers,
    )
    assert r.status_code in (200, 201), r.text
    history = await api.client.get(f"/api/instances/{iid}/chats/{sender}/messages", headers=headers)
    quoted_id = history.json()["messages"][0]["messageId"]
    r = await api.client.post(
        f"/api/whatsapp/{iid}/send",
        json={"phone": sender, "message": "reply", "quotedMessageId": quoted_id},
        headers=headers,
    )
    assert r.status_code in (200, 201), r.text
    query = """
    query($id: ID!) {
      instance(id: $id) {
        chats(first: 1) { nodes {
          name contact { name number }
          messages(first: 1) { nodes { content quoted { messageId content } media { url } } }
        } }
        owner { email }
      }
    }
    """
    out = await api.gql(query, {"id": iid}, headers=headers)
    # The owner is for admins: the rest of the answer stands, with one error.
    assert [e["path"] for e in out["errors"]] == [["instance", "owner"]], out
    assert out["errors"][0]["extensions"]["code"] == "forbidden", out
    chat = out["data"]["instance"]["chats"]["nodes"][0]
    assert chat["name"] == "Алиса" and chat["contact"] == {"name": "Алиса", "number": sender}
    latest = chat["messages"]["nodes"][0]
    assert latest["content"] == "reply" and latest["media"] is None
    assert latest["quoted"] == {"messageId": quoted_id, "content": "first"}
    out = await api.gql(query, {"id": iid}, headers=admin)
    assert "errors" not in out, out
    assert out["data"]["instance"]["owner"] == {"email": "graph@example.com"}


async def test_node_refetches_instances_and_users_by_id(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    iid = (await api.new_instance(alice, name="mine"))["id"]
    me = (await api.gql("{ me { id } }", headers=alice))["data"]["me"]["id"]
    query = """
    query($id: ID!) {
      node(id: $id) { __typename id ... on Instance { name } ... on User { email } }
    }
    """
    out = await api.gql(query, {"id": iid}, headers=alice)
    assert out["data"]["node"] == {"__typename": "Instance", "id": iid, "name": "mine"}, out
    out = await api.gql(query, {"id": me}, headers=alice)
    assert out["data"]["node"] == {"__typename": "User", "id": me, "email": "alice@example.com"}
    for foreign in (iid, me, "no-such-id"):
        out = await api.gql(query, {"id": foreign}, headers=bob)
        assert out["data"] is None and out["errors"][0]["extensions"]["code"] == "not_found", out
    out = await api.gql(query, {"id": me}, headers=await api.admin())
    assert out["data"]["node"]["email"] == "alice@example.com", out
