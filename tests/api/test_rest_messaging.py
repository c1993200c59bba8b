"""REST: sending, chat history, conversations, receipts, between sandbox instances and outside."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api
from tests.signals import receipt_delay_passed

OUTSIDE = "79001234567"


async def _pair_with_phone(
    api: Api, headers: dict[str, str], phone: str, name: str
) -> dict[str, Any]:
    inst = await api.new_instance(headers, name=name)
    await api.wait_status(inst["id"], headers, "qr")
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/scan", json={"phone": phone, "pushName": name}, headers=headers
    )
    assert r.status_code == 200, r.text
    return inst


async def _wait_message(
    api: Api, instance_id: str, chat: str, headers: dict[str, str], status: str, within: float = 5.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        r = await api.client.get(
            f"/api/instances/{instance_id}/chats/{chat}/messages", headers=headers
        )
        messages = r.json()["messages"]
        if messages and messages[0]["status"] == status:
            return messages[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"newest message of {chat} is {messages[:1]}, wanted status {status}"
            )
        await asyncio.sleep(0.02)


async def test_send_answers_the_whatsapp_id_and_stores_the_message(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send",
        json={"phone": "+7 900 123-45-67", "message": "你好！最近怎么样？ 😀"},
        headers=headers,
    )
    assert r.status_code == 200
    wa_id = r.json()["id"]
    assert set(r.json()) == {"id"} and wa_id.startswith("3EB0")
    page = (
        await api.client.get(
            f"/api/instances/{inst['id']}/chats/{OUTSIDE}/messages", headers=headers
        )
    ).json()
    (stored,) = page["messages"]
    assert stored["messageId"] == wa_id
    assert stored["remoteJid"] == f"{OUTSIDE}@s.whatsapp.net"
    assert stored["fromMe"] is True and stored["messageType"] == "text"
    assert stored["content"] == "你好！最近怎么样？ 😀"
    assert stored["status"] in ("sent", "delivered", "read")
    assert isinstance(stored["metadata"]["timestamp"], int)
    for key in (
        "hasMedia",
        "mediaUrl",
        "caption",
        "mimeType",
        "fileName",
        "createdAt",
        "updatedAt",
        "statusUpdatedAt",
    ):
        assert key in stored
    assert page["pagination"] == {"total": 1, "limit": 50, "skip": 0, "hasMore": False}
    events = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=message_sent", headers=headers
        )
    ).json()["events"]
    data = events[0]["data"]
    assert data["messageId"] == wa_id and data["to"] == f"{OUTSIDE}@s.whatsapp.net"
    assert data["body"] == "你好！最近怎么样？ 😀" and data["type"] == "text"
    assert data["hasMedia"] is False and isinstance(data["timestamp"], int)
    actions = [
        log["action"]
        for log in (
            await api.client.get(
                f"/api/instances/{inst['id']}/activity?actions=message_sent", headers=headers
            )
        ).json()["logs"]
    ]
    assert actions == ["message_sent"]


async def test_outside_numbers_get_delivered_then_read_receipts(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_receipt_delay_ms=30)
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send",
        json={"phone": OUTSIDE, "message": "hi"},
        headers=headers,
    )
    read = await _wait_message(api, inst["id"], OUTSIDE, headers, "read")
    assert read["statusUpdatedAt"] >= read["createdAt"]
    statuses = [
        e["data"]["status"]
        for e in (
            await api.client.get(
                f"/api/instances/{inst['id']}/events?types=message_status", headers=headers
            )
        ).json()["events"]
    ]
    assert statuses == ["delivered", "read"]
    assert r.json()["id"] == read["messageId"]


async def test_auto_receipts_can_be_turned_off(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_receipt_delay_ms=10)
    headers = await api.admin()
    inst = await api.paired_instance(headers, sandbox={"autoReceipts": False})
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send",
        json={"phone": OUTSIDE, "message": "hi"},
        headers=headers,
    )
    await receipt_delay_passed(api, headers)  # a receipt would have come by now
    msg = await _wait_message(api, inst["id"], OUTSIDE, headers, "sent")
    # A receipt by hand moves it forward; an older one afterwards does not move it back.
    for status in ("read", "delivered"):
        rr = await api.client.post(
            f"/api/sandbox/{inst['id']}/receipt",
            json={"messageId": r.json()["id"], "status": status},
            headers=headers,
        )
        assert rr.status_code == 200
    msg = await _wait_message(api, inst["id"], OUTSIDE, headers, "read")
    assert msg["messageId"] == r.json()["id"]
    statuses = [
        e["data"]["status"]
        for e in (
            await api.client.get(
                f"/api/instances/{inst['id']}/events?types=message_status", headers=headers
            )
        ).json()["events"]
    ]
    assert statuses == ["read"]


async def test_two_sandbox_instances_chat_with_receipts_reaching_read(api: Api) -> None:
    headers = await api.admin()
    a = await _pair_with_phone(api, headers, "15550001111", "Alice")
    b = await _pair_with_phone(api, headers, "15550002222", "Bob")
    r = await api.client.post(
        f"/api/whatsapp/{a['id']}/send",
        json={"phone": "15550002222", "message": "hello Bob"},
        headers=headers,
    )
    wa_id = r.json()["id"]
    got = await _wait_message(api, b["id"], "15550001111", headers, "received")
    assert got["messageId"] == wa_id and got["content"] == "hello Bob" and got["fromMe"] is False
    assert got["metadata"]["pushName"] == "Alice"
    await _wait_message(api, a["id"], "15550002222", headers, "delivered")

    chats = (await api.client.get(f"/api/instances/{b['id']}/chats", headers=headers)).json()
    (chat,) = chats["chats"]
    assert chat["remoteJid"] == "15550001111@s.whatsapp.net" and chat["unreadCount"] == 1
    assert chat["lastMessage"]["messageId"] == wa_id

    r = await api.client.post(
        f"/api/instances/{b['id']}/chats/15550001111@s.whatsapp.net/read", headers=headers
    )
    assert r.json() == {"success": True, "markedRead": 1}
    await _wait_message(api, a["id"], "15550002222", headers, "read")
    chat = (await api.client.get(f"/api/instances/{b['id']}/chats", headers=headers)).json()[
        "chats"
    ][0]
    assert chat["unreadCount"] == 0

    # Bob answers, quoting Alice's message.
    r = await api.client.post(
        f"/api/whatsapp/{b['id']}/send",
        json={"phone": "15550001111", "message": "hi Alice", "quotedMessageId": wa_id},
        headers=headers,
    )
    reply = await _wait_message(api, a["id"], "15550002222", headers, "received")
    assert reply["content"] == "hi Alice" and reply["quotedMessageId"] == wa_id
    received = (
        await api.client.get(
            f"/api/instances/{a['id']}/events?types=message_received", headers=headers
        )
    ).json()["events"][-1]["data"]
    assert received["from"] == "15550002222@s.whatsapp.net" and received["type"] == "conversation"
    assert received["pushName"] == "Bob" and received["metadata"]["pushName"] == "Bob"


async def test_incoming_message_from_outside_upserts_the_contact(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/incoming",
        json={"from": "+7 900 123 45 67", "body": "你好！", "pushName": "张三"},
        headers=headers,
    )
    assert r.status_code == 200
    contacts = (
        await api.client.get(f"/api/instances/{inst['id']}/contacts/db", headers=headers)
    ).json()
    (contact,) = contacts["contacts"]
    assert contact["number"] == OUTSIDE and contact["pushName"] == "张三"
    assert contact["lastActivity"] is not None
    event = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=message_received", headers=headers
        )
    ).json()["events"][0]
    assert event["data"]["messageId"] == r.json()["messageId"] and event["data"]["body"] == "你好！"
    assert (
        event["data"]["remoteJid"] == f"{OUTSIDE}@s.whatsapp.net"
        and event["data"]["fromMe"] is False
    )


async def test_history_filters_and_pagination(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    ids = []
    for n in range(5):
        r = await api.client.post(
            f"/api/whatsapp/{inst['id']}/send",
            json={"phone": OUTSIDE, "message": f"m{n}"},
            headers=headers,
        )
        ids.append(r.json()["id"])
    url = f"/api/instances/{inst['id']}/chats/{OUTSIDE}@s.whatsapp.net/messages"
    first = (await api.client.get(f"{url}?limit=2", headers=headers)).json()
    assert [m["content"] for m in first["messages"]] == ["m4", "m3"]
    assert first["pagination"] == {"total": 5, "limit": 2, "skip": 0, "hasMore": True}
    last = (await api.client.get(f"{url}?limit=2&skip=4", headers=headers)).json()
    assert [m["content"] for m in last["messages"]] == ["m0"] and last["pagination"][
        "hasMore"
    ] is False
    newest = first["messages"][0]["createdAt"]
    since_newest = (await api.client.get(f"{url}?startDate={newest}", headers=headers)).json()
    assert [m["content"] for m in since_newest["messages"]][0] == "m4"
    assert all(m["createdAt"] >= newest for m in since_newest["messages"])
    none = (await api.client.get(f"{url}?endDate=2000-01-01T00:00:00Z", headers=headers)).json()
    assert none["messages"] == [] and none["pagination"]["total"] == 0
    for bad in ("limit=0", "skip=-1", "startDate=nope"):
        assert (await api.client.get(f"{url}?{bad}", headers=headers)).status_code == 400
    assert (
        await api.client.get(
            f"/api/instances/{inst['id']}/chats/not-a-chat/messages", headers=headers
        )
    ).status_code == 400


async def test_send_errors(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    url = f"/api/whatsapp/{inst['id']}/send"
    for body in (
        {"phone": "12ab", "message": "x"},
        {"phone": OUTSIDE, "message": ""},
        {"phone": OUTSIDE, "message": "   "},
        {"phone": OUTSIDE},
        {"message": "x"},
        {"phone": 79001234567, "message": "x"},
        {"phone": OUTSIDE, "message": "x" * 70000},
    ):
        r = await api.client.post(url, json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == "validation_error"
    chats = (await api.client.get(f"/api/instances/{inst['id']}/chats", headers=headers)).json()
    assert chats["chats"] == []  # nothing was stored by the refusals


async def test_sending_through_an_instance_that_is_not_connected_is_409(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)
    await api.wait_status(inst["id"], headers, "qr")
    for path, body in (
        ("send", {"phone": OUTSIDE, "message": "x"}),
        ("send-media", {"phone": OUTSIDE, "url": "https://example.com/a.png"}),
    ):
        r = await api.client.post(f"/api/whatsapp/{inst['id']}/{path}", json=body, headers=headers)
        assert r.status_code == 409, path
        assert r.json()["error"] == "conflict" and r.json()["details"]["instanceStatus"] == "qr"
    r = await api.client.post(
        f"/api/whatsapp/{inst['id']}/send-file",
        data={"phone": OUTSIDE},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers=headers,
    )
    assert r.status_code == 409
    assert (await api.client.get(f"/api/instances/{inst['id']}/chats", headers=headers)).json()[
        "chats"
    ] == []


async def test_messaging_on_a_foreign_instance_is_404(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    inst = await api.paired_instance(alice)
    iid = inst["id"]
    attempts = [
        ("POST", f"/api/whatsapp/{iid}/send", {"phone": OUTSIDE, "message": "x"}),
        (
            "POST",
            f"/api/whatsapp/{iid}/send-media",
            {"phone": OUTSIDE, "url": "https://example.com/a"},
        ),
        ("GET", f"/api/whatsapp/{iid}/contacts", None),
        ("POST", f"/api/whatsapp/{iid}/contacts/add", {"phone": OUTSIDE, "name": "x"}),
        ("GET", f"/api/instances/{iid}/contacts/db", None),
        ("GET", f"/api/whatsapp/{iid}/contacts/db", None),
        ("POST", f"/api/instances/{iid}/contacts/import", None),
        ("POST", f"/api/whatsapp/{iid}/contacts/save", {"number": OUTSIDE}),
        ("GET", f"/api/instances/{iid}/chats", None),
        ("GET", f"/api/instances/{iid}/chats/{OUTSIDE}/messages", None),
        ("POST", f"/api/instances/{iid}/chats/{OUTSIDE}/read", None),
        ("POST", f"/api/sandbox/{iid}/incoming", {"from": OUTSIDE, "body": "x"}),
        ("POST", f"/api/sandbox/{iid}/receipt", {"messageId": "x", "status": "read"}),
    ]
    for method, path, body in attempts:
        r = await api.client.request(method, path, json=body, headers=bob)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    r = await api.client.post(
        f"/api/whatsapp/{iid}/send-file",
        data={"phone": OUTSIDE},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers=bob,
    )
    assert r.status_code == 404
    assert (await api.client.get(f"/api/instances/{iid}/chats", headers=alice)).json()[
        "chats"
    ] == []


async def test_receipt_control_errors(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    url = f"/api/sandbox/{inst['id']}/receipt"
    r = await api.client.post(url, json={"messageId": "nope", "status": "read"}, headers=headers)
    assert r.status_code == 404
    r = await api.client.post(url, json={"messageId": "nope", "status": "sent"}, headers=headers)
    assert r.status_code == 400
    r = await api.client.post(url, json={"status": "read"}, headers=headers)
    assert r.status_code == 400
