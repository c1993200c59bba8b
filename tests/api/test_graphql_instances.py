"""GraphQL: instances, their status, QR, activity and events, sandbox controls and tenants."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.graphql_events import EVENT_FRAGMENT, as_rest
from tests.signals import reconnect_delay_passed

WEBHOOK_FIELDS = (
    "notifyReceived notifySent notifyDelivery notifyRead maxRetries retryInterval secret headers"
)
INSTANCE_FIELDS = f"""
  id userId name description engine status statusReason phone pushName
  webhookUrl webhookEnabled lastActivity createdAt updatedAt
  webhookSettings {{ {WEBHOOK_FIELDS} }}
  connectionStatus {{ ready status hasQr }}
"""

LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { id } }
}
"""
CREATE_USER = """
mutation($input: NewUserInput!) { createUser(input: $input) { apiKey user { id } } }
"""
PAYLOAD = f"instance {{ {INSTANCE_FIELDS} }} userErrors {{ field code message }}"
CREATE = f"""
mutation($input: NewInstanceInput!) {{ createInstance(input: $input) {{ {PAYLOAD} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $input: InstanceChangesInput!) {{
  updateInstance(id: $id, input: $input) {{ {PAYLOAD} }}
}}
"""
INSTANCES = f"{{ instances {{ {INSTANCE_FIELDS} }} }}"
INSTANCE = f"query($id: ID!) {{ instance(id: $id) {{ {INSTANCE_FIELDS} }} }}"
STATUS = "query($id: ID!) { instanceStatus(id: $id) { ready status hasQr } }"
QR = "query($id: ID!) { instanceQr(id: $id) { qrCode status generating } }"
ACTIVITY = """
query($id: ID!, $actions: [String!], $start: DateTime, $end: DateTime, $limit: Int, $skip: Int) {
  instanceActivity(
    id: $id, actions: $actions, startDate: $start, endDate: $end, limit: $limit, skip: $skip
  ) {
    logs { id instanceId action details createdAt }
    pagination { total limit skip hasMore }
  }
}
"""
EVENTS = (
    """
query($id: ID!, $since: DateTime, $limit: Int, $types: [EventType!]) {
  instanceEvents(id: $id, since: $since, limit: $limit, types: $types) {
    events { ...EventFields }
    latestTimestamp count hasMore
  }
}
"""
    + EVENT_FRAGMENT
)
DELETE = "mutation($id: ID!) { deleteInstance(id: $id) { success message } }"
RECONNECT = "mutation($id: ID!) { reconnectInstance(id: $id) { success message } }"
LOGOUT = "mutation($id: ID!) { logoutInstance(id: $id) { success message } }"
SCAN = f"""
mutation($id: ID!, $phone: String, $pushName: String) {{
  sandboxScan(id: $id, phone: $phone, pushName: $pushName) {{ {INSTANCE_FIELDS} }}
}}
"""
DISCONNECT = f"""
mutation($id: ID!, $reason: String) {{
  sandboxDisconnect(id: $id, reason: $reason) {{ {INSTANCE_FIELDS} }}
}}
"""

SPEC_INPUT: dict[str, Any] = {
    "name": "主要 WhatsApp",
    "description": "企业账户",
    "webhookUrl": "https://example.com/webhook",
    "webhookEnabled": True,
    "webhookSettings": {
        "notifyReceived": True,
        "notifySent": True,
        "notifyDelivery": False,
        "notifyRead": False,
        "maxRetries": 3,
        "retryInterval": 60000,
        "secret": "optional-secret-key",
        "headers": {"Custom-Header": "custom-value"},
    },
    "engine": "sandbox",
}


# --- helpers (GraphQL only) -----------------------------------------------------------------


def data_of(out: dict[str, Any], field: str) -> Any:
    """The field's answer; a mutation payload's object, once it reported no user errors."""
    assert "errors" not in out, out
    answer = out["data"][field]
    if isinstance(answer, dict) and "userErrors" in answer:
        assert answer["userErrors"] == [], out
        return answer["instance"]
    return answer


def user_error_of(out: dict[str, Any], field: str) -> dict[str, Any]:
    """The single user error of a mutation payload that changed nothing."""
    assert "errors" not in out, out
    payload = out["data"][field]
    assert payload["instance"] is None, out
    assert len(payload["userErrors"]) == 1, out
    error = payload["userErrors"][0]
    assert error["code"] == "validation_error" and error["message"], out
    return dict(error)


def error_of(out: dict[str, Any], code: str, status: int) -> dict[str, Any]:
    """The single error of a failed operation, checked against the expected code and status."""
    assert out.get("data") is None, out
    assert len(out["errors"]) == 1, out
    error = out["errors"][0]
    assert error["extensions"]["code"] == code, out
    assert error["extensions"]["status"] == status, out
    assert error["message"], out
    return error


