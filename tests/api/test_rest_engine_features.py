"""REST: pairing code, number check and the engine worker view, on the sandbox engine.

The sandbox's network for the number check: every sandbox instance connected right now,
plus the checking instance's seeded address book; nothing else exists.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Api

CODE_SHAPE = re.compile(r"^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$")
NOBODY = "4930555000111"  # a well-formed number no sandbox instance or contact has


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["message"], body
    return body


async def api_calls(api: Api, h: dict[str, str], iid: str) -> int:
    r = await api.client.get(f"/api/stats/instances/{iid}", params={"period": "today"}, headers=h)
    assert r.status_code == 200, r.text
    return int(r.json()["usage"]["apiCalls"])


async def qr_instance(api: Api, h: dict[str, str]) -> str:
    iid = str((await api.new_instance(h))["id"])
    await api.wait_status(iid, h, "qr")
    return iid


# --- pairing code ---------------------------------------------------------------------------


async def test_pairing_code_then_the_phone_accepts_it_and_the_instance_connects(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    iid = await qr_instance(api, h)
    before = await api_calls(api, h, iid)
    r = await api.client.post(
        f"/api/instances/{iid}/pairing-code", json={"phone": "+49 151 2345-678"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"code"} and CODE_SHAPE.match(r.json()["code"]), r.json()
    assert await api_calls(api, h, iid) == before + 1
    # A second request replaces the code, as on WhatsApp; the QR keeps showing meanwhile.
    again = await api.client.post(
        f"/api/instances/{iid}/pairing-code", json={"phone": "491512345678"}, headers=h
    )
    assert again.status_code == 200 and CODE_SHAPE.match(again.json()["code"])
    assert (await api.client.get(f"/api/instances/{iid}/qr", headers=h)).status_code == 200
    # The sandbox's scan stands for the phone accepting the code: it pairs as that number.
    r = await api.client.post(f"/api/sandbox/{iid}/scan", json={}, headers=h)
    assert r.status_code == 200, r.text
    await api.wait_status(iid, h, "connected")
    instance = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()
    assert instance["phone"] == "491512345678"


@pytest.mark.parametrize(
    "body",
    [{}, {"phone": ""}, {"phone": "abc"}, {"phone": "0151 2345678"}, {"phone": 491512345678}],
)
async def test_pairing_code_bad_phone_is_400_and_changes_nothing(
    api: Api, body: dict[str, Any]
) -> None:
    h = await api.new_user("owner@example.com")
    iid = await qr_instance(api, h)
    r = await api.client.post(f"/api/instances/{iid}/pairing-code", json=body, headers=h)
    assert_error(r, 400, "validation_error")
    await api.client.post(f"/api/sandbox/{iid}/scan", json={}, headers=h)
    instance = await api.wait_status(iid, h, "connected")
    assert instance["status"] == "connected"
    phone = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()["phone"]
    assert phone != "491512345678" and phone.startswith("1555")  # the sandbox's default


async def test_pairing_code_of_a_foreign_instance_is_404(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    iid = await qr_instance(api, alice)
    r = await api.client.post(
        f"/api/instances/{iid}/pairing-code", json={"phone": "491512345678"}, headers=bob
    )
    assert_error(r, 404, "not_found")
    r = await api.client.post("/api/instances/x/pairing-code", json={"phone": "491512345678"})
    assert_error(r, 401, "unauthorized")


async def test_pairing_code_when_not_waiting_for_a_qr_is_409(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    connected = (await api.paired_instance(h))["id"]
    r = await api.client.post(
        f"/api/instances/{connected}/pairing-code", json={"phone": "491512345678"}, headers=h
    )
    body = assert_error(r, 409, "conflict")
    assert body["details"]["instanceStatus"] == "connected"
    await api.client.post(f"/api/instances/{connected}/logout", headers=h)
    await api.wait_status(connected, h, "logged_out")
    r = await api.client.post(
        f"/api/instances/{connected}/pairing-code", json={"phone": "491512345678"}, headers=h
    )
    assert assert_error(r, 409, "conflict")["details"]["instanceStatus"] == "logged_out"


async def test_pairing_code_on_the_unavailable_neonize_engine_is_409_not_5xx(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    iid = (await api.new_instance(h, engine="neonize"))["id"]
    await api.wait_status(iid, h, "disconnected")
    r = await api.client.post(
        f"/api/instances/{iid}/pairing-code", json={"phone": "491512345678"}, headers=h
    )
    assert_error(r, 409, "conflict")
    r = await api.client.post(f"/api/whatsapp/{iid}/check", json={"phones": [NOBODY]}, headers=h)
    assert_error(r, 409, "conflict")


# --- number check ---------------------------------------------------------------------------


async def test_check_finds_connected_sandbox_numbers_and_contacts_but_not_others(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    me = (await api.paired_instance(h))["id"]
    other = (await api.paired_instance(h, name="other"))["id"]
    other_phone = (await api.client.get(f"/api/instances/{other}", headers=h)).json()["phone"]
    book = (await api.client.get(f"/api/whatsapp/{me}/contacts", headers=h)).json()["contacts"]
    contact = next(c["number"] for c in book if not c["isGroup"])
    before = await api_calls(api, h, me)
    phones = [f"+{other_phone}", NOBODY, contact, other_phone]
    r = await api.client.post(f"/api/whatsapp/{me}/check", json={"phones": phones}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"phone": other_phone, "jid": f"{other_phone}@s.whatsapp.net", "exists": True},
        {"phone": NOBODY, "jid": None, "exists": False},
        {"phone": contact, "jid": f"{contact}@s.whatsapp.net", "exists": True},
    ]
    assert await api_calls(api, h, me) == before + 1
    # A number exists while its instance is connected, not after it logged out.
    await api.client.post(f"/api/instances/{other}/logout", headers=h)
    await api.wait_status(other, h, "logged_out")
    r = await api.client.post(f"/api/whatsapp/{me}/check", json={"phones": phones}, headers=h)
    assert r.json()[0] == {"phone": other_phone, "jid": None, "exists": False}


@pytest.mark.parametrize(
    ("body", "invalid"),
    [
        ({"phones": ["123", "+49 151 2345678", "call me", "0151 2345678"]}, ["123", "call me"]),
        ({"phones": []}, None),
        ({"phones": [f"4915100000{n:02d}" for n in range(51)]}, None),
        ({"phones": "491512345678"}, None),
        ({"phones": [491512345678]}, None),
        ({}, None),
    ],
)
async def test_check_bad_input_is_400(
    api: Api, body: dict[str, Any], invalid: list[str] | None
) -> None:
    h = await api.new_user("owner@example.com")
    iid = (await api.paired_instance(h))["id"]
    r = await api.client.post(f"/api/whatsapp/{iid}/check", json=body, headers=h)
    error = assert_error(r, 400, "validation_error")
    if invalid is not None:
        assert error["details"]["invalid"] == [*invalid, "0151 2345678"]
        assert "'call me'" in error["message"]


async def test_check_on_a_foreign_instance_is_404(api: Api) -> None:
    alice = await api.new_user("alice@example.com")
    bob = await api.new_user("bob@example.com")
    iid = (await api.paired_instance(alice))["id"]
    r = await api.client.post(f"/api/whatsapp/{iid}/check", json={"phones": [NOBODY]}, headers=bob)
    assert_error(r, 404, "not_found")


async def test_check_on_an_instance_not_connected_is_409(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    iid = await qr_instance(api, h)
    r = await api.client.post(f"/api/whatsapp/{iid}/check", json={"phones": [NOBODY]}, headers=h)
    assert assert_error(r, 409, "conflict")["details"]["instanceStatus"] == "qr"


# --- worker view ----------------------------------------------------------------------------


async def test_workers_view_is_for_admins(api: Api) -> None:
    r = await api.client.get("/api/engine/workers", headers=await api.admin())
    assert r.status_code == 200, r.text
    assert r.json() == {"workers": []}  # no instance runs in a worker on this server
    user = await api.new_user("owner@example.com")
    assert_error(await api.client.get("/api/engine/workers", headers=user), 403, "forbidden")
    assert_error(await api.client.get("/api/engine/workers"), 401, "unauthorized")


async def test_the_new_routes_are_documented_with_their_bodies(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in (
        ("/api/instances/{instance_id}/pairing-code", "post"),
        ("/api/whatsapp/{instance_id}/check", "post"),
        ("/api/engine/workers", "get"),
    ):
        assert "schema" in paths[path][method]["responses"]["200"]["content"]["application/json"]
    worker = spec["components"]["schemas"]["EngineWorker"]["properties"]
    assert set(worker) == {"id", "pid", "status", "instances", "rssBytes", "restarts", "startedAt"}
