"""REST: login, the current user, API keys and user management."""

from __future__ import annotations

from pathlib import Path

from tests.backends import database_dump
from tests.clocked_app import clock_at, clocked_api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api


async def test_login_returns_token_and_user_as_the_spec(api: Api) -> None:
    body = await api.login()
    assert set(body) == {"token", "user"}
    assert body["user"]["email"] == ADMIN_EMAIL
    assert {"id", "email", "firstName", "lastName", "apiKey"} <= set(body["user"])
    assert body["user"]["apiKey"].startswith("wmx_")


async def test_login_with_wrong_password_is_401_json(api: Api) -> None:
    r = await api.client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope-nope"}
    )
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    r = await api.client.post(
        "/api/auth/login", json={"email": "who@x.io", "password": "whatever1"}
    )
    assert r.status_code == 401


async def test_login_bad_bodies_are_400(api: Api) -> None:
    for body in ({}, {"email": "a@b.c"}, {"email": 1, "password": 2}, [], "x"):
        r = await api.client.post("/api/auth/login", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == "validation_error"
    r = await api.client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400


async def test_me_with_jwt_and_with_api_key(api: Api) -> None:
    login = await api.login()
    by_jwt = await api.client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {login['token']}"}
    )
    by_key = await api.client.get("/api/auth/me", headers={"x-api-key": login["user"]["apiKey"]})
    assert by_jwt.status_code == by_key.status_code == 200
    assert by_jwt.json() == by_key.json()
    assert by_jwt.json()["email"] == ADMIN_EMAIL
    assert "apiKey" not in by_jwt.json() and "password" not in str(by_jwt.json())


