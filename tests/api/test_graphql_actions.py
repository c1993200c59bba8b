"""Mutations without an input object answer payloads: the changed object (or its id) and
`userErrors` for arguments to correct; not-found stays a GraphQL error with its code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.test_graphql_graph import incoming
from tests.conftest import Api
from tests.webhook_receiver import WebhookReceiver

ERRORS = "userErrors { field code message }"


async def _ok(api: Api, query: str, variables: dict[str, Any], h: dict[str, str]) -> Any:
    out = await api.gql(query, variables, h)
    assert "errors" not in out, out
    [answer] = out["data"].values()
    return answer


async def test_delete_reconnect_and_logout_answer_the_instance_or_its_id(api: Api) -> None:
    h = await api.new_user("acts@example.com")
    iid = (await api.paired_instance(h))["id"]
    result = f"success message deletedId instance {{ id status }} {ERRORS}"
    reconnected = await _ok(
        api, f"mutation($id: ID!) {{ reconnectInstance(id: $id) {{ {result} }} }}", {"id": iid}, h
    )
    assert reconnected["success"] is True and reconnected["userErrors"] == []
    assert reconnected["instance"]["id"] == iid and reconnected["deletedId"] is None
    await api.wait_status(iid, h, "connected")
    logged_out = await _ok(
        api, f"mutation($id: ID!) {{ logoutInstance(id: $id) {{ {result} }} }}", {"id": iid}, h
    )
    assert logged_out["instance"]["id"] == iid and logged_out["success"] is True
    deleted = await _ok(
        api, f"mutation($id: ID!) {{ deleteInstance(id: $id) {{ {result} }} }}", {"id": iid}, h
    )
    assert deleted["deletedId"] == iid and deleted["instance"] is None
    again = await api.gql(
        f"mutation($id: ID!) {{ deleteInstance(id: $id) {{ {result} }} }}", {"id": iid}, h
    )
    assert again["errors"][0]["extensions"]["code"] == "not_found", again


async def test_sandbox_pairing_and_dropping_answer_the_instance(api: Api) -> None:
    h = await api.new_user("sandbox-acts@example.com")
    iid = (await api.new_instance(h))["id"]
    await api.wait_status(iid, h, "qr")
    scan = f"""mutation($id: ID!, $phone: String) {{
      scanSandboxQr(id: $id, phone: $phone) {{ instance {{ id status phone }} {ERRORS} }}
    }}"""
    wrong = await _ok(api, scan, {"id": iid, "phone": "not a phone"}, h)
    assert wrong["instance"] is None and wrong["userErrors"][0]["code"] == "validation_error"
    paired = await _ok(api, scan, {"id": iid, "phone": "79005550011"}, h)
    assert paired["userErrors"] == [] and paired["instance"]["status"] == "connected"
    assert paired["instance"]["phone"] == "79005550011"
    dropped = await _ok(
        api,
        f"""mutation($id: ID!) {{
          dropSandboxConnection(id: $id, reason: "logout") {{ instance {{ status }} {ERRORS} }}
        }}""",
        {"id": iid},
        h,
    )
    assert dropped["userErrors"] == [] and dropped["instance"]["status"] == "logged_out"


async def test_mark_chat_as_read_answers_the_count_and_the_chat(api: Api) -> None:
    h = await api.new_user("reader@example.com")
    iid = (await api.paired_instance(h))["id"]
    await incoming(api, h, iid, "79001234567", "one")
    await incoming(api, h, iid, "79001234567", "two")
    query = f"""mutation($id: ID!, $chat: String!) {{
      markChatAsRead(instanceId: $id, chatId: $chat) {{
        markedRead chat {{ remoteJid unreadCount }} {ERRORS}
      }}
    }}"""
    read = await _ok(api, query, {"id": iid, "chat": "+7 900 123 45 67"}, h)
    assert read["markedRead"] == 2 and read["userErrors"] == []
    assert read["chat"] == {"remoteJid": "79001234567@s.whatsapp.net", "unreadCount": 0}
    wrong = await _ok(api, query, {"id": iid, "chat": "nobody"}, h)
    assert wrong["markedRead"] == 0 and wrong["chat"] is None
    assert wrong["userErrors"][0]["field"] == ["chatId"], wrong


async def test_contacts_pairing_code_and_api_key_answer_payloads(api: Api) -> None:
    h = await api.new_user("payloads@example.com")
    waiting = (await api.new_instance(h))["id"]
    await api.wait_status(waiting, h, "qr")
    code = f"""mutation($id: ID!, $phone: String!) {{
      requestPairingCode(instanceId: $id, phone: $phone) {{ code {ERRORS} }}
    }}"""
    bad = await _ok(api, code, {"id": waiting, "phone": "12"}, h)
    assert bad["code"] is None and bad["userErrors"][0]["code"] == "validation_error", bad
    good = await _ok(api, code, {"id": waiting, "phone": "79005550012"}, h)
    assert good["userErrors"] == [] and len(good["code"]) == 9 and good["code"][4] == "-"

    iid = (await api.paired_instance(h, name="contacts"))["id"]
    add = f"""mutation($id: ID!, $phone: String!) {{
      addWhatsappContact(instanceId: $id, phone: $phone, name: "Ann") {{
        contact {{ remoteJid name }} {ERRORS}
      }}
    }}"""
    added = await _ok(api, add, {"id": iid, "phone": "79001112233"}, h)
    assert added["contact"] == {"remoteJid": "79001112233@s.whatsapp.net", "name": "Ann"}
    wrong = await _ok(api, add, {"id": iid, "phone": "nope"}, h)
    assert wrong["contact"] is None and wrong["userErrors"][0]["code"] == "validation_error"
    imported = await _ok(
        api,
        f"mutation($id: ID!) {{ importWhatsappContacts(instanceId: $id) {{ imported {ERRORS} }} }}",
        {"id": iid},
        h,
    )
    assert imported["userErrors"] == [] and imported["imported"] >= 1

    rotated = await _ok(api, f"mutation {{ rotateMyApiKey {{ apiKey {ERRORS} }} }}", {}, h)
    assert rotated["userErrors"] == [] and rotated["apiKey"].startswith("wmx_")
    stale = await api.gql("{ me { id } }", headers=h)
    assert stale["errors"][0]["extensions"]["code"] == "unauthorized", stale
    fresh = await api.gql("{ me { email } }", headers={"x-api-key": rotated["apiKey"]})
    assert fresh["data"]["me"]["email"] == "payloads@example.com"


async def test_simulated_traffic_answers_payloads(api: Api) -> None:
    h = await api.new_user("traffic@example.com")
    iid = (await api.paired_instance(h))["id"]
    arrive = f"""mutation($id: ID!, $from: String!) {{
      simulateIncomingMessage(instanceId: $id, from: $from, body: "hi") {{ messageId {ERRORS} }}
    }}"""
    arrived = await _ok(api, arrive, {"id": iid, "from": "79001234567"}, h)
    assert arrived["userErrors"] == [] and arrived["messageId"]
    wrong = await _ok(api, arrive, {"id": iid, "from": "x"}, h)
    assert wrong["messageId"] is None and wrong["userErrors"][0]["code"] == "validation_error"
    sent = await _ok(
        api,
        """mutation($id: ID!) {
          sendText(instanceId: $id, phone: "79001234567", message: "yo") { message { messageId } }
        }""",
        {"id": iid},
        h,
    )
    message_id = sent["message"]["messageId"]
    receipt = await _ok(
        api,
        f"""mutation($id: ID!, $m: String!) {{
          simulateReceipt(instanceId: $id, messageId: $m, status: read) {{ success {ERRORS} }}
        }}""",
        {"id": iid, "m": message_id},
        h,
    )
    assert receipt == {"success": True, "userErrors": []}


@pytest.fixture
async def rx() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=0)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_requeue_and_test_webhook_answer_payloads(api: Api, rx: WebhookReceiver) -> None:
    h = await api.admin()
    iid = (await api.paired_instance(h, webhookUrl=rx.url, webhookEnabled=True))["id"]
    tested = await _ok(
        api,
        f"""mutation($id: ID!) {{
          sendTestWebhook(instanceId: $id) {{
            result {{ success outcome statusCode delivery {{ id event }} }} {ERRORS}
          }}
        }}""",
        {"id": iid},
        h,
    )
    assert tested["userErrors"] == [] and tested["result"]["success"] is True
    assert tested["result"]["delivery"]["event"] == "webhook_test"
    delivery = tested["result"]["delivery"]["id"]
    requeue = f"""mutation($id: ID!, $d: ID!) {{
      requeueWebhookDelivery(instanceId: $id, deliveryId: $d) {{
        delivery {{ id status }} {ERRORS}
      }}
    }}"""
    queued = await _ok(api, requeue, {"id": iid, "d": delivery}, h)
    assert queued == {"delivery": {"id": delivery, "status": "pending"}, "userErrors": []}
    missing = await api.gql(requeue, {"id": iid, "d": "no-such-delivery"}, h)
    assert missing["errors"][0]["extensions"]["code"] == "not_found", missing
