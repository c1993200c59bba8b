"""GraphQL: sending text, media and files, chats, history, read marks, contacts, sandbox."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import Api
from tests.graphql_events import EVENT_FRAGMENT, as_rest

MESSAGE_FIELDS = """
  id instanceId remoteJid fromMe messageType content messageId hasMedia mediaUrl caption
  mimeType fileName mediaSize quotedMessageId status metadata createdAt updatedAt statusUpdatedAt
"""
CONTACT_FIELDS = """
  id instanceId name number remoteJid pushName isGroup profilePicture about lastActivity
  createdAt updatedAt
"""
PAGINATION = "pagination { total limit skip hasMore }"
USER_ERRORS = "userErrors { field code message }"

SEND_TEXT = f"""
mutation($id: ID!, $phone: String!, $message: String!, $quoted: String) {{
  sendText(instanceId: $id, phone: $phone, message: $message, quotedMessageId: $quoted) {{
    message {{ {MESSAGE_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
SEND_MEDIA = f"""
mutation($id: ID!, $phone: String!, $url: String!, $caption: String, $filename: String) {{
  sendMedia(instanceId: $id, phone: $phone, url: $url, caption: $caption, filename: $filename) {{
    message {{ {MESSAGE_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
SEND_FILE = f"""
mutation($id: ID!, $phone: String!, $file: Upload!, $caption: String) {{
  sendFile(instanceId: $id, phone: $phone, file: $file, caption: $caption) {{
    message {{ {MESSAGE_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
MARK_READ = "mutation($id: ID!, $chat: String!) { markChatRead(instanceId: $id, chatId: $chat) }"
CHATS = f"""
query($id: ID!, $limit: Int, $skip: Int) {{
  chats(instanceId: $id, limit: $limit, skip: $skip) {{
    chats {{
      remoteJid name isGroup unreadCount messageCount lastMessage {{ {MESSAGE_FIELDS} }}
    }}
    {PAGINATION}
  }}
}}
"""
MESSAGES = f"""
query($id: ID!, $chat: String!, $limit: Int, $skip: Int, $start: DateTime, $end: DateTime) {{
  messages(
    instanceId: $id, chatId: $chat, limit: $limit, skip: $skip, startDate: $start, endDate: $end
  ) {{
    messages {{ {MESSAGE_FIELDS} }}
    {PAGINATION}
  }}
}}
"""
EVENTS = (
    """
query($id: ID!, $types: [EventType!]) {
  instanceEvents(id: $id, types: $types) { events { ...EventFields } count }
}
"""
    + EVENT_FRAGMENT
)
WHATSAPP_CONTACTS = (
    "query($id: ID!) { whatsappContacts(instanceId: $id) { id name number isGroup } }"
)
CONTACTS = f"""
query($id: ID!, $limit: Int, $skip: Int, $search: String, $groups: Boolean!) {{
  contacts(instanceId: $id, limit: $limit, skip: $skip, search: $search, onlyGroups: $groups) {{
    contacts {{ {CONTACT_FIELDS} }}
    {PAGINATION}
  }}
}}
"""
ADD_CONTACT = f"""
mutation($id: ID!, $phone: String!, $name: String) {{
  addContact(instanceId: $id, phone: $phone, name: $name) {{ {CONTACT_FIELDS} }}
}}
"""
IMPORT_CONTACTS = "mutation($id: ID!) { importContacts(instanceId: $id) }"
SAVE_CONTACT = f"""
mutation($id: ID!, $input: ContactInput!) {{
  saveContact(instanceId: $id, input: $input) {{ contact {{ {CONTACT_FIELDS} }} {USER_ERRORS} }}
}}
"""
INCOMING = """
mutation($id: ID!, $from: String!, $body: String, $pushName: String, $media: SimulatedMediaInput) {
  sandboxIncoming(instanceId: $id, from: $from, body: $body, pushName: $pushName, media: $media)
}
"""
RECEIPT = """
mutation($id: ID!, $messageId: String!, $status: ReceiptStatus!) {
  sandboxReceipt(instanceId: $id, messageId: $messageId, status: $status)
}
"""

# Not an image decoder's idea of a PNG, but every byte value, so any mangling shows.
FILE_BYTES = bytes(range(256)) * 8


# --- helpers ----------------------------------------------------------------------------------


PAYLOAD_OBJECTS = ("message", "contact")


def data_of(out: dict[str, Any], field_name: str) -> Any:
    """The field's answer; a mutation payload's object, once it reported no user errors."""
    assert "errors" not in out, out
    answer = out["data"][field_name]
    if isinstance(answer, dict) and "userErrors" in answer:
        assert answer["userErrors"] == [], out
        return next(answer[k] for k in PAYLOAD_OBJECTS if k in answer)
    return answer


def error_of(out: dict[str, Any], code: str, status: int) -> dict[str, Any]:
    """The single error of an operation that changed nothing. Input errors of a mutation are
    `userErrors` in its payload (the object null); they are returned in the shape of a
    GraphQL error's extensions (code, status 400, the field's name) for the checks below."""
    payload = next(iter((out.get("data") or {}).values()), None)
    if isinstance(payload, dict) and payload.get("userErrors"):
        assert "errors" not in out, out
        assert code == "validation_error" and status == 400, out
        assert all(payload[k] is None for k in PAYLOAD_OBJECTS if k in payload), out
        assert len(payload["userErrors"]) == 1, out
        user_error = payload["userErrors"][0]
        assert user_error["code"] == code and user_error["message"], out
        field = user_error["field"][-1] if user_error["field"] else None
        return {"message": user_error["message"], "extensions": {"code": code, "field": field}}
    assert out.get("data") is None, out
    assert len(out["errors"]) == 1, out
    error = out["errors"][0]
    assert error["extensions"]["code"] == code, out
    assert error["extensions"]["status"] == status, out
    assert error["message"], out
    return error


async def paired(
    api: Api,
    headers: dict[str, str],
    phone: str | None = None,
    push_name: str | None = None,
    **body: Any,
) -> str:
    """A connected sandbox instance, paired (over REST) with the given phone and name."""
    instance = await api.new_instance(headers, **body)
    await api.wait_status(instance["id"], headers, "qr")
    scan = {k: v for k, v in {"phone": phone, "pushName": push_name}.items() if v}
    r = await api.client.post(f"/api/sandbox/{instance['id']}/scan", json=scan, headers=headers)
    assert r.status_code == 200, r.text
    await api.wait_status(instance["id"], headers, "connected")
    return str(instance["id"])


async def send_text(
    api: Api, headers: dict[str, str], iid: str, phone: str, text: str
) -> dict[str, Any]:
    out = await api.gql(SEND_TEXT, {"id": iid, "phone": phone, "message": text}, headers)
    return data_of(out, "sendText")


async def history(api: Api, headers: dict[str, str], iid: str, chat: str) -> dict[str, Any]:
    return data_of(await api.gql(MESSAGES, {"id": iid, "chat": chat}, headers), "messages")


async def chats(api: Api, headers: dict[str, str], iid: str) -> dict[str, Any]:
    return data_of(await api.gql(CHATS, {"id": iid}, headers), "chats")


async def contacts(api: Api, headers: dict[str, str], iid: str, **args: Any) -> dict[str, Any]:
    variables = {"id": iid, "groups": False, **args}
    return data_of(await api.gql(CONTACTS, variables, headers), "contacts")


async def events_of(api: Api, headers: dict[str, str], iid: str, kind: str) -> list[Any]:
    out = await api.gql(EVENTS, {"id": iid, "types": [kind]}, headers)
    return [as_rest(e) for e in data_of(out, "instanceEvents")["events"]]


async def eventually(probe: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """Polls `probe` until it returns something truthy; fails after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def media_bytes(api: Api, headers: dict[str, str], url: str) -> tuple[bytes, str]:
    r = await api.client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return r.content, r.headers["content-type"]


async def send_file(
    api: Api,
    headers: dict[str, str],
    iid: str,
    phone: str,
    content: bytes,
    file_name: str = "photo.png",
    mime: str = "image/png",
    caption: str | None = None,
) -> dict[str, Any]:
    """A GraphQL multipart request (operations, map, then the file part), built by hand."""
    operations = {
        "query": SEND_FILE,
        "variables": {"id": iid, "phone": phone, "file": None, "caption": caption},
    }
    r = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (file_name, content, mime)},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


@dataclass
class MediaServer:
    """A real HTTP server on 127.0.0.1 that serves FILE_BYTES and counts its requests."""

    port: int
    paths: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    server_state = MediaServer(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        server_state.paths.append(head.split(b" ", 2)[1].decode())
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {len(FILE_BYTES)}\r\nConnection: close\r\n\r\n".encode()
            + FILE_BYTES
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    server_state.port = server.sockets[0].getsockname()[1]
    yield server_state
    server.close()
    await server.wait_closed()


# --- sending text -----------------------------------------------------------------------------


async def test_send_text_returns_the_sent_message_and_emits_message_sent(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers, sandbox={"autoReceipts": False})
    out = await api.gql(
        SEND_TEXT,
        {"id": iid, "phone": "+1 555-000-1234", "message": "你好 👋", "quoted": "3EB0QUOTED"},
        headers,
    )
    sent = data_of(out, "sendText")
    assert sent["status"] == "sent"
    assert sent["instanceId"] == iid
    assert sent["remoteJid"] == "15550001234@s.whatsapp.net"
    assert sent["fromMe"] is True and sent["messageType"] == "text"
    assert sent["content"] == "你好 👋" and sent["quotedMessageId"] == "3EB0QUOTED"
    assert sent["messageId"].startswith("3EB0") and sent["hasMedia"] is False
    assert sent["mediaUrl"] is None and sent["mediaSize"] is None
    assert sent["createdAt"].endswith("Z") and sent["statusUpdatedAt"] is not None
    assert isinstance(sent["metadata"]["timestamp"], int)

    events = await events_of(api, headers, iid, "message_sent")
    assert [e["data"]["messageId"] for e in events] == [sent["messageId"]]
    assert events[0]["data"]["to"] == "15550001234@s.whatsapp.net"
    assert events[0]["data"]["body"] == "你好 👋"
    # It is stored: the chat's history (by phone or by JID) holds the same message.
    for chat in ("15550001234", "15550001234@s.whatsapp.net"):
        page = await history(api, headers, iid, chat)
        assert page["pagination"]["total"] == 1
        assert page["messages"][0]["id"] == sent["id"]
        assert page["messages"][0]["status"] == "sent"


async def test_send_text_refuses_bad_input_and_stores_nothing(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    bad_phone = await api.gql(SEND_TEXT, {"id": iid, "phone": "12ab", "message": "x"}, headers)
    assert error_of(bad_phone, "validation_error", 400)["extensions"]["field"] == "phone"
    empty = await api.gql(SEND_TEXT, {"id": iid, "phone": "15550001234", "message": "  "}, headers)
    assert error_of(empty, "validation_error", 400)["extensions"]["field"] == "message"
    too_long = {"id": iid, "phone": "15550001234", "message": "x" * 65_537}
    error_of(await api.gql(SEND_TEXT, too_long, headers), "validation_error", 400)
    assert (await history(api, headers, iid, "15550001234"))["pagination"]["total"] == 0
    assert await events_of(api, headers, iid, "message_sent") == []


async def test_send_text_on_an_instance_that_is_not_connected_is_409(api: Api) -> None:
    headers = await api.admin()
    instance = await api.new_instance(headers)
    out = await api.gql(
        SEND_TEXT, {"id": instance["id"], "phone": "15550001234", "message": "hi"}, headers
    )
    error = error_of(out, "conflict", 409)
    assert error["extensions"]["instanceStatus"] in ("connecting", "qr")
    page = await history(api, headers, instance["id"], "15550001234")
    assert page["pagination"]["total"] == 0


async def test_foreign_or_unknown_instance_is_404_for_every_operation(api: Api) -> None:
    owner = await api.new_user("owner@example.com")
    stranger = await api.new_user("stranger@example.com")
    iid = await paired(api, owner)
    sent = await send_text(api, owner, iid, "15550001234", "private")
    operations: list[tuple[str, dict[str, Any]]] = [
        (SEND_TEXT, {"phone": "15550001234", "message": "hi"}),
        (SEND_MEDIA, {"phone": "15550001234", "url": "https://example.com/a.png"}),
        (MARK_READ, {"chat": "15550001234"}),
        (CHATS, {}),
        (MESSAGES, {"chat": "15550001234"}),
        (WHATSAPP_CONTACTS, {}),
        (CONTACTS, {"groups": False}),
        (ADD_CONTACT, {"phone": "15550001234"}),
        (IMPORT_CONTACTS, {}),
        (SAVE_CONTACT, {"input": {"number": "15550001234", "name": "x"}}),
        (INCOMING, {"from": "15550001234", "body": "hi"}),
        (RECEIPT, {"messageId": sent["messageId"], "status": "read"}),
    ]
    for query, variables in operations:
        for instance_id, headers in ((iid, stranger), ("no-such-instance", owner)):
            out = await api.gql(query, {"id": instance_id, **variables}, headers)
            error_of(out, "not_found", 404)
    # The stranger's attempts left the owner's data as it was.
    page = await history(api, owner, iid, "15550001234")
    assert [m["content"] for m in page["messages"]] == ["private"]
    assert (await contacts(api, owner, iid))["pagination"]["total"] == 0
    # And the stored media of the owner is not served to the stranger either.
    uploaded = data_of(await send_file(api, owner, iid, "15550001234", FILE_BYTES), "sendFile")
    r = await api.client.get(uploaded["mediaUrl"], headers=stranger)
    assert r.status_code == 404


async def test_unauthenticated_send_is_401(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    out = await api.gql(SEND_TEXT, {"id": iid, "phone": "15550001234", "message": "hi"})
    error_of(out, "unauthorized", 401)
    upload = await send_file(api, {}, iid, "15550001234", FILE_BYTES)
    error_of(upload, "unauthorized", 401)
    assert (await history(api, headers, iid, "15550001234"))["pagination"]["total"] == 0


# --- two sandbox instances talking --------------------------------------------------------------


async def test_two_sandbox_instances_chat_and_read_receipts_reach_the_sender(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    a = await paired(api, alice, phone="15550001111", push_name="Alice A")
    b = await paired(api, bob, phone="+1 555 000 2222", push_name="Bob B")

    sent = await send_text(api, alice, a, "15550002222", "hello Bob")
    assert sent["remoteJid"] == "15550002222@s.whatsapp.net"

    async def bob_sees_it() -> dict[str, Any] | None:
        page = await chats(api, bob, b)
        return page if page["chats"] else None

    page = await eventually(bob_sees_it)
    assert page["pagination"]["total"] == 1
    chat = page["chats"][0]
    assert chat["remoteJid"] == "15550001111@s.whatsapp.net"
    assert chat["name"] == "Alice A" and chat["isGroup"] is False
    assert chat["unreadCount"] == 1 and chat["messageCount"] == 1
    last = chat["lastMessage"]
    assert last["messageId"] == sent["messageId"] and last["content"] == "hello Bob"
    assert last["fromMe"] is False and last["status"] == "received" and last["instanceId"] == b
    received = await history(api, bob, b, "15550001111")
    assert [m["messageId"] for m in received["messages"]] == [sent["messageId"]]

    async def status_on_a(wanted: str) -> bool:
        messages = (await history(api, alice, a, "15550002222"))["messages"]
        return messages[0]["status"] == wanted

    assert await eventually(lambda: status_on_a("delivered"))

    marked = await api.gql(MARK_READ, {"id": b, "chat": "15550001111@s.whatsapp.net"}, bob)
    assert data_of(marked, "markChatRead") == 1
    again = await api.gql(MARK_READ, {"id": b, "chat": "15550001111"}, bob)
    assert data_of(again, "markChatRead") == 0
    chat = (await chats(api, bob, b))["chats"][0]
    assert chat["unreadCount"] == 0 and chat["lastMessage"]["status"] == "read"

    assert await eventually(lambda: status_on_a("read"))
    statuses = [e["data"]["status"] for e in await events_of(api, alice, a, "message_status")]
    assert statuses == ["delivered", "read"]
    # Bob's side got the message as a message_received event, not a message_sent one.
    assert len(await events_of(api, bob, b, "message_received")) == 1
    assert await events_of(api, bob, b, "message_sent") == []


async def test_mark_chat_read_rejects_a_bad_chat_id(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    out = await api.gql(MARK_READ, {"id": iid, "chat": "not a chat"}, headers)
    assert error_of(out, "validation_error", 400)["extensions"]["field"] == "chatId"


async def test_messages_pages_newest_first_and_filters_by_date(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers, sandbox={"autoReceipts": False})
    sent = [await send_text(api, headers, iid, "15550001234", f"m{n}") for n in range(3)]
    out = await api.gql(
        MESSAGES, {"id": iid, "chat": "15550001234", "limit": 2, "skip": 1}, headers
    )
    page = data_of(out, "messages")
    assert [m["content"] for m in page["messages"]] == ["m1", "m0"]
    assert page["pagination"] == {"total": 3, "limit": 2, "skip": 1, "hasMore": False}
    variables = {"id": iid, "chat": "15550001234", "start": sent[1]["createdAt"]}
    later = data_of(await api.gql(MESSAGES, variables, headers), "messages")
    assert [m["content"] for m in later["messages"]] == ["m2", "m1"]


# --- files and media ----------------------------------------------------------------------------


async def test_send_file_by_graphql_multipart_stores_the_exact_bytes(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    out = await send_file(api, headers, iid, "15550001234", FILE_BYTES, caption="a file")
    sent = data_of(out, "sendFile")
    assert sent["status"] == "sent" and sent["hasMedia"] is True
    assert sent["messageType"] == "image" and sent["mimeType"] == "image/png"
    assert sent["fileName"] == "photo.png" and sent["caption"] == "a file"
    assert sent["mediaSize"] == len(FILE_BYTES) and sent["content"] is None
    assert sent["mediaUrl"].startswith("/api/media/")
    content, mime = await media_bytes(api, headers, sent["mediaUrl"])
    assert content == FILE_BYTES and mime == "image/png"
    stored = (await history(api, headers, iid, "15550001234"))["messages"]
    assert [m["mediaUrl"] for m in stored] == [sent["mediaUrl"]]


async def test_send_file_over_the_size_cap_is_400(api_factory: Callable[..., Any]) -> None:
    api: Api = await api_factory(media_max_bytes=1024)
    headers = await api.admin()
    iid = await paired(api, headers)
    too_big = await send_file(api, headers, iid, "15550001234", b"x" * 1025, "big.bin")
    assert error_of(too_big, "validation_error", 400)["extensions"]["field"] == "file"
    empty = await send_file(api, headers, iid, "15550001234", b"", "empty.txt", "text/plain")
    error_of(empty, "validation_error", 400)
    exact = data_of(await send_file(api, headers, iid, "15550001234", b"y" * 1024), "sendFile")
    assert exact["mediaSize"] == 1024
    page = await history(api, headers, iid, "15550001234")
    assert [m["id"] for m in page["messages"]] == [exact["id"]]


async def test_send_file_without_a_file_part_is_400(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    variables = {"id": iid, "phone": "15550001234", "file": "not a file"}
    out = await api.gql(SEND_FILE, variables, headers)
    assert error_of(out, "validation_error", 400)["extensions"]["field"] == "file"
    assert (await history(api, headers, iid, "15550001234"))["pagination"]["total"] == 0


async def test_send_media_refuses_a_loopback_url(api: Api, media_server: MediaServer) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    variables = {"id": iid, "phone": "15550001234", "url": media_server.url("/pic.png")}
    error = error_of(await api.gql(SEND_MEDIA, variables, headers), "validation_error", 400)
    assert error["extensions"]["field"] == "url"
    assert "private or local address" in error["message"]
    assert media_server.paths == []  # refused before any request was made
    assert (await history(api, headers, iid, "15550001234"))["pagination"]["total"] == 0


async def test_send_media_fetches_from_an_allowed_private_url(
    api_factory: Callable[..., Any], media_server: MediaServer
) -> None:
    api: Api = await api_factory(media_allow_private_urls=True)
    headers = await api.admin()
    iid = await paired(api, headers)
    variables = {
        "id": iid,
        "phone": "15550001234",
        "url": media_server.url("/files/pic.png?size=large"),
        "caption": "from a URL",
    }
    sent = data_of(await api.gql(SEND_MEDIA, variables, headers), "sendMedia")
    assert media_server.paths == ["/files/pic.png?size=large"]
    assert sent["status"] == "sent" and sent["hasMedia"] is True
    assert sent["fileName"] == "pic.png" and sent["mimeType"] == "image/png"
    assert sent["caption"] == "from a URL" and sent["mediaSize"] == len(FILE_BYTES)
    content, _ = await media_bytes(api, headers, sent["mediaUrl"])
    assert content == FILE_BYTES
    named = {**variables, "filename": "report.pdf"}
    renamed = data_of(await api.gql(SEND_MEDIA, named, headers), "sendMedia")
    assert renamed["fileName"] == "report.pdf"


# --- contacts -----------------------------------------------------------------------------------


async def test_whatsapp_contacts_lists_the_sandbox_address_book(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    book = data_of(await api.gql(WHATSAPP_CONTACTS, {"id": iid}, headers), "whatsappContacts")
    assert len(book) == 6
    names = {c["name"] for c in book}
    assert {"Alice Sandbox", "张三", "Sandbox Group"} <= names
    groups = [c for c in book if c["isGroup"]]
    assert len(groups) == 1 and groups[0]["id"].endswith("@g.us")
    for person in (c for c in book if not c["isGroup"]):
        assert person["id"] == f"{person['number']}@s.whatsapp.net"
        assert person["number"].isdigit()


async def test_whatsapp_contacts_of_an_instance_that_is_not_connected_is_409(api: Api) -> None:
    headers = await api.admin()
    instance = await api.new_instance(headers)
    out = await api.gql(WHATSAPP_CONTACTS, {"id": instance["id"]}, headers)
    error_of(out, "conflict", 409)
    error_of(await api.gql(IMPORT_CONTACTS, {"id": instance["id"]}, headers), "conflict", 409)


async def test_import_contacts_twice_creates_no_duplicates(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    assert data_of(await api.gql(IMPORT_CONTACTS, {"id": iid}, headers), "importContacts") == 6
    first = await contacts(api, headers, iid)
    assert data_of(await api.gql(IMPORT_CONTACTS, {"id": iid}, headers), "importContacts") == 6
    second = await contacts(api, headers, iid)
    assert first["pagination"]["total"] == second["pagination"]["total"] == 6
    jids = [c["remoteJid"] for c in second["contacts"]]
    assert len(set(jids)) == 6
    assert {c["id"] for c in first["contacts"]} == {c["id"] for c in second["contacts"]}
    alice = next(c for c in second["contacts"] if c["name"] == "Alice Sandbox")
    assert alice["pushName"] == "Alice" and alice["instanceId"] == iid


async def test_save_contact_upserts_by_number(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    base = {"number": "+1 555 000 4242", "name": "Zoe", "about": "first"}
    created = data_of(
        await api.gql(SAVE_CONTACT, {"id": iid, "input": base}, headers), "saveContact"
    )
    assert created["remoteJid"] == "15550004242@s.whatsapp.net"
    assert created["number"] == "15550004242" and created["isGroup"] is False
    change = {"number": "15550004242@s.whatsapp.net", "pushName": "Z", "about": "second"}
    updated = data_of(
        await api.gql(SAVE_CONTACT, {"id": iid, "input": change}, headers), "saveContact"
    )
    assert updated["id"] == created["id"] and updated["createdAt"] == created["createdAt"]
    assert updated["name"] == "Zoe"  # not given the second time, so kept
    assert updated["pushName"] == "Z" and updated["about"] == "second"
    listed = await contacts(api, headers, iid)
    assert listed["pagination"]["total"] == 1 and listed["contacts"][0]["about"] == "second"

    group = {"number": "120363111000000002", "name": "Team", "isGroup": True}
    saved = data_of(
        await api.gql(SAVE_CONTACT, {"id": iid, "input": group}, headers), "saveContact"
    )
    assert saved["remoteJid"] == "120363111000000002@g.us" and saved["isGroup"] is True

    bad = {"number": "not-a-number"}
    out = await api.gql(SAVE_CONTACT, {"id": iid, "input": bad}, headers)
    assert error_of(out, "validation_error", 400)["extensions"]["field"] == "number"
    picture = {"number": "15550004242", "profilePicture": "x" * 2049}  # free text, bounded
    error_of(
        await api.gql(SAVE_CONTACT, {"id": iid, "input": picture}, headers), "validation_error", 400
    )
    assert (await contacts(api, headers, iid))["pagination"]["total"] == 2


async def test_contacts_search_and_only_groups(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    await api.gql(IMPORT_CONTACTS, {"id": iid}, headers)
    found = await contacts(api, headers, iid, search="张")
    assert [c["name"] for c in found["contacts"]] == ["张三"]
    by_name = await contacts(api, headers, iid, search="carol")
    assert [c["name"] for c in by_name["contacts"]] == ["Carol Sandbox"]
    by_number = await contacts(api, headers, iid, search=by_name["contacts"][0]["number"][-6:])
    assert [c["name"] for c in by_number["contacts"]] == ["Carol Sandbox"]
    groups = await contacts(api, headers, iid, groups=True)
    assert [c["name"] for c in groups["contacts"]] == ["Sandbox Group"]
    assert groups["contacts"][0]["isGroup"] is True and groups["pagination"]["total"] == 1
    nobody = await contacts(api, headers, iid, search="nobody-by-this-name")
    assert nobody["contacts"] == [] and nobody["pagination"]["total"] == 0
    paged = await contacts(api, headers, iid, limit=4, skip=4)
    assert len(paged["contacts"]) == 2
    assert paged["pagination"] == {"total": 6, "limit": 4, "skip": 4, "hasMore": False}


async def test_add_contact_adds_to_the_address_book_and_saves_it(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    variables = {"id": iid, "phone": "+1 555 000 7777", "name": "Zed"}
    added = data_of(await api.gql(ADD_CONTACT, variables, headers), "addContact")
    assert added["remoteJid"] == "15550007777@s.whatsapp.net" and added["name"] == "Zed"
    book = data_of(await api.gql(WHATSAPP_CONTACTS, {"id": iid}, headers), "whatsappContacts")
    assert {"id": "15550007777@s.whatsapp.net", "name": "Zed", "number": "15550007777",
            "isGroup": False} in book  # fmt: skip
    saved = await contacts(api, headers, iid, search="Zed")
    assert [c["id"] for c in saved["contacts"]] == [added["id"]]
    bad = await api.gql(ADD_CONTACT, {"id": iid, "phone": "abc"}, headers)
    error_of(bad, "validation_error", 400)


# --- sandbox traffic ----------------------------------------------------------------------------


async def test_sandbox_incoming_text_shows_up_in_messages_and_chats(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    variables = {"id": iid, "from": "+44 7700 900123", "body": "hi there", "pushName": "Outsider"}
    message_id = data_of(await api.gql(INCOMING, variables, headers), "sandboxIncoming")
    assert message_id.startswith("3EB0")
    page = await history(api, headers, iid, "447700900123")
    assert page["pagination"]["total"] == 1
    got = page["messages"][0]
    assert got["messageId"] == message_id and got["content"] == "hi there"
    assert got["fromMe"] is False and got["status"] == "received" and got["hasMedia"] is False
    assert got["metadata"]["pushName"] == "Outsider"
    chat = (await chats(api, headers, iid))["chats"][0]
    assert chat["remoteJid"] == "447700900123@s.whatsapp.net" and chat["name"] == "Outsider"
    events = await events_of(api, headers, iid, "message_received")
    assert [e["data"]["messageId"] for e in events] == [message_id]


async def test_sandbox_incoming_base64_media_is_stored_and_served(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    media = {
        "base64": base64.b64encode(FILE_BYTES).decode(),
        "mimeType": "image/png",
        "fileName": "pic.png",
    }
    variables = {"id": iid, "from": "447700900123", "body": "look", "media": media}
    message_id = data_of(await api.gql(INCOMING, variables, headers), "sandboxIncoming")
    got = (await history(api, headers, iid, "447700900123"))["messages"][0]
    assert got["messageId"] == message_id
    assert got["hasMedia"] is True and got["messageType"] == "image"
    assert got["caption"] == "look" and got["fileName"] == "pic.png"
    assert got["mediaSize"] == len(FILE_BYTES)
    content, mime = await media_bytes(api, headers, got["mediaUrl"])
    assert content == FILE_BYTES and mime == "image/png"


async def test_sandbox_incoming_refuses_bad_input(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers)
    cases: list[dict[str, Any]] = [
        {"from": "447700900123"},  # neither body nor media
        {"from": "447700900123", "media": {"base64": "***", "mimeType": "image/png"}},
        {"from": "447700900123", "media": {"base64": "AAAA", "url": "https://example.com/x"}},
        {"from": "not a phone", "body": "x"},
    ]
    for case in cases:
        out = await api.gql(INCOMING, {"id": iid, **case}, headers)
        error_of(out, "validation_error", 400)
    assert (await chats(api, headers, iid))["pagination"]["total"] == 0


async def test_sandbox_receipt_moves_status_forward_never_backwards(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers, sandbox={"autoReceipts": False})
    sent = await send_text(api, headers, iid, "15550001234", "track me")
    assert sent["status"] == "sent"
    receipt = {"id": iid, "messageId": sent["messageId"]}
    assert data_of(await api.gql(RECEIPT, {**receipt, "status": "read"}, headers), "sandboxReceipt")
    read = (await history(api, headers, iid, "15550001234"))["messages"][0]
    assert read["status"] == "read"
    assert data_of(
        await api.gql(RECEIPT, {**receipt, "status": "delivered"}, headers), "sandboxReceipt"
    )
    after = (await history(api, headers, iid, "15550001234"))["messages"][0]
    assert after["status"] == "read" and after["statusUpdatedAt"] == read["statusUpdatedAt"]
    statuses = [e["data"]["status"] for e in await events_of(api, headers, iid, "message_status")]
    assert statuses == ["read"]


async def test_sandbox_receipt_refuses_bad_status_and_unknown_messages(api: Api) -> None:
    headers = await api.admin()
    iid = await paired(api, headers, sandbox={"autoReceipts": False})
    sent = await send_text(api, headers, iid, "15550001234", "x")
    # A receipt reports `delivered` or `read`: the schema refuses anything else.
    wrong = {"id": iid, "messageId": sent["messageId"], "status": "sent"}
    out = await api.gql(RECEIPT, wrong, headers)
    assert out.get("data") is None and "ReceiptStatus" in out["errors"][0]["message"], out
    unknown = {"id": iid, "messageId": "3EB0NOPE", "status": "read"}
    error_of(await api.gql(RECEIPT, unknown, headers), "not_found", 404)
    incoming = {"id": iid, "from": "447700900123", "body": "hi"}
    received_id = data_of(await api.gql(INCOMING, incoming, headers), "sandboxIncoming")
    not_mine = {"id": iid, "messageId": received_id, "status": "read"}
    error_of(await api.gql(RECEIPT, not_mine, headers), "not_found", 404)
    still = (await history(api, headers, iid, "15550001234"))["messages"][0]
    assert still["status"] == "sent"
