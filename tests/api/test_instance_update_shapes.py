"""PUT /api/instances/{id} takes the flat fields create takes and the nested webhookSettings;
it never drops a field silently and never moves updatedAt when nothing changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.clocked_app import admin_key, clock_at, clocked_api
from tests.conftest import Api

FLAT = {
    "notifyReceived": False,
    "notifySent": False,
    "notifyDelivery": True,
    "notifyRead": True,
    "maxRetries": 7,
    "retryInterval": 45000,
    "webhookSecret": "flat-secret",
    "headers": {"X-Flat": "1"},
}


async def detail(api: Api, iid: str, headers: dict[str, str]) -> dict[str, Any]:
    r = await api.client.get(f"/api/instances/{iid}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_flat_webhook_fields_are_applied(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.new_instance(headers))["id"]
    r = await api.client.put(f"/api/instances/{iid}", json=FLAT, headers=headers)
    assert r.status_code == 200, r.text
    settings = (await detail(api, iid, headers))["webhookSettings"]
    assert settings["notifyReceived"] is False and settings["notifySent"] is False
    assert settings["notifyDelivery"] is True and settings["notifyRead"] is True
    assert settings["maxRetries"] == 7 and settings["retryInterval"] == 45000
    assert settings["secret"] == "flat-secret" and settings["headers"] == {"X-Flat": "1"}
    assert r.json()["webhookSettings"] == settings


async def test_nested_settings_win_over_flat_ones(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.new_instance(headers))["id"]
    body = {
        **FLAT,
        "webhookSettings": {"maxRetries": 2, "secret": "nested-secret", "notifySent": True},
    }
    r = await api.client.put(f"/api/instances/{iid}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    settings = (await detail(api, iid, headers))["webhookSettings"]
    assert settings["maxRetries"] == 2 and settings["secret"] == "nested-secret"
    assert settings["notifySent"] is True
    # what only the flat fields said is applied too
    assert settings["retryInterval"] == 45000 and settings["headers"] == {"X-Flat": "1"}


async def test_unknown_fields_are_refused_by_name_and_change_nothing(api: Api) -> None:
    headers = await api.admin()
    iid = (await api.new_instance(headers))["id"]
    before = await detail(api, iid, headers)
    for body, names in (
        ({"name": "renamed", "engine": "neonize"}, ["engine"]),
        ({"webhookSettings": {"webhookSecret": "s"}}, ["webhookSecret"]),
        ({"notifyRecieved": True, "maxRetry": 3}, ["maxRetry", "notifyRecieved"]),
    ):
        r = await api.client.put(f"/api/instances/{iid}", json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
        error = r.json()
        assert error["error"] == "validation_error"
        for name in names:
            assert name in error["message"], (name, error["message"])
    after = await detail(api, iid, headers)
    assert after["name"] == before["name"]
    assert after["webhookSettings"] == before["webhookSettings"]


async def test_update_with_nothing_new_keeps_updated_at(tmp_path: Path) -> None:
    clock = clock_at()
    # one QR an hour: no engine event moves updatedAt while the test runs
    async with clocked_api(tmp_path, clock, sandbox_qr_interval_ms=3_600_000) as api:
        headers = await admin_key(api)
        iid = (await api.new_instance(headers, name="same", webhookUrl="http://127.0.0.1:9/h"))[
            "id"
        ]
        await api.wait_status(iid, headers, "qr")
        created = await detail(api, iid, headers)
        clock.advance(minutes=5)
        same = {
            "name": "same",
            "webhookUrl": "http://127.0.0.1:9/h",
            "webhookSettings": {"maxRetries": 3},
        }
        unchanged = (await detail(api, iid, headers))["webhookSettings"]["maxRetries"] == 3
        assert unchanged, "the default maxRetries moved; pick the current one"
        r = await api.client.put(f"/api/instances/{iid}", json=same, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["updatedAt"] == created["updatedAt"]
        r = await api.client.put(f"/api/instances/{iid}", json={}, headers=headers)
        assert r.status_code == 200 and r.json()["updatedAt"] == created["updatedAt"]

        r = await api.client.put(
            f"/api/instances/{iid}", json={"notifySent": False}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["updatedAt"] != created["updatedAt"]
        assert r.json()["webhookSettings"]["notifySent"] is False
