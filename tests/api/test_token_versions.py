"""A JWT issued before a password change, a deactivation or a demotion is 401 after it."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from migrations import alembic_config
from tests.api.test_graphql_accounts import ME, UPDATE_USER, assert_error
from tests.clocked_app import clock_at, clocked_api
from tests.conftest import Api, make_settings

CHANGES: dict[str, dict[str, Any]] = {
    "password": {"password": "changed-password-1"},
    "deactivation": {"isActive": False},
    "demotion": {"role": "user"},
}


async def new_admin(api: Api, email: str) -> tuple[str, str]:
    """Another admin (demoting or disabling the only one is refused); its id and JWT."""
    r = await api.client.post(
        "/api/users",
        json={"email": email, "password": "user-password-1", "role": "admin"},
        headers=await api.admin(),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], (await api.login(email, "user-password-1"))["token"]


@pytest.mark.parametrize("change", list(CHANGES))
async def test_rest_refuses_a_token_issued_before_the_change(api: Api, change: str) -> None:
    user_id, token = await new_admin(api, "second@example.com")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/auth/me", headers=bearer)).status_code == 200
    r = await api.client.put(
        f"/api/users/{user_id}", json=CHANGES[change], headers=await api.admin()
    )
    assert r.status_code == 200, r.text
    if change == "deactivation":  # active again: the old token stays revoked all the same
        r = await api.client.put(
            f"/api/users/{user_id}", json={"isActive": True}, headers=await api.admin()
        )
        assert r.status_code == 200, r.text
    answer = await api.client.get("/api/auth/me", headers=bearer)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert "revoked" in answer.json()["message"]
    password = CHANGES[change].get("password", "user-password-1")
    fresh = (await api.login("second@example.com", password))["token"]
    me = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status_code == 200, me.text


@pytest.mark.parametrize("change", list(CHANGES))
async def test_graphql_refuses_a_token_issued_before_the_change(api: Api, change: str) -> None:
    user_id, token = await new_admin(api, "second@example.com")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await api.gql(ME, headers=bearer))["data"]["me"]["id"] == user_id
    out = await api.gql(
        UPDATE_USER, {"id": user_id, "input": CHANGES[change]}, headers=await api.admin()
    )
    assert "errors" not in out, out
    assert_error(await api.gql(ME, headers=bearer), "unauthorized", 401)


async def test_other_changes_and_the_api_key_are_unaffected(api: Api) -> None:
    user_id, token = await new_admin(api, "second@example.com")
    key = (await api.login("second@example.com", "user-password-1"))["user"]["apiKey"]
    r = await api.client.put(
        f"/api/users/{user_id}", json={"firstName": "Renamed"}, headers=await api.admin()
    )
    assert r.status_code == 200, r.text
    me = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["firstName"] == "Renamed"
    r = await api.client.put(
        f"/api/users/{user_id}", json={"password": "changed-password-1"}, headers=await api.admin()
    )
    assert r.status_code == 200, r.text
    assert (await api.client.get("/api/auth/me", headers={"x-api-key": key})).status_code == 200


async def test_an_upgraded_database_keeps_existing_users_and_their_tokens(tmp_path: Path) -> None:
    """Migration 0005_token_version: users from before start at version 0, which is what a
    token without a version claim (issued before the upgrade) is read as."""
    clock = clock_at()
    async with clocked_api(tmp_path, clock) as api:
        admin_id = (await api.login())["user"]["id"]
    db = tmp_path / "whatsapp-api.db"
    # the database as the release before token versions left it
    old = create_engine(f"sqlite:///{db}")
    with old.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0004_sealed_webhook_secrets")
    old.dispose()
    with sqlite3.connect(db) as conn:
        assert "token_version" not in {c[1] for c in conn.execute("PRAGMA table_info(users)")}
    async with clocked_api(tmp_path, clock) as api:
        with sqlite3.connect(db) as conn:
            version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            assert version == [(ScriptDirectory.from_config(alembic_config()).get_current_head(),)]
            assert conn.execute("SELECT token_version FROM users").fetchall() == [(0,)]
        now = clock.now()
        legacy = jwt.encode(
            {"sub": admin_id, "role": "admin", "iat": now, "exp": now + timedelta(hours=1)},
            make_settings(tmp_path).jwt_secret or "",
            algorithm="HS256",
        )
        bearer = {"Authorization": f"Bearer {legacy}"}
        me = await api.client.get("/api/auth/me", headers=bearer)
        assert me.status_code == 200, me.text