async def test_missing_or_bad_credentials_are_401(api: Api) -> None:
    cases = [
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic abc"},
        {"x-api-key": "wmx_wrong"},
    ]
    for headers in cases:
        r = await api.client.get("/api/instances", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"] == "unauthorized"


async def test_expired_token_is_401(tmp_path: Path) -> None:
    # Expiry is read on the app's clock: a one-hour token works for an hour, then is refused.
    clock = clock_at()
    async with clocked_api(tmp_path, clock, jwt_expiration="1h") as api:
        token = (await api.login())["token"]
        r = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        clock.advance(minutes=59, seconds=59)
        r = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        clock.advance(seconds=1)
        r = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert "expired" in r.json()["message"].lower()
        token = (await api.login())["token"]  # a fresh token works
        r = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


async def test_rotate_api_key_invalidates_the_old_one(api: Api) -> None:
    headers = await api.new_user("rot@example.com")
    r = await api.client.post("/api/auth/api-key/rotate", headers=headers)
    assert r.status_code == 200
    new_key = r.json()["apiKey"]
    assert new_key != headers["x-api-key"]
    assert (await api.client.get("/api/auth/me", headers=headers)).status_code == 401
    me = await api.client.get("/api/auth/me", headers={"x-api-key": new_key})
    assert me.status_code == 200 and me.json()["email"] == "rot@example.com"
    login = await api.login("rot@example.com", "user-password-1")
    assert login["user"]["apiKey"] == new_key


async def test_admin_rotates_another_users_api_key(api: Api) -> None:
    admin = await api.admin()
    headers = await api.new_user("rotated@example.com")
    uid = (await api.client.get("/api/auth/me", headers=headers)).json()["id"]
    r = await api.client.post(f"/api/users/{uid}/api-key/rotate", headers=admin)
    assert r.status_code == 200, r.text
    new_key = r.json()["apiKey"]
    assert set(r.json()) == {"apiKey"} and new_key != headers["x-api-key"]
    old = await api.client.get("/api/auth/me", headers=headers)
    assert old.status_code == 401 and old.json()["error"] == "unauthorized"
    me = await api.client.get("/api/auth/me", headers={"x-api-key": new_key})
    assert me.status_code == 200 and me.json()["email"] == "rotated@example.com"
    assert (await api.client.get("/api/auth/me", headers=admin)).status_code == 200


async def test_rotating_a_users_key_needs_an_admin_and_a_known_user(api: Api) -> None:
    admin = await api.admin()
    plain = await api.new_user("plain@example.com")
    other = await api.new_user("other@example.com")
    other_id = (await api.client.get("/api/auth/me", headers=other)).json()["id"]
    r = await api.client.post(f"/api/users/{other_id}/api-key/rotate", headers=plain)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert (await api.client.get("/api/auth/me", headers=other)).status_code == 200
    r = await api.client.post("/api/users/no-such-user/api-key/rotate", headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text


async def test_admin_manages_users(api: Api) -> None:
    admin = await api.admin()
    r = await api.client.post(
        "/api/users",
        json={"email": "Ann@Example.com", "password": "password-1", "firstName": "Ann"},
        headers=admin,
    )
    assert r.status_code == 201
    user = r.json()
    assert user["email"] == "ann@example.com" and user["role"] == "user" and user["apiKey"]
    uid = user["id"]

    listed = (await api.client.get("/api/users", headers=admin)).json()
    assert {u["email"] for u in listed["users"]} == {ADMIN_EMAIL, "ann@example.com"}
    assert listed["pagination"] == {"total": 2, "limit": 100, "skip": 0, "hasMore": False}
    paged = (await api.client.get("/api/users?limit=1&skip=0", headers=admin)).json()
    assert len(paged["users"]) == 1 and paged["pagination"]["hasMore"] is True

    got = await api.client.get(f"/api/users/{uid}", headers=admin)
    assert got.json()["firstName"] == "Ann"
    r = await api.client.put(
        f"/api/users/{uid}", json={"lastName": "Lee", "password": "password-2"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["lastName"] == "Lee"
    await api.login("ann@example.com", "password-2")

    r = await api.client.delete(f"/api/users/{uid}", headers=admin)
    assert r.status_code == 200 and r.json()["success"] is True
    assert (await api.client.get(f"/api/users/{uid}", headers=admin)).status_code == 404
    assert (
        await api.client.get("/api/auth/me", headers={"x-api-key": user["apiKey"]})
    ).status_code == 401


async def test_user_management_errors(api: Api) -> None:
    admin = await api.admin()
    await api.new_user("dup@example.com")
    r = await api.client.post(
        "/api/users", json={"email": "dup@example.com", "password": "password-1"}, headers=admin
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    for body in (
        {"email": "not-an-email", "password": "password-1"},
        {"email": "ok@example.com", "password": "short"},
        {"email": "ok@example.com", "password": "password-1", "role": "root"},
        {"email": "ok@example.com"},
    ):
        r = await api.client.post("/api/users", json=body, headers=admin)
        assert r.status_code == 400, body
    assert (await api.client.get("/api/users/nope", headers=admin)).status_code == 404
    assert (await api.client.put("/api/users/nope", json={}, headers=admin)).status_code == 404
    assert (await api.client.delete("/api/users/nope", headers=admin)).status_code == 404
    users = (await api.client.get("/api/users", headers=admin)).json()["users"]
    assert len(users) == 2  # nothing was created by the failures


async def test_plain_user_cannot_manage_users(api: Api) -> None:
    headers = await api.new_user("plain@example.com")
    me = (await api.client.get("/api/auth/me", headers=headers)).json()
    assert (await api.client.get("/api/users", headers=headers)).status_code == 403
    r = await api.client.post(
        "/api/users", json={"email": "x@example.com", "password": "password-1"}, headers=headers
    )
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert (await api.client.get(f"/api/users/{me['id']}", headers=headers)).status_code == 403
    r = await api.client.put(f"/api/users/{me['id']}", json={"role": "admin"}, headers=headers)
    assert r.status_code == 403


async def test_admin_cannot_delete_or_demote_itself(api: Api) -> None:
    admin = await api.admin()
    me = (await api.client.get("/api/auth/me", headers=admin)).json()
    assert (await api.client.delete(f"/api/users/{me['id']}", headers=admin)).status_code == 409
    r = await api.client.put(f"/api/users/{me['id']}", json={"role": "user"}, headers=admin)
    assert r.status_code == 409
    assert (await api.client.get("/api/auth/me", headers=admin)).json()["role"] == "admin"


async def test_disabled_user_cannot_log_in_or_use_key(api: Api) -> None:
    admin = await api.admin()
    headers = await api.new_user("off@example.com")
    uid = (await api.client.get("/api/auth/me", headers=headers)).json()["id"]
    r = await api.client.put(f"/api/users/{uid}", json={"isActive": False}, headers=admin)
    assert r.status_code == 200 and r.json()["isActive"] is False
    assert (await api.client.get("/api/auth/me", headers=headers)).status_code == 401
    r = await api.client.post(
        "/api/auth/login", json={"email": "off@example.com", "password": "user-password-1"}
    )
    assert r.status_code == 401


async def test_database_file_holds_no_usable_secret(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    login = await api.login()
    api_key = login["user"]["apiKey"]
    dump = await database_dump(tmp_path)
    assert ADMIN_EMAIL in dump  # we are looking at the right file
    assert api_key not in dump
    assert ADMIN_PASSWORD not in dump
    assert "$argon2" in dump
