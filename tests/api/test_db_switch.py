"""GET /api/db/status, POST /api/db/switch and their GraphQL twins: shapes, admin only, bad
bodies, refusals that leave the old provider serving, and the choice kept across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from adapters.security import FernetBox
from adapters.storage.sql.uow import SqlStorage
from api.databases import postgres_async_url
from tests.conftest import Api
from tests.services.pg_fixture import NewDatabase, pg_database  # noqa: F401

AppFactory = Callable[..., Any]
STATUS = "{ databaseStatus { provider url healthy counts { kind count } } }"
SWITCH = """mutation($p: String!, $m: Boolean!) {
  switchDatabase(provider: $p, migrate: $m) {
    success message provider migrated { kind count } userErrors { field code message }
  }
}"""
CLOSED_PORT = "postgresql://postgres@127.0.0.1:9/nothing"


async def _status(api: Api, h: dict[str, str]) -> dict[str, Any]:
    r = await api.client.get("/api/db/status", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_status_names_the_provider_masks_the_url_and_counts_records(
    api_factory: AppFactory, tmp_path: Path
) -> None:
    api = await api_factory(postgres_database_url="postgresql://postgres:s3cret@127.0.0.1:9/x")
    h = await api.admin()
    body = await _status(api, h)
    assert body["provider"] == "sqlite"
    assert body["url"] == f"file:{tmp_path / 'whatsapp-api.db'}"
    assert body["healthy"] is True
    assert body["counts"]["users"] == 1 and body["counts"]["instances"] == 0
    data = (await api.gql(STATUS, headers=h))["data"]["databaseStatus"]
    assert data["provider"] == "sqlite" and data["healthy"] is True
    assert {"kind": "users", "count": 1} in data["counts"]
    # A PostgreSQL URL shown anywhere has its password masked.
    assert api.container.databases._backends.configured("postgresql") == (
        "postgresql://postgres:***@127.0.0.1:9/x"
    )


async def test_db_routes_are_for_admins_only(api: Api) -> None:
    user = await api.new_user("u@example.com")
    r = await api.client.get("/api/db/status", headers=user)
    assert r.status_code == 403, r.text
    r = await api.client.post("/api/db/switch", json={"provider": "postgresql"}, headers=user)
    assert r.status_code == 403, r.text
    assert (await api.client.get("/api/db/status")).status_code == 401
    assert (await api.client.post("/api/db/switch", json={"provider": "x"})).status_code == 401
    errors = (await api.gql(STATUS, headers=user))["errors"]
    assert errors[0]["extensions"]["code"] == "forbidden"
    errors = (await api.gql(SWITCH, {"p": "postgresql", "m": True}, headers=user))["errors"]
    assert errors[0]["extensions"]["code"] == "forbidden"


async def test_bad_bodies_are_400_and_change_nothing(api: Api, tmp_path: Path) -> None:
    h = await api.admin()
    before = await _status(api, h)
    for body in ({}, {"provider": 5}, {"provider": "oracle"}, {"provider": "sqlite", "migrate": 3}):
        r = await api.client.post("/api/db/switch", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == "validation_error"
    # PostgreSQL without POSTGRES_DATABASE_URL, MongoDB without DATABASE_URL: not configured.
    for provider in ("postgresql", "mongodb"):
        r = await api.client.post("/api/db/switch", json={"provider": provider}, headers=h)
        assert r.status_code == 400, r.text
        assert r.json()["details"]["reason"] == "not_configured"
    r = await api.client.post("/api/db/switch", json={"provider": "sqlite"}, headers=h)
    assert r.status_code == 409 and r.json()["details"]["reason"] == "current_provider"
    out = (await api.gql(SWITCH, {"p": "oracle", "m": False}, headers=h))["data"]
    assert out["switchDatabase"]["success"] is False
    assert out["switchDatabase"]["userErrors"][0]["code"] == "validation_error"
    assert await _status(api, h) == before
    assert not (tmp_path / "database.json").exists()


async def test_unreachable_target_is_refused_and_the_old_provider_keeps_serving(
    api_factory: AppFactory, tmp_path: Path
) -> None:
    api = await api_factory(postgres_database_url=CLOSED_PORT)
    h = await api.admin()
    r = await api.client.post(
        "/api/db/switch", json={"provider": "postgresql", "migrate": True}, headers=h
    )
    assert r.status_code == 409, r.text
    assert r.json()["details"]["reason"] == "target_unreachable"
    out = (await api.gql(SWITCH, {"p": "postgresql", "m": False}, headers=h))["data"]
    assert out["switchDatabase"]["success"] is False
    assert out["switchDatabase"]["provider"] == "sqlite"
    assert out["switchDatabase"]["userErrors"][0]["code"] == "target_unreachable"
    # Still serving, on SQLite: writes and reads work, nothing was persisted.
    instance = await api.new_instance(h)
    body = await _status(api, h)
    assert body["provider"] == "sqlite" and body["counts"]["instances"] == 1
    r = await api.client.get(f"/api/instances/{instance['id']}", headers=h)
    assert r.status_code == 200
    assert (await api.client.get("/readyz")).json()["storage"] == "sqlite"
    assert not (tmp_path / "database.json").exists()


async def test_a_second_switch_while_one_runs_is_409(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
) -> None:
    api = await api_factory(postgres_database_url=await pg_database())
    h = await api.admin()
    body = {"provider": "postgresql", "migrate": True}
    first, second = await asyncio.gather(
        api.client.post("/api/db/switch", json=body, headers=h),
        api.client.post("/api/db/switch", json=body, headers=h),
    )
    codes = sorted([first.status_code, second.status_code])
    assert codes == [200, 409], (first.text, second.text)
    refused = first if first.status_code == 409 else second
    assert refused.json()["details"]["reason"] in {"switch_running", "current_provider"}
    assert (await _status(api, h))["provider"] == "postgresql"


async def test_a_target_holding_other_records_is_refused_with_migrate(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
) -> None:
    url = await pg_database()
    other = await api_factory(data_dir=tmp_path / "other", database_provider="postgresql",
                              postgres_database_url=url)  # fmt: skip
    await other.new_user("someone@example.com")
    api = await api_factory(data_dir=tmp_path / "main", postgres_database_url=url)
    h = await api.admin()
    r = await api.client.post(
        "/api/db/switch", json={"provider": "postgresql", "migrate": True}, headers=h
    )
    assert r.status_code == 409, r.text
    assert r.json()["details"]["reason"] == "target_not_empty"
    assert (await _status(api, h))["provider"] == "sqlite"


async def test_the_choice_survives_a_restart_and_wins_over_database_provider(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = {"postgres_database_url": await pg_database(), "database_provider": "sqlite"}
    api = await api_factory(data_dir=data, **settings)
    h = await api.admin()
    await api.new_user("kept@example.com")
    out = (await api.gql(SWITCH, {"p": "postgresql", "m": True}, headers=h))["data"]
    payload = out["switchDatabase"]
    assert payload["success"] is True and payload["userErrors"] == []
    assert payload["message"] == "Database provider switched to postgresql"
    assert {"kind": "users", "count": 2} in payload["migrated"]
    choice = data / "database.json"
    assert json.loads(choice.read_text()) == {"provider": "postgresql"}
    assert stat.S_IMODE(os.stat(choice).st_mode) == 0o600
    # Written after the switch: only on PostgreSQL.
    await api.new_user("after@example.com")

    again = await api_factory(data_dir=data, **settings)
    h = await again.admin()
    body = await _status(again, h)
    assert body["provider"] == "postgresql" and body["counts"]["users"] == 3
    assert body["url"] == settings["postgres_database_url"]
    r = await again.client.get("/api/users", headers=h)
    emails = {u["email"] for u in r.json()["users"]}
    assert {"kept@example.com", "after@example.com"} <= emails


async def test_switching_back_onto_an_untouched_previous_copy_copies_nothing(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
) -> None:
    api = await api_factory(postgres_database_url=await pg_database())
    h = await api.admin()  # one login: nothing is written between the two switches
    there = await api.client.post(
        "/api/db/switch", json={"provider": "postgresql", "migrate": True}, headers=h
    )
    assert there.status_code == 200, there.text
    back = await api.client.post(
        "/api/db/switch", json={"provider": "sqlite", "migrate": True}, headers=h
    )
    assert back.status_code == 200, back.text
    assert back.json()["migrated"] == there.json()["migrated"]
    assert (await _status(api, h))["provider"] == "sqlite"
    assert (await api.client.get("/readyz")).json()["storage"] == "sqlite"


async def test_without_migrate_the_target_is_used_as_it_is(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
) -> None:
    url = await pg_database()
    other = await api_factory(
        data_dir=tmp_path / "other", database_provider="postgresql", postgres_database_url=url
    )
    theirs = await other.new_instance(await other.admin(), name="theirs")
    api = await api_factory(data_dir=tmp_path / "main", postgres_database_url=url)
    h = await api.admin()
    ours = await api.paired_instance(h, name="ours")
    r = await api.client.post("/api/db/switch", json={"provider": "postgresql"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "success": True,
        "message": "Database provider switched to postgresql",
        "provider": "postgresql",
        "migrated": None,
    }
    # The same admin (email and password) exists there; its token's user id does not.
    h = await api.admin()
    found = (await api.client.get("/api/instances", headers=h)).json()
    names = {i["name"] for i in found["instances"]}
    assert names == {"theirs"}
    r = await api.client.get(f"/api/instances/{ours['id']}", headers=h)
    assert r.status_code == 404
    r = await api.client.get(f"/api/instances/{theirs['id']}", headers=h)
    assert r.status_code == 200


async def _break(url: str, how: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if how == "migration_failed":  # a revision this release does not know
            await conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            await conn.execute("INSERT INTO alembic_version VALUES ('not-a-revision')")
        else:  # migrated, then a column no record fills: the first insert fails
            storage = SqlStorage(postgres_async_url(url), FernetBox("k" * 32))
            try:
                await storage.migrate()
            finally:
                await storage.close()
            await conn.execute("ALTER TABLE users ADD COLUMN extra text NOT NULL")
    finally:
        await conn.close()


@pytest.mark.parametrize("how", ["migration_failed", "copy_failed"])
async def test_a_target_that_fails_leaves_the_old_provider_serving(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
    how: str,
) -> None:
    url = await pg_database()
    await _break(url, how)
    api = await api_factory(postgres_database_url=url)
    h = await api.admin()
    r = await api.client.post(
        "/api/db/switch", json={"provider": "postgresql", "migrate": True}, headers=h
    )
    assert r.status_code == 409, r.text
    assert r.json()["details"]["reason"] == how
    assert "Background on this error" not in r.json()["message"]
    await api.new_user("still@example.com")
    body = await _status(api, h)
    assert body["provider"] == "sqlite" and body["counts"]["users"] == 2
    assert not (tmp_path / "database.json").exists()


async def test_a_catch_up_that_fails_leaves_the_old_provider_serving_what_changed(
    pg_database: NewDatabase,  # noqa: F811
    api_factory: AppFactory,
    tmp_path: Path,
) -> None:
    """The bulk copy succeeds; a write made meanwhile cannot be caught up (the target lost
    its table): the switch is refused, and the old database still serves that write."""
    url = await pg_database()
    api = await api_factory(postgres_database_url=url)
    h = await api.admin()
    inst = await api.new_instance(h, name="before")
    broken: list[str] = []

    async def hook(kind: str) -> None:
        if kind == "activity_logs" and broken == []:  # copied: a table the bulk is done with
            r = await api.client.put(
                f"/api/instances/{inst['id']}", json={"name": "during"}, headers=h
            )
            assert r.status_code == 200, r.text
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("DROP TABLE activity_logs")
            finally:
                await conn.close()
            broken.append(kind)

    api.container.databases.after_bulk_batch = hook
    r = await api.client.post(
        "/api/db/switch", json={"provider": "postgresql", "migrate": True}, headers=h
    )
    assert broken and r.status_code == 409, r.text
    assert r.json()["details"]["reason"] == "copy_failed"
    assert r.json()["message"].startswith("Catching up failed")
    assert (await _status(api, h))["provider"] == "sqlite"
    found = await api.client.get(f"/api/instances/{inst['id']}", headers=h)
    assert found.json()["name"] == "during"
    assert not (tmp_path / "database.json").exists()
