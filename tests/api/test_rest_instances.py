"""REST: the spec's instance section, the WhatsApp status/QR endpoints and sandbox controls."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api
from tests.signals import reconnect_delay_passed

SPEC_BODY: dict[str, Any] = {
    "name": "主要 WhatsApp",
    "description": "企业账户",
    "webhookUrl": "https://example.com/webhook",
    "webhookEnabled": True,
    "notifyReceived": True,
    "notifySent": True,
    "notifyDelivery": False,
    "notifyRead": False,
    "maxRetries": 3,
    "retryInterval": 60000,
    "webhookSecret": "optional-secret-key",
    "headers": {"Custom-Header": "custom-value"},
    "engine": "sandbox",
}


async def test_create_answers_201_with_the_spec_fields(api: Api) -> None:
    headers = await api.admin()
    me = (await api.client.get("/api/auth/me", headers=headers)).json()
    r = await api.client.post("/api/instances", json=SPEC_BODY, headers=headers)
    assert r.status_code == 201
    body = r.json()
    for key in (
        "id",
        "name",
        "description",
        "userId",
        "status",
        "webhookUrl",
        "webhookEnabled",
        "createdAt",
        "updatedAt",
    ):
        assert key in body, key
    assert body["name"] == "主要 WhatsApp" and body["userId"] == me["id"]
    assert body["status"] == "connecting"
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == 24


async def test_get_shows_webhook_settings_and_connection_status(api: Api) -> None:
    headers = await api.admin()
    created = await api.new_instance(headers, **SPEC_BODY)
    r = await api.client.get(f"/api/instances/{created['id']}", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["webhookSettings"] == {
        "instanceId": created["id"],
        "notifyReceived": True,
        "notifySent": True,
        "notifyDelivery": False,
        "notifyRead": False,
        "maxRetries": 3,
        "retryInterval": 60000,
        "secret": "optional-secret-key",
        "headers": {"Custom-Header": "custom-value"},
    }
    assert set(body["connectionStatus"]) == {"ready", "status", "hasQr"}


async def test_list_shows_connection_status(api: Api) -> None:
    headers = await api.admin()
    a = await api.new_instance(headers, name="a")
    b = await api.paired_instance(headers, name="b")
    listed = (await api.client.get("/api/instances", headers=headers)).json()["instances"]
    by_id = {i["id"]: i for i in listed}
    assert set(by_id) == {a["id"], b["id"]}
    assert by_id[b["id"]]["connectionStatus"] == {
        "ready": True,
        "status": "connected",
        "hasQr": False,
    }
    assert by_id[a["id"]]["connectionStatus"]["ready"] is False


async def test_create_validation_errors_are_400_and_create_nothing(api: Api) -> None:
    headers = await api.admin()
    bad_bodies = [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": "x" * 101},
        {"name": "x", "webhookUrl": "ftp://example.com"},
        {"name": "x", "webhookUrl": "not a url"},
        {"name": "x", "webhookEnabled": "yes"},
        {"name": "x", "maxRetries": -1},
        {"name": "x", "maxRetries": 1000},
        {"name": "x", "retryInterval": 1.5},
        {"name": "x", "retryInterval": 5},
        {"name": "x", "headers": {"Bad Header": "v"}},
        {"name": "x", "headers": {"X-Webhook-Signature": "forged"}},
        {"name": "x", "headers": {"A": 1}},
        {"name": "x", "headers": ["A"]},
        {"name": "x", "engine": "baileys"},
        {"name": "x", "sandbox": {"autoReceipts": "no"}},
    ]
    for body in bad_bodies:
        r = await api.client.post("/api/instances", json=body, headers=headers)
        assert r.status_code == 400, (body, r.status_code, r.text)
        err = r.json()
        assert err["error"] == "validation_error" and err["message"], body
    assert (await api.client.get("/api/instances", headers=headers)).json()["instances"] == []


async def test_status_endpoints(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.get(f"/api/instances/{inst['id']}/status", headers=headers)
    body = r.json()
    assert body["instanceId"] == inst["id"] and body["status"] == "connected"
    assert body["ready"] is True and body["hasQr"] is False
    assert body["lastActivity"].endswith("Z")
    assert body["connectionDetails"] == {"ready": True, "status": "connected", "hasQr": False}
    r = await api.client.get(f"/api/whatsapp/{inst['id']}/status", headers=headers)
    assert r.json() == {"ready": True, "status": "connected", "hasQr": False}


async def test_update_changes_fields_and_nested_webhook_settings(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers, **SPEC_BODY)
    update = {
        "name": "新的 WhatsApp 名称",
        "description": "更新的描述",
        "webhookUrl": "https://new-example.com/webhook",
        "webhookEnabled": True,
        "webhookSettings": {
            "notifyReceived": True,
            "notifySent": False,
            "notifyDelivery": True,
            "notifyRead": True,
            "maxRetries": 5,
            "retryInterval": 30000,
            "secret": "new-secret-key",
            "headers": {"New-Custom-Header": "new-value"},
        },
    }
    r = await api.client.put(f"/api/instances/{inst['id']}", json=update, headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("id", "name", "description", "webhookUrl", "webhookEnabled")} == {
        "id": inst["id"],
        "name": "新的 WhatsApp 名称",
        "description": "更新的描述",
        "webhookUrl": "https://new-example.com/webhook",
        "webhookEnabled": True,
    }
    assert body["updatedAt"] >= inst["updatedAt"]
    settings = (await api.client.get(f"/api/instances/{inst['id']}", headers=headers)).json()[
        "webhookSettings"
    ]
    assert settings["notifySent"] is False and settings["notifyRead"] is True
    assert settings["maxRetries"] == 5 and settings["retryInterval"] == 30000
    assert settings["secret"] == "new-secret-key"
    assert settings["headers"] == {"New-Custom-Header": "new-value"}
    events = (await api.client.get(f"/api/instances/{inst['id']}/events", headers=headers)).json()
    updated = [e for e in events["events"] if e["type"] == "webhook_updated"]
    assert len(updated) == 1 and updated[0]["data"]["instanceId"] == inst["id"]


async def test_bad_update_is_400_and_changes_nothing(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers, **SPEC_BODY)
    await api.wait_status(inst["id"], headers, "qr")  # the engine has settled; nothing else moves
    before = (await api.client.get(f"/api/instances/{inst['id']}", headers=headers)).json()
    for body in (
        {"name": "ok", "webhookSettings": {"maxRetries": 99}},
        {"name": ""},
        {"webhookUrl": "javascript:alert(1)"},
        {"webhookSettings": {"headers": {"Host": "evil"}}},
        {"webhookSettings": "nope"},
    ):
        r = await api.client.put(f"/api/instances/{inst['id']}", json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
    after = (await api.client.get(f"/api/instances/{inst['id']}", headers=headers)).json()
    assert after == before


async def test_qr_202_while_generating_then_200(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_qr_delay_ms=400)
    headers = await api.admin()
    inst = await api.new_instance(headers)
    r = await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)
    assert r.status_code == 202
    assert r.json() == {
        "message": "QR code generation in progress. Please try again in a few seconds.",
        "status": "generating",
    }
    await api.wait_status(inst["id"], headers, "qr")
    for path in (f"/api/instances/{inst['id']}/qr", f"/api/whatsapp/{inst['id']}/qr"):
        r = await api.client.get(path, headers=headers)
        assert r.status_code == 200
        qr = r.json()["qrCode"]
        ref, noise, identity, adv = qr.split(",")
        assert ref.startswith("2@") and len(noise) == len(identity) == len(adv) == 44
    png = await api.client.get(f"/api/instances/{inst['id']}/qr?format=png", headers=headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    bad = await api.client.get(f"/api/instances/{inst['id']}/qr?format=gif", headers=headers)
    assert bad.status_code == 400


async def test_qr_refreshes_while_unpaired(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_qr_interval_ms=100)
    headers = await api.admin()
    inst = await api.new_instance(headers)
    await api.wait_status(inst["id"], headers, "qr")
    first = (await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)).json()[
        "qrCode"
    ]
    url = f"/api/instances/{inst['id']}/activity?actions=qr_received"
    deadline = asyncio.get_running_loop().time() + 10.0
    while True:  # until three codes have been shown, however long the machine takes
        logs = (await api.client.get(url, headers=headers)).json()["logs"]
        if len(logs) >= 3:
            break
        assert asyncio.get_running_loop().time() < deadline, logs
        await asyncio.sleep(0.02)
    second = (await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)).json()[
        "qrCode"
    ]
    assert first != second
    attempts = sorted(log["details"]["attempt"] for log in logs)
    assert len(attempts) >= 3 and attempts[:3] == [1, 2, 3]


async def test_qr_of_a_connected_instance_is_409(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)
    assert r.status_code == 409 and r.json()["error"] == "conflict"


async def test_scan_pairs_with_given_phone_and_name(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)
    await api.wait_status(inst["id"], headers, "qr")
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/scan",
        json={"phone": "+7 900 123-45-67", "pushName": "张三"},
        headers=headers,
    )
    assert r.status_code == 200
    body = (await api.client.get(f"/api/instances/{inst['id']}", headers=headers)).json()
    assert body["status"] == "connected" and body["phone"] == "79001234567"
    assert body["pushName"] == "张三"
    # A second scan has nothing to scan.
    r = await api.client.post(f"/api/sandbox/{inst['id']}/scan", json={}, headers=headers)
    assert r.status_code == 409


async def test_scan_rejects_a_bad_phone(api: Api) -> None:
    headers = await api.admin()
    inst = await api.new_instance(headers)
    await api.wait_status(inst["id"], headers, "qr")
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/scan", json={"phone": "12ab"}, headers=headers
    )
    assert r.status_code == 400
    assert (await api.client.get(f"/api/instances/{inst['id']}/status", headers=headers)).json()[
        "status"
    ] == "qr"


async def test_disconnect_then_automatic_reconnect(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/disconnect", json={"reason": "network_error"}, headers=headers
    )
    assert r.status_code == 200
    await api.wait_status(inst["id"], headers, "connected")
    events = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=disconnected,connected", headers=headers
        )
    ).json()["events"]
    assert [e["type"] for e in events] == ["connected", "disconnected", "connected"]
    assert events[1]["data"] == {
        "instanceId": inst["id"],
        "reason": "network_error",
        "willReconnect": True,
    }
    actions = [
        log["action"]
        for log in (
            await api.client.get(f"/api/instances/{inst['id']}/activity", headers=headers)
        ).json()["logs"]
    ]
    assert "reconnecting" in actions and actions.count("connected") == 2


async def test_disconnect_with_logout_reason_does_not_reconnect(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(
        f"/api/sandbox/{inst['id']}/disconnect", json={"reason": "logout"}, headers=headers
    )
    assert r.status_code == 200
    await reconnect_delay_passed(api, headers)  # a reconnect would have happened by now
    status = await api.wait_status(inst["id"], headers, "logged_out", within=0)
    assert status["ready"] is False
    r = await api.client.post(f"/api/sandbox/{inst['id']}/disconnect", json={}, headers=headers)
    assert r.status_code == 409


async def test_logout_and_reconnect_give_a_new_qr(api: Api) -> None:
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    r = await api.client.post(f"/api/instances/{inst['id']}/logout", headers=headers)
    assert r.json() == {"success": True, "message": f"Instance {inst['id']} logged out"}
    await api.wait_status(inst["id"], headers, "logged_out")
    events = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=disconnected", headers=headers
        )
    ).json()["events"]
    assert events[-1]["data"] == {
        "instanceId": inst["id"],
        "reason": "logout",
        "willReconnect": False,
    }
    assert (
        await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)
    ).status_code == 409
    # Logging out twice is harmless and emits nothing new.
    r = await api.client.post(f"/api/whatsapp/{inst['id']}/logout", headers=headers)
    assert r.json() == {"success": True}
    again = (
        await api.client.get(
            f"/api/instances/{inst['id']}/events?types=disconnected", headers=headers
        )
    ).json()["events"]
    assert len(again) == len(events)

    r = await api.client.post(f"/api/instances/{inst['id']}/reconnect", headers=headers)
    assert r.json() == {"success": True, "message": f"Instance {inst['id']} reconnected"}
    await api.wait_status(inst["id"], headers, "qr")


async def test_delete_stops_and_removes_everything(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    headers = await api.admin()
    inst = await api.paired_instance(headers)
    session_dir = tmp_path / "instances" / inst["id"]
    assert session_dir.exists()
    r = await api.client.delete(f"/api/instances/{inst['id']}", headers=headers)
    assert r.json() == {"success": True, "message": f"Instance {inst['id']} deleted successfully"}
    assert not session_dir.exists()
    for path in ("", "/status", "/qr", "/activity", "/events"):
        r = await api.client.get(f"/api/instances/{inst['id']}{path}", headers=headers)
        assert r.status_code == 404, path
    assert (
        await api.client.delete(f"/api/instances/{inst['id']}", headers=headers)
    ).status_code == 404


async def test_neonize_instance_reports_a_clear_state_offline(api: Api) -> None:
    # A real engine worker starts; offline its first connect fails (tests/e2e has the rest).
    headers = await api.admin()
    inst = await api.new_instance(headers, engine="neonize")
    status = await api.wait_status(inst["id"], headers, "disconnected", within=60)
    assert "connection refused" in status["reason"]
    r = await api.client.get(f"/api/instances/{inst['id']}/qr", headers=headers)
    assert r.status_code in (202, 409), r.text
    r = await api.client.post(f"/api/sandbox/{inst['id']}/scan", json={}, headers=headers)
    assert r.status_code == 409 and r.json()["details"]["engine"] == "neonize"


async def test_default_engine_comes_from_settings(api: Api) -> None:
    headers = await api.admin()
    r = await api.client.post("/api/instances", json={"name": "default"}, headers=headers)
    assert r.json()["engine"] == "sandbox"


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    headers = await api.admin()
    r = await api.client.get("/api/nope", headers=headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await api.client.patch("/api/instances", headers=headers)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