async def admin(api: Api) -> dict[str, str]:
    out = await api.gql(LOGIN, {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    return {"Authorization": f"Bearer {data_of(out, 'login')['token']}"}


async def new_user(api: Api, email: str) -> dict[str, str]:
    variables = {"input": {"email": email, "password": "user-password-1"}}
    out = await api.gql(CREATE_USER, variables, headers=await admin(api))
    return {"x-api-key": data_of(out, "createUser")["apiKey"]}


async def my_id(api: Api, headers: dict[str, str]) -> str:
    return data_of(await api.gql("{ me { id } }", headers=headers), "me")["id"]


async def create(api: Api, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    out = await api.gql(
        CREATE, {"input": {"name": "test instance", "engine": "sandbox", **fields}}, headers=headers
    )
    return data_of(out, "createInstance")


async def get(api: Api, headers: dict[str, str], iid: str) -> dict[str, Any]:
    return data_of(await api.gql(INSTANCE, {"id": iid}, headers=headers), "instance")


async def status_of(api: Api, headers: dict[str, str], iid: str) -> dict[str, Any]:
    return data_of(await api.gql(STATUS, {"id": iid}, headers=headers), "instanceStatus")


async def wait_status(
    api: Api, headers: dict[str, str], iid: str, status: str, within: float = 5.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        current = await status_of(api, headers, iid)
        if current["status"] == status:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"status stayed {current['status']!r}, wanted {status!r}")
        await asyncio.sleep(0.02)


async def paired(api: Api, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    instance = await create(api, headers, **fields)
    await wait_status(api, headers, instance["id"], "qr")
    scanned = data_of(await api.gql(SCAN, {"id": instance["id"]}, headers=headers), "sandboxScan")
    assert scanned["status"] == "connected", scanned
    return scanned


async def events(api: Api, headers: dict[str, str], iid: str, **args: Any) -> dict[str, Any]:
    out = await api.gql(EVENTS, {"id": iid, **args}, headers=headers)
    page = data_of(out, "instanceEvents")
    return {**page, "events": [as_rest(e) for e in page["events"]]}


async def activity(api: Api, headers: dict[str, str], iid: str, **args: Any) -> dict[str, Any]:
    out = await api.gql(ACTIVITY, {"id": iid, **args}, headers=headers)
    return data_of(out, "instanceActivity")


async def drop_and_recover(api: Api, headers: dict[str, str], iid: str, times: int) -> None:
    for n in range(times):
        out = await api.gql(DISCONNECT, {"id": iid, "reason": f"drop-{n}"}, headers=headers)
        assert data_of(out, "sandboxDisconnect")["statusReason"] == f"drop-{n}"
        await wait_status(api, headers, iid, "connected")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- create, list, read ---------------------------------------------------------------------


async def test_create_instance_returns_the_instance_with_its_settings(api: Api) -> None:
    headers = await admin(api)
    created = await create(api, headers, **SPEC_INPUT)
    assert created["name"] == "主要 WhatsApp" and created["description"] == "企业账户"
    assert created["userId"] == await my_id(api, headers)
    assert created["engine"] == "sandbox" and created["status"] == "connecting"
    assert created["webhookUrl"] == "https://example.com/webhook"
    assert created["webhookEnabled"] is True
    assert created["webhookSettings"] == SPEC_INPUT["webhookSettings"]
    assert created["connectionStatus"] == {"ready": False, "status": "connecting", "hasQr": False}
    assert created["phone"] is None and created["pushName"] is None
    assert created["createdAt"].endswith("Z") and len(created["createdAt"]) == 24
    assert created["createdAt"] == created["updatedAt"]
    # It is stored: reading it back gives the same settings.
    again = await get(api, headers, created["id"])
    assert again["webhookSettings"] == SPEC_INPUT["webhookSettings"]
    assert again["name"] == created["name"] and again["createdAt"] == created["createdAt"]


async def test_create_instance_with_only_a_name_uses_the_defaults(api: Api) -> None:
    headers = await admin(api)
    out = await api.gql(CREATE, {"input": {"name": "  plain  "}}, headers=headers)
    created = data_of(out, "createInstance")
    assert created["name"] == "plain"
    assert created["engine"] == "sandbox"  # WHATSAPP_ENGINE of the test settings
    assert created["description"] is None and created["webhookUrl"] is None
    assert created["webhookEnabled"] is False
    assert created["webhookSettings"] == {
        "notifyReceived": True,
        "notifySent": True,
        "notifyDelivery": False,
        "notifyRead": False,
        "maxRetries": 3,
        "retryInterval": 60000,
        "secret": None,
        "headers": {},
    }


async def test_create_instance_validation_errors_are_400_and_create_nothing(api: Api) -> None:
    headers = await admin(api)
    bad_inputs: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "x", "description": "d" * 1001}, "description"),
        ({"name": "x", "webhookUrl": "ftp://example.com"}, "webhookUrl"),
        ({"name": "x", "webhookUrl": "not a url"}, "webhookUrl"),
        ({"name": "x", "webhookUrl": "javascript:alert(1)"}, "webhookUrl"),
        ({"name": "x", "webhookSettings": {"maxRetries": -1}}, "maxRetries"),
        ({"name": "x", "webhookSettings": {"maxRetries": 21}}, "maxRetries"),
        ({"name": "x", "webhookSettings": {"maxRetries": 1000}}, "maxRetries"),
        ({"name": "x", "webhookSettings": {"retryInterval": 5}}, "retryInterval"),
        ({"name": "x", "webhookSettings": {"headers": {"Bad Header": "v"}}}, "headers"),
        ({"name": "x", "webhookSettings": {"headers": {"X-Webhook-Signature": "f"}}}, "headers"),
        ({"name": "x", "webhookSettings": {"headers": {"A": 1}}}, "headers"),
        ({"name": "x", "webhookSettings": {"headers": ["A"]}}, "headers"),
    ]
    for body, field in bad_inputs:
        out = await api.gql(CREATE, {"input": {"engine": "sandbox", **body}}, headers=headers)
        error = user_error_of(out, "createInstance")
        assert error["field"] == ["input", field], (body, out)
    # Wrong GraphQL types (enums and typed inputs included) never reach the use case.
    for body in (
        {"name": 5},
        {"name": "x", "webhookEnabled": "yes"},
        {"name": "x", "webhookSettings": {"maxRetries": 1.5}},
        {"name": "x", "engine": "baileys"},
        {"name": "x", "sandbox": {"autoReceipts": "no"}},
        {"name": "x", "sandbox": 5},
        {"name": "x", "limits": {"maxSent": 5}},
    ):
        out = await api.gql(CREATE, {"input": body}, headers=headers)
        assert out.get("data") is None and out["errors"], body
    assert data_of(await api.gql(INSTANCES, headers=headers), "instances") == []


async def test_instances_lists_own_instances_with_connection_status(api: Api) -> None:
    headers = await new_user(api, "lister@example.com")
    assert data_of(await api.gql(INSTANCES, headers=headers), "instances") == []
    a = await create(api, headers, name="a")
    b = await paired(api, headers, name="b")
    listed = data_of(await api.gql(INSTANCES, headers=headers), "instances")
    by_id = {i["id"]: i for i in listed}
    assert set(by_id) == {a["id"], b["id"]}
    assert by_id[b["id"]]["connectionStatus"] == {
        "ready": True,
        "status": "connected",
        "hasQr": False,
    }
    assert by_id[a["id"]]["connectionStatus"]["ready"] is False
    assert by_id[a["id"]]["name"] == "a" and by_id[b["id"]]["name"] == "b"


async def test_instance_and_instance_status_follow_the_connection(api: Api) -> None:
    headers = await admin(api)
    created = await create(api, headers, **SPEC_INPUT)
    iid = created["id"]
    waiting = await wait_status(api, headers, iid, "qr")
    assert waiting == {"ready": False, "status": "qr", "hasQr": True}
    detail = await get(api, headers, iid)
    assert detail["connectionStatus"] == waiting and detail["status"] == "qr"
    assert detail["webhookSettings"]["secret"] == "optional-secret-key"
    assert detail["webhookSettings"]["headers"] == {"Custom-Header": "custom-value"}

    out = await api.gql(SCAN, {"id": iid, "phone": "+1 555 000-1111"}, headers=headers)
    data_of(out, "sandboxScan")
    assert await status_of(api, headers, iid) == {
        "ready": True,
        "status": "connected",
        "hasQr": False,
    }
    detail = await get(api, headers, iid)
    assert detail["status"] == "connected" and detail["phone"] == "15550001111"
    assert detail["statusReason"] is None
    assert detail["lastActivity"].endswith("Z") and detail["lastActivity"] >= created["createdAt"]
    assert detail["connectionStatus"] == {"ready": True, "status": "connected", "hasQr": False}


async def test_unknown_instance_id_is_not_found_everywhere(api: Api) -> None:
    headers = await admin(api)
    for query in (
        INSTANCE,
        STATUS,
        QR,
        ACTIVITY,
        EVENTS,
        DELETE,
        RECONNECT,
        LOGOUT,
        SCAN,
        DISCONNECT,
    ):
        error = error_of(await api.gql(query, {"id": "missing"}, headers=headers), "not_found", 404)
        assert error["message"] == "Instance missing not found"
    out = await api.gql(UPDATE, {"id": "missing", "input": {"name": "x"}}, headers=headers)
    error_of(out, "not_found", 404)


# --- update -----------------------------------------------------------------------------------


async def test_update_instance_changes_fields_and_nested_webhook_settings(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers, **SPEC_INPUT)
    new_settings = {
        "notifyReceived": True,
        "notifySent": False,
        "notifyDelivery": True,
        "notifyRead": True,
        "maxRetries": 5,
        "retryInterval": 30000,
        "secret": "new-secret-key",
        "headers": {"New-Custom-Header": "new-value"},
    }
    update = {
        "name": "新的 WhatsApp 名称",
        "description": "更新的描述",
        "webhookUrl": "https://new-example.com/webhook",
        "webhookEnabled": True,
        "webhookSettings": new_settings,
    }
    out = await api.gql(UPDATE, {"id": inst["id"], "input": update}, headers=headers)
    body = data_of(out, "updateInstance")
    assert body["id"] == inst["id"]
    assert body["name"] == "新的 WhatsApp 名称" and body["description"] == "更新的描述"
    assert body["webhookUrl"] == "https://new-example.com/webhook"
    assert body["webhookEnabled"] is True
    assert body["webhookSettings"] == new_settings
    assert body["updatedAt"] >= inst["updatedAt"]
    assert (await get(api, headers, inst["id"]))["webhookSettings"] == new_settings

    page = await events(api, headers, inst["id"], types=["webhook_updated"])
    assert page["count"] == 1 and len(page["events"]) == 1
    event = page["events"][0]
    assert event["type"] == "webhook_updated" and event["data"]["instanceId"] == inst["id"]
    assert event["data"]["instanceId"] == inst["id"] and event["data"]["timestamp"].endswith("Z")
    logs = (await activity(api, headers, inst["id"], actions=["updated", "webhook_updated"]))[
        "logs"
    ]
    assert sorted(log["action"] for log in logs) == ["updated", "webhook_updated"]
    updated = next(log for log in logs if log["action"] == "updated")
    assert updated["details"] == {"fields": ["name", "description"]}


async def test_partial_update_keeps_the_other_settings(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers, **SPEC_INPUT)
    out = await api.gql(
        UPDATE,
        {"id": inst["id"], "input": {"webhookSettings": {"notifyRead": True}}},
        headers=headers,
    )
    body = data_of(out, "updateInstance")
    assert body["webhookSettings"] == {**SPEC_INPUT["webhookSettings"], "notifyRead": True}
    assert body["name"] == SPEC_INPUT["name"] and body["webhookUrl"] == SPEC_INPUT["webhookUrl"]
    page = await events(api, headers, inst["id"], types=["webhook_updated"])
    assert page["count"] == 1


async def test_update_without_webhook_change_emits_no_webhook_updated(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers, **SPEC_INPUT)
    same = {
        "name": "renamed",
        "webhookUrl": SPEC_INPUT["webhookUrl"],
        "webhookSettings": {"maxRetries": 3},
    }
    out = await api.gql(UPDATE, {"id": inst["id"], "input": same}, headers=headers)
    assert data_of(out, "updateInstance")["name"] == "renamed"
    assert (await events(api, headers, inst["id"], types=["webhook_updated"]))["events"] == []


async def test_bad_update_is_400_and_changes_nothing(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers, **SPEC_INPUT)
    await wait_status(api, headers, inst["id"], "qr")  # the engine has settled
    before = await get(api, headers, inst["id"])
    for body, field in (
        ({"name": "ok", "webhookSettings": {"maxRetries": 99}}, "maxRetries"),
        ({"name": ""}, "name"),
        ({"webhookUrl": "javascript:alert(1)"}, "webhookUrl"),
        ({"webhookSettings": {"headers": {"Host": "evil"}}}, "headers"),
        ({"webhookSettings": {"retryInterval": 0}}, "retryInterval"),
        ({"description": "d" * 1001}, "description"),
    ):
        out = await api.gql(UPDATE, {"id": inst["id"], "input": body}, headers=headers)
        assert user_error_of(out, "updateInstance")["field"] == ["input", field], body
    assert await get(api, headers, inst["id"]) == before
    assert (await events(api, headers, inst["id"], types=["webhook_updated"]))["events"] == []


# --- QR ---------------------------------------------------------------------------------------


async def test_instance_qr_is_generating_right_after_create(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_qr_delay_ms=5000)
    headers = await admin(api)
    inst = await create(api, headers)
    out = await api.gql(QR, {"id": inst["id"]}, headers=headers)
    assert data_of(out, "instanceQr") == {
        "qrCode": None,
        "status": "connecting",
        "generating": True,
    }
    assert await status_of(api, headers, inst["id"]) == {
        "ready": False,
        "status": "connecting",
        "hasQr": False,
    }
    assert (await events(api, headers, inst["id"]))["events"] == []


async def test_instance_qr_gives_a_whatsapp_code_once_status_is_qr(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers)
    await wait_status(api, headers, inst["id"], "qr")
    qr = data_of(await api.gql(QR, {"id": inst["id"]}, headers=headers), "instanceQr")
    assert qr["generating"] is False and qr["status"] == "qr"
    ref, noise, identity, adv = qr["qrCode"].split(",")
    assert ref.startswith("2@") and len(noise) == len(identity) == len(adv) == 44
    # The code shown is the one announced by the latest qr_received event.
    announced = (await events(api, headers, inst["id"], types=["qr_received"]))["events"]
    assert announced[-1]["data"]["qrCode"] == qr["qrCode"]


async def test_instance_qr_refreshes_while_unpaired(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_qr_interval_ms=100)
    headers = await admin(api)
    inst = await create(api, headers)
    await wait_status(api, headers, inst["id"], "qr")
    first = data_of(await api.gql(QR, {"id": inst["id"]}, headers=headers), "instanceQr")["qrCode"]
    deadline = asyncio.get_running_loop().time() + 10.0
    while True:  # until three codes have been shown, however long the machine takes
        logs = (await activity(api, headers, inst["id"], actions=["qr_received"]))["logs"]
        if len(logs) >= 3:
            break
        assert asyncio.get_running_loop().time() < deadline, logs
        await asyncio.sleep(0.02)
    second = data_of(await api.gql(QR, {"id": inst["id"]}, headers=headers), "instanceQr")["qrCode"]
    assert first.startswith("2@") and second.startswith("2@") and first != second
    attempts = sorted(log["details"]["attempt"] for log in logs)
    assert len(attempts) >= 3 and attempts[:3] == [1, 2, 3]


async def test_instance_qr_of_a_connected_or_logged_out_instance_is_a_conflict(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    error = error_of(await api.gql(QR, {"id": inst["id"]}, headers=headers), "conflict", 409)
    assert error["extensions"]["status"] == 409 and "connected" in error["message"]
    data_of(await api.gql(LOGOUT, {"id": inst["id"]}, headers=headers), "logoutInstance")
    await wait_status(api, headers, inst["id"], "logged_out")
    error = error_of(await api.gql(QR, {"id": inst["id"]}, headers=headers), "conflict", 409)
    assert "logged out" in error["message"]


# --- activity and events ----------------------------------------------------------------------


async def test_instance_activity_records_the_lifecycle_newest_first(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    page = await activity(api, headers, inst["id"])
    actions = [log["action"] for log in page["logs"]]
    assert actions[0] == "connected" and actions[-1] == "created"
    assert "qr_received" in actions
    assert all(log["instanceId"] == inst["id"] for log in page["logs"])
    stamps = [log["createdAt"] for log in page["logs"]]
    assert stamps == sorted(stamps, reverse=True)
    assert page["pagination"] == {"total": len(actions), "limit": 100, "skip": 0, "hasMore": False}
    created = page["logs"][-1]
    assert created["details"] == {"name": "test instance", "engine": "sandbox"}


async def test_instance_activity_filters_dates_and_pagination(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    await drop_and_recover(api, headers, iid, 3)

    only = await activity(api, headers, iid, actions=["connected", "disconnected"])
    assert {log["action"] for log in only["logs"]} == {"connected", "disconnected"}
    assert only["pagination"]["total"] == 7  # 4 connects + 3 drops
    reasons = [log["details"]["reason"] for log in only["logs"] if log["action"] == "disconnected"]
    assert reasons == ["drop-2", "drop-1", "drop-0"]

    page1 = await activity(api, headers, iid, actions=["connected"], limit=3, skip=0)
    page2 = await activity(api, headers, iid, actions=["connected"], limit=3, skip=3)
    assert page1["pagination"] == {"total": 4, "limit": 3, "skip": 0, "hasMore": True}
    assert page2["pagination"] == {"total": 4, "limit": 3, "skip": 3, "hasMore": False}
    assert len(page1["logs"]) == 3 and len(page2["logs"]) == 1
    assert not {x["id"] for x in page1["logs"]} & {x["id"] for x in page2["logs"]}

    now = datetime.now(UTC)
    future, past = iso(now + timedelta(hours=1)), iso(now - timedelta(hours=1))
    assert (await activity(api, headers, iid, start=future))["logs"] == []
    assert (await activity(api, headers, iid, end=past))["logs"] == []
    everything = await activity(api, headers, iid, start=past, end=future)
    assert (
        everything["pagination"]["total"]
        == (await activity(api, headers, iid))["pagination"]["total"]
    )
    assert everything["pagination"]["total"] >= 10  # created, qr, connected, 3 x (drop, retry, up)
    # A one-millisecond window around the first drop holds exactly that drop.
    first_drop = only["logs"][-2]
    assert first_drop["action"] == "disconnected"
    at = datetime.fromisoformat(first_drop["createdAt"].replace("Z", "+00:00"))
    window = await activity(
        api,
        headers,
        iid,
        actions=["disconnected"],
        start=iso(at),
        end=iso(at + timedelta(milliseconds=1)),
    )
    assert [log["id"] for log in window["logs"]] == [first_drop["id"]]
    earlier = await activity(
        api, headers, iid, actions=["disconnected"], end=iso(at - timedelta(milliseconds=1))
    )
    assert earlier["logs"] == [] and earlier["pagination"]["total"] == 0


async def test_instance_activity_bad_arguments_are_400(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers)
    for args, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 100_000}, "limit"),
        ({"skip": -1}, "skip"),
        ({"start": "2024-02-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "startDate"),
    ):
        out = await api.gql(ACTIVITY, {"id": inst["id"], **args}, headers=headers)
        error = error_of(out, "validation_error", 400)
        assert error["extensions"]["field"] == field, args
    out = await api.gql(ACTIVITY, {"id": inst["id"], "start": "yesterday"}, headers=headers)
    error_of(out, "validation_error", 400)


async def test_instance_events_shape_and_type_filter(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    page = await events(api, headers, iid)
    assert [e["type"] for e in page["events"]] == ["qr_received", "connected"]
    assert page["count"] == 2 and page["hasMore"] is False
    assert page["latestTimestamp"] == page["events"][-1]["timestamp"]
    assert all(e["data"]["instanceId"] == iid for e in page["events"])
    qr = page["events"][0]
    assert qr["data"]["instanceId"] == iid and qr["data"]["qrCode"].startswith("2@")
    assert qr["timestamp"].endswith("Z") and len(qr["timestamp"]) == 24

    only = await events(api, headers, iid, types=["connected"])
    assert [e["type"] for e in only["events"]] == ["connected"]
    assert only["events"][0]["data"] == {"instanceId": iid}
    assert only["events"][0]["id"] == page["events"][1]["id"]

    first = await events(api, headers, iid, limit=1)
    assert first["count"] == 1 and first["hasMore"] is True
    assert first["events"][0]["id"] == qr["id"] and first["latestTimestamp"] == qr["timestamp"]


async def test_instance_events_bad_arguments_are_400(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers)
    iid = inst["id"]
    # An unknown type is refused by the schema: `types` is a list of the EventType enum.
    out = await api.gql(EVENTS, {"id": iid, "types": ["bogus"]}, headers=headers)
    assert out.get("data") is None and "EventType" in out["errors"][0]["message"], out
    for limit in (0, -5, 100_000):
        out = await api.gql(EVENTS, {"id": iid, "limit": limit}, headers=headers)
        assert error_of(out, "validation_error", 400)["extensions"]["field"] == "limit"
    # A bad date, as a variable and inline, is a validation error too.
    out = await api.gql(EVENTS, {"id": iid, "since": "garbage"}, headers=headers)
    error_of(out, "validation_error", 400)
    inline = 'query($id: ID!) { instanceEvents(id: $id, since: "garbage") { count } }'
    error_of(await api.gql(inline, {"id": iid}, headers=headers), "validation_error", 400)


async def test_instance_events_paging_returns_each_event_exactly_once(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    await drop_and_recover(api, headers, iid, 4)
    everything = (await events(api, headers, iid, limit=1000))["events"]
    assert len(everything) == 10  # qr, connected, 4 x (disconnected, connected)
    stamps = [e["timestamp"] for e in everything]
    assert len(set(stamps)) == len(stamps), "each event has its own millisecond"
    assert stamps == sorted(stamps)

    seen: list[str] = []
    since = None
    pages = 0
    while True:
        page = await events(api, headers, iid, limit=3, since=since)
        pages += 1
        assert page["count"] == len(page["events"]) <= 3
        seen += [e["id"] for e in page["events"]]
        if not page["hasMore"]:
            break
        since = page["latestTimestamp"]
    assert seen == [e["id"] for e in everything]
    assert pages == 4
    # Nothing new: an empty page that keeps the cursor where it was.
    empty = await events(api, headers, iid, since=page["latestTimestamp"])
    assert empty["events"] == [] and empty["count"] == 0 and empty["hasMore"] is False
    assert empty["latestTimestamp"] == page["latestTimestamp"]
    # New events after the cursor are picked up, and only they.
    await drop_and_recover(api, headers, iid, 1)
    fresh = await events(api, headers, iid, since=page["latestTimestamp"])
    assert [e["type"] for e in fresh["events"]] == ["disconnected", "connected"]
    assert fresh["events"][0]["data"]["reason"] == "drop-0"
    # Filtered by type, the cursor still works.
    typed = await events(api, headers, iid, types=["disconnected"], limit=2)
    rest = await events(api, headers, iid, types=["disconnected"], since=typed["latestTimestamp"])
    assert typed["hasMore"] is True and len(typed["events"]) + len(rest["events"]) == 5
    assert rest["hasMore"] is False


# --- lifecycle mutations ----------------------------------------------------------------------


async def test_logout_instance(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers, name="to log out")
    iid = inst["id"]
    out = await api.gql(LOGOUT, {"id": iid}, headers=headers)
    assert data_of(out, "logoutInstance") == {
        "success": True,
        "message": f"Instance {iid} logged out",
    }
    assert await wait_status(api, headers, iid, "logged_out") == {
        "ready": False,
        "status": "logged_out",
        "hasQr": False,
    }
    detail = await get(api, headers, iid)
    assert detail["phone"] is None and detail["pushName"] is None
    page = await events(api, headers, iid, types=["disconnected"])
    assert page["events"][-1]["data"] == {
        "instanceId": iid,
        "reason": "logout",
        "willReconnect": False,
    }
    assert "logged_out" in [log["action"] for log in (await activity(api, headers, iid))["logs"]]
    # Logging out twice is harmless and emits nothing new.
    assert data_of(await api.gql(LOGOUT, {"id": iid}, headers=headers), "logoutInstance")["success"]
    again = await events(api, headers, iid, types=["disconnected"])
    assert len(again["events"]) == len(page["events"])
    # It stays logged out: nothing reconnects it by itself.
    await reconnect_delay_passed(api, headers)
    assert (await status_of(api, headers, iid))["status"] == "logged_out"


async def test_reconnect_instance_after_logout_gives_a_new_qr(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    old_qr = (await events(api, headers, iid, types=["qr_received"]))["events"][-1]["data"][
        "qrCode"
    ]
    data_of(await api.gql(LOGOUT, {"id": iid}, headers=headers), "logoutInstance")
    await wait_status(api, headers, iid, "logged_out")
    out = await api.gql(RECONNECT, {"id": iid}, headers=headers)
    assert data_of(out, "reconnectInstance") == {
        "success": True,
        "message": f"Instance {iid} reconnected",
    }
    await wait_status(api, headers, iid, "qr")
    qr = data_of(await api.gql(QR, {"id": iid}, headers=headers), "instanceQr")
    assert qr["qrCode"].startswith("2@") and qr["qrCode"] != old_qr
    logs = (await activity(api, headers, iid, actions=["reconnecting"]))["logs"]
    assert logs[0]["details"]["manual"] is True
    # Scanning the new code pairs it again.
    data_of(await api.gql(SCAN, {"id": iid}, headers=headers), "sandboxScan")
    assert (await status_of(api, headers, iid))["ready"] is True


async def test_reconnect_instance_of_a_connected_instance_reconnects_it(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    connects = (await events(api, headers, iid, types=["connected"]))["count"]
    data_of(await api.gql(RECONNECT, {"id": iid}, headers=headers), "reconnectInstance")
    await wait_status(api, headers, iid, "connected")
    assert (await events(api, headers, iid, types=["connected"]))["count"] == connects + 1


async def test_delete_instance_removes_it_everywhere(api: Api, tmp_path: Path) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    keep = await create(api, headers, name="keep")
    session_dir = tmp_path / "instances" / iid
    assert session_dir.exists()
    out = await api.gql(DELETE, {"id": iid}, headers=headers)
    assert data_of(out, "deleteInstance") == {
        "success": True,
        "message": f"Instance {iid} deleted successfully",
    }
    assert not session_dir.exists()
    for query in (INSTANCE, STATUS, QR, ACTIVITY, EVENTS, DELETE):
        error_of(await api.gql(query, {"id": iid}, headers=headers), "not_found", 404)
    listed = data_of(await api.gql(INSTANCES, headers=headers), "instances")
    assert [i["id"] for i in listed] == [keep["id"]]


# --- sandbox controls ---------------------------------------------------------------------------


async def test_sandbox_scan_pairs_with_the_given_phone_and_name(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers)
    iid = inst["id"]
    await wait_status(api, headers, iid, "qr")
    out = await api.gql(
        SCAN, {"id": iid, "phone": "+7 900 123-45-67", "pushName": "张三"}, headers=headers
    )
    scanned = data_of(out, "sandboxScan")
    assert scanned["status"] == "connected" and scanned["phone"] == "79001234567"
    assert scanned["pushName"] == "张三"
    assert scanned["connectionStatus"] == {"ready": True, "status": "connected", "hasQr": False}
    assert (await get(api, headers, iid))["phone"] == "79001234567"
    # A second scan has nothing to scan.
    error_of(await api.gql(SCAN, {"id": iid}, headers=headers), "conflict", 409)


async def test_sandbox_scan_before_the_qr_or_with_a_bad_phone_is_refused(api_factory) -> None:  # type: ignore[no-untyped-def]
    api: Api = await api_factory(sandbox_qr_delay_ms=300)
    headers = await admin(api)
    inst = await create(api, headers)
    iid = inst["id"]
    error = error_of(await api.gql(SCAN, {"id": iid}, headers=headers), "conflict", 409)
    assert error["extensions"]["status"] == 409
    await wait_status(api, headers, iid, "qr")
    out = await api.gql(SCAN, {"id": iid, "phone": "12ab"}, headers=headers)
    error_of(out, "validation_error", 400)
    assert (await status_of(api, headers, iid))["status"] == "qr"


async def test_sandbox_disconnect_then_automatic_reconnect(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    out = await api.gql(DISCONNECT, {"id": iid, "reason": "network_error"}, headers=headers)
    dropped = data_of(out, "sandboxDisconnect")
    assert dropped["id"] == iid and dropped["statusReason"] == "network_error"
    assert dropped["connectionStatus"]["ready"] is False
    await wait_status(api, headers, iid, "connected")
    page = await events(api, headers, iid, types=["disconnected", "connected"])
    assert [e["type"] for e in page["events"]] == ["connected", "disconnected", "connected"]
    assert page["events"][1]["data"] == {
        "instanceId": iid,
        "reason": "network_error",
        "willReconnect": True,
    }
    actions = [log["action"] for log in (await activity(api, headers, iid))["logs"]]
    assert "reconnecting" in actions and actions.count("connected") == 2
    # Still paired to the same phone after the automatic reconnect.
    assert (await get(api, headers, iid))["phone"] == inst["phone"]


async def test_sandbox_disconnect_with_logout_reason_does_not_reconnect(api: Api) -> None:
    headers = await admin(api)
    inst = await paired(api, headers)
    iid = inst["id"]
    out = await api.gql(DISCONNECT, {"id": iid, "reason": "logout"}, headers=headers)
    assert data_of(out, "sandboxDisconnect")["status"] == "logged_out"
    await reconnect_delay_passed(api, headers)
    assert await status_of(api, headers, iid) == {
        "ready": False,
        "status": "logged_out",
        "hasQr": False,
    }
    page = await events(api, headers, iid, types=["disconnected"])
    assert page["events"][-1]["data"] == {
        "instanceId": iid,
        "reason": "logout",
        "willReconnect": False,
    }
    error_of(await api.gql(DISCONNECT, {"id": iid}, headers=headers), "conflict", 409)


async def test_sandbox_controls_refuse_a_neonize_instance(api: Api) -> None:
    headers = await admin(api)
    inst = await create(api, headers, engine="neonize")
    assert inst["engine"] == "neonize"
    await wait_status(api, headers, inst["id"], "disconnected", within=60)  # a real worker
    for query in (SCAN, DISCONNECT):
        error = error_of(await api.gql(query, {"id": inst["id"]}, headers=headers), "conflict", 409)
        assert error["extensions"]["engine"] == "neonize"


# --- tenants ------------------------------------------------------------------------------------


async def test_second_user_cannot_see_or_touch_first_users_instance(api: Api) -> None:
    alice = await new_user(api, "alice@example.com")
    bob = await new_user(api, "bob@example.com")
    inst = await paired(api, alice, name="alice's")
    iid = inst["id"]
    bobs_own = await create(api, bob, name="bob's")

    listed = data_of(await api.gql(INSTANCES, headers=bob), "instances")
    assert [i["id"] for i in listed] == [bobs_own["id"]]

    attempts: list[tuple[str, dict[str, Any]]] = [
        (INSTANCE, {"id": iid}),
        (STATUS, {"id": iid}),
        (QR, {"id": iid}),
        (ACTIVITY, {"id": iid}),
        (EVENTS, {"id": iid}),
        (UPDATE, {"id": iid, "input": {"name": "stolen"}}),
        (RECONNECT, {"id": iid}),
        (LOGOUT, {"id": iid}),
        (SCAN, {"id": iid}),
        (DISCONNECT, {"id": iid, "reason": "x"}),
        (DELETE, {"id": iid}),
    ]
    for query, variables in attempts:
        error = error_of(await api.gql(query, variables, headers=bob), "not_found", 404)
        assert error["message"] == f"Instance {iid} not found", query

    # Alice's instance is untouched by all of that.
    mine = await get(api, alice, iid)
    assert mine["name"] == "alice's" and mine["status"] == "connected"
    page = await events(api, alice, iid)
    assert [e["type"] for e in page["events"]] == ["qr_received", "connected"]
    assert [i["id"] for i in data_of(await api.gql(INSTANCES, headers=alice), "instances")] == [iid]


async def test_foreign_and_missing_ids_look_the_same(api: Api) -> None:
    alice = await new_user(api, "a2@example.com")
    bob = await new_user(api, "b2@example.com")
    inst = await create(api, alice)
    foreign = error_of(await api.gql(INSTANCE, {"id": inst["id"]}, headers=bob), "not_found", 404)
    missing = error_of(
        await api.gql(INSTANCE, {"id": "does-not-exist"}, headers=bob), "not_found", 404
    )
    assert foreign["extensions"] == missing["extensions"]
    assert foreign["message"] == f"Instance {inst['id']} not found"
    assert missing["message"] == "Instance does-not-exist not found"


async def test_admin_sees_every_instance(api: Api) -> None:
    alice = await new_user(api, "a3@example.com")
    inst = await create(api, alice)
    headers = await admin(api)
    ids = {i["id"] for i in data_of(await api.gql(INSTANCES, headers=headers), "instances")}
    assert inst["id"] in ids
    got = await get(api, headers, inst["id"])
    assert got["userId"] == await my_id(api, alice)


async def test_deleting_a_user_deletes_their_instances(api: Api, tmp_path: Path) -> None:
    headers = await admin(api)
    carol = await new_user(api, "carol@example.com")
    inst = await paired(api, carol)
    uid = await my_id(api, carol)
    out = await api.gql(
        "mutation($id: ID!) { deleteUser(id: $id) { success } }", {"id": uid}, headers=headers
    )
    assert data_of(out, "deleteUser") == {"success": True}
    error_of(await api.gql(INSTANCE, {"id": inst["id"]}, headers=headers), "not_found", 404)
    assert inst["id"] not in {
        i["id"] for i in data_of(await api.gql(INSTANCES, headers=headers), "instances")
    }
    assert not (tmp_path / "instances" / inst["id"]).exists()
