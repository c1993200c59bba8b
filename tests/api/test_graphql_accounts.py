"""GraphQL: login, the current user, API keys and user management (twins of the REST tests)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api

USER_FIELDS = "id email firstName lastName role isActive createdAt updatedAt lastLoginAt"

LOGIN = f"""
mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ token apiKey user {{ {USER_FIELDS} }} }}
}}
"""

ME = f"{{ me {{ {USER_FIELDS} }} }}"

CREATE_USER = f"""
mutation($input: NewUserInput!) {{
  createUser(input: $input) {{ apiKey user {{ {USER_FIELDS} }} userErrors {{ field code }} }}
}}
"""

USERS = f"""
query($limit: Int, $skip: Int) {{
  users(limit: $limit, skip: $skip) {{
    users {{ {USER_FIELDS} }}
    pagination {{ total limit skip hasMore }}
  }}
}}
"""

USER = f"query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"

UPDATE_USER = f"""
mutation($id: ID!, $input: UserChangesInput!) {{
  updateUser(id: $id, input: $input) {{ user {{ {USER_FIELDS} }} userErrors {{ field code }} }}
}}
"""

DELETE_USER = "mutation($id: ID!) { deleteUser(id: $id) { success message } }"

ROTATE = "mutation { rotateApiKey }"


def error_of(out: dict[str, Any]) -> dict[str, Any]:
    """The single error of a failed operation; the operation must have produced no data."""
    assert out.get("data") is None, out
    assert len(out["errors"]) == 1, out
    error = out["errors"][0]
    assert error["message"], out
    return error


def assert_error(out: dict[str, Any], code: str, status: int) -> dict[str, Any]:
    """Input errors of a mutation are `userErrors` in its payload (its user null): given
    back in a GraphQL error's shape (code, the field's name) for the checks below."""
    payload = next(iter((out.get("data") or {}).values()), None)
    if isinstance(payload, dict) and payload.get("userErrors"):
        assert "errors" not in out and payload["user"] is None, out
        assert code == "validation_error" and status == 400, out
        [user_error] = payload["userErrors"]
        assert user_error["code"] == code, out
        return {"extensions": {"code": code, "field": user_error["field"][-1]}}
    error = error_of(out)
    assert error["extensions"]["code"] == code, out
    assert error["extensions"]["status"] == status, out
    return error


async def login(
    api: Api, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> dict[str, Any]:
    out = await api.gql(LOGIN, {"email": email, "password": password})
    assert "errors" not in out, out
    return out["data"]["login"]


async def admin_headers(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await login(api))['token']}"}


async def me(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    out = await api.gql(ME, headers=headers)
    assert "errors" not in out, out
    return out["data"]["me"]


async def create_user(
    api: Api, admin: dict[str, str], email: str, password: str = "user-password-1", **extra: Any
) -> dict[str, Any]:
    out = await api.gql(
        CREATE_USER, {"input": {"email": email, "password": password, **extra}}, headers=admin
    )
    assert "errors" not in out, out
    return out["data"]["createUser"]


async def user_headers(api: Api, email: str) -> dict[str, str]:
    created = await create_user(api, await admin_headers(api), email)
    return {"x-api-key": created["apiKey"]}


# --- login and the current user -------------------------------------------------------------


async def test_login_returns_a_working_token_the_user_and_the_api_key(api: Api) -> None:
    body = await login(api)
    assert body["user"]["email"] == ADMIN_EMAIL
    assert body["user"]["role"] == "admin" and body["user"]["isActive"] is True
    assert body["user"]["lastLoginAt"] is not None and body["user"]["lastLoginAt"].endswith("Z")
    assert body["apiKey"].startswith("wmx_")
    assert body["token"].count(".") == 2  # a JWT
    by_token = await me(api, {"Authorization": f"Bearer {body['token']}"})
    assert by_token["id"] == body["user"]["id"]


async def test_login_with_a_wrong_password_or_unknown_email_is_unauthorized(api: Api) -> None:
    for email, password in ((ADMIN_EMAIL, "nope-nope"), ("who@example.com", "whatever1")):
        out = await api.gql(LOGIN, {"email": email, "password": password})
        error = assert_error(out, "unauthorized", 401)
        assert error["path"] == ["login"]
        assert error["message"] == "Invalid email or password"
    # Empty credentials are a validation error, not a failed login.
    out = await api.gql(LOGIN, {"email": "", "password": ""})
    assert_error(out, "validation_error", 400)


async def test_me_with_jwt_and_with_api_key_agree(api: Api) -> None:
    body = await login(api)
    by_jwt = await me(api, {"Authorization": f"Bearer {body['token']}"})
    by_key = await me(api, {"x-api-key": body["apiKey"]})
    assert by_jwt == by_key
    assert by_jwt["email"] == ADMIN_EMAIL and by_jwt["id"] == body["user"]["id"]
    assert by_jwt["createdAt"].endswith("Z") and len(by_jwt["createdAt"]) == 24


async def test_missing_or_bad_credentials_are_unauthorized(api: Api) -> None:
    operations: list[tuple[str, dict[str, Any]]] = [
        (ME, {}),
        (USERS, {}),
        ("{ instances { id } }", {}),
        (ROTATE, {}),
        (
            'mutation { createInstance(input: {name: "x", engine: sandbox}) { instance { id } } }',
            {},
        ),
    ]
    credentials: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic abc"},
        {"x-api-key": "wmx_wrong"},
    ]
    for query, variables in operations:
        for headers in credentials:
            out = await api.gql(query, variables, headers=headers)
            assert_error(out, "unauthorized", 401)
    # Nothing was created by the unauthenticated createInstance.
    out = await api.gql("{ instances { id } }", headers=await admin_headers(api))
    assert out["data"]["instances"] == []


async def test_rotate_api_key_replaces_the_old_key(api: Api) -> None:
    headers = await user_headers(api, "rot@example.com")
    out = await api.gql(ROTATE, headers=headers)
    assert "errors" not in out, out
    new_key = out["data"]["rotateApiKey"]
    assert new_key.startswith("wmx_") and new_key != headers["x-api-key"]
    assert_error(await api.gql(ME, headers=headers), "unauthorized", 401)
    assert (await me(api, {"x-api-key": new_key}))["email"] == "rot@example.com"
    assert (await login(api, "rot@example.com", "user-password-1"))["apiKey"] == new_key


async def test_rotate_api_key_with_a_jwt(api: Api) -> None:
    body = await login(api)
    out = await api.gql(ROTATE, headers={"Authorization": f"Bearer {body['token']}"})
    new_key = out["data"]["rotateApiKey"]
    assert new_key != body["apiKey"]
    assert_error(await api.gql(ME, headers={"x-api-key": body["apiKey"]}), "unauthorized", 401)
    assert (await me(api, {"x-api-key": new_key}))["role"] == "admin"


ROTATE_USER = """
mutation($id: ID!) {
  rotateUserApiKey(userId: $id) { apiKey user { id email } userErrors { field code } }
}
"""


async def test_admin_rotates_another_users_api_key(api: Api) -> None:
    created = await create_user(api, await admin_headers(api), "rotated@example.com")
    out = await api.gql(ROTATE_USER, {"id": created["user"]["id"]}, await admin_headers(api))
    assert "errors" not in out, out
    rotated = out["data"]["rotateUserApiKey"]
    assert rotated["userErrors"] == [] and rotated["user"]["email"] == "rotated@example.com"
    assert rotated["apiKey"].startswith("wmx_") and rotated["apiKey"] != created["apiKey"]
    assert_error(await api.gql(ME, headers={"x-api-key": created["apiKey"]}), "unauthorized", 401)
    assert (await me(api, {"x-api-key": rotated["apiKey"]}))["email"] == "rotated@example.com"


async def test_rotating_a_users_key_needs_an_admin_and_a_known_user(api: Api) -> None:
    admin = await admin_headers(api)
    plain = await user_headers(api, "plain@example.com")
    other = await create_user(api, admin, "other@example.com")
    out = await api.gql(ROTATE_USER, {"id": other["user"]["id"]}, plain)
    assert_error(out, "forbidden", 403)
    assert (await me(api, {"x-api-key": other["apiKey"]}))["email"] == "other@example.com"
    assert_error(await api.gql(ROTATE_USER, {"id": "no-such-user"}, admin), "not_found", 404)


# --- user management ----------------------------------------------------------------------


async def test_admin_creates_lists_reads_updates_and_deletes_users(api: Api) -> None:
    admin = await admin_headers(api)
    created = await create_user(api, admin, "Ann@Example.com", "password-1", firstName="Ann")
    user = created["user"]
    assert user["email"] == "ann@example.com" and user["role"] == "user"
    assert user["firstName"] == "Ann" and user["lastName"] == ""
    assert user["isActive"] is True and user["lastLoginAt"] is None
    assert created["apiKey"].startswith("wmx_")
    assert (await me(api, {"x-api-key": created["apiKey"]}))["id"] == user["id"]
    uid = user["id"]

    listed = (await api.gql(USERS, headers=admin))["data"]["users"]
    assert {u["email"] for u in listed["users"]} == {ADMIN_EMAIL, "ann@example.com"}
    assert listed["pagination"] == {"total": 2, "limit": 100, "skip": 0, "hasMore": False}
    first = (await api.gql(USERS, {"limit": 1, "skip": 0}, headers=admin))["data"]["users"]
    second = (await api.gql(USERS, {"limit": 1, "skip": 1}, headers=admin))["data"]["users"]
    assert first["pagination"] == {"total": 2, "limit": 1, "skip": 0, "hasMore": True}
    assert second["pagination"] == {"total": 2, "limit": 1, "skip": 1, "hasMore": False}
    assert {first["users"][0]["id"], second["users"][0]["id"]} == {u["id"] for u in listed["users"]}

    got = (await api.gql(USER, {"id": uid}, headers=admin))["data"]["user"]
    assert got == user

    out = await api.gql(
        UPDATE_USER,
        {"id": uid, "input": {"lastName": "Lee", "password": "password-2"}},
        headers=admin,
    )
    assert out["data"]["updateUser"]["userErrors"] == [], out
    updated = out["data"]["updateUser"]["user"]
    assert updated["lastName"] == "Lee" and updated["firstName"] == "Ann"
    assert updated["updatedAt"] >= user["updatedAt"]
    assert_error(
        await api.gql(LOGIN, {"email": "ann@example.com", "password": "password-1"}),
        "unauthorized",
        401,
    )
    await login(api, "ann@example.com", "password-2")

    out = await api.gql(DELETE_USER, {"id": uid}, headers=admin)
    assert out["data"]["deleteUser"] == {
        "success": True,
        "message": f"User {uid} deleted successfully",
    }
    assert_error(await api.gql(USER, {"id": uid}, headers=admin), "not_found", 404)
    assert_error(await api.gql(ME, headers={"x-api-key": created["apiKey"]}), "unauthorized", 401)
    listed = (await api.gql(USERS, headers=admin))["data"]["users"]
    assert [u["email"] for u in listed["users"]] == [ADMIN_EMAIL]


async def test_admin_can_create_another_admin(api: Api) -> None:
    admin = await admin_headers(api)
    created = await create_user(api, admin, "boss@example.com", role="admin")
    assert created["user"]["role"] == "admin"
    out = await api.gql(USERS, headers={"x-api-key": created["apiKey"]})
    assert out["data"]["users"]["pagination"]["total"] == 2


async def test_disabled_user_cannot_log_in_or_use_the_key(api: Api) -> None:
    admin = await admin_headers(api)
    created = await create_user(api, admin, "off@example.com")
    uid = created["user"]["id"]
    out = await api.gql(UPDATE_USER, {"id": uid, "input": {"isActive": False}}, headers=admin)
    assert out["data"]["updateUser"]["user"]["isActive"] is False
    assert_error(await api.gql(ME, headers={"x-api-key": created["apiKey"]}), "unauthorized", 401)
    out = await api.gql(LOGIN, {"email": "off@example.com", "password": "user-password-1"})
    assert_error(out, "unauthorized", 401)
    # Enabled again, the same key works again.
    await api.gql(UPDATE_USER, {"id": uid, "input": {"isActive": True}}, headers=admin)
    assert (await me(api, {"x-api-key": created["apiKey"]}))["id"] == uid


async def test_user_management_validation_conflicts_and_unknown_ids(api: Api) -> None:
    admin = await admin_headers(api)
    await create_user(api, admin, "dup@example.com")
    out = await api.gql(
        CREATE_USER,
        {"input": {"email": "DUP@example.com", "password": "password-1"}},
        headers=admin,
    )
    error = assert_error(out, "conflict", 409)
    assert error["extensions"]["field"] == "email"
    bad_inputs = [
        ({"email": "not-an-email", "password": "password-1"}, "email"),
        ({"email": "ok@example.com", "password": "short"}, "password"),
        (
            {"email": "ok@example.com", "password": "password-1", "firstName": "x" * 101},
            "firstName",
        ),
    ]
    for body, field in bad_inputs:
        error = assert_error(
            await api.gql(CREATE_USER, {"input": body}, headers=admin), "validation_error", 400
        )
        assert error["extensions"]["field"] == field, body
    # A missing required field is rejected by the schema itself.
    out = await api.gql(CREATE_USER, {"input": {"email": "ok@example.com"}}, headers=admin)
    assert out.get("data") is None and out["errors"]

    for query, variables in (
        (USER, {"id": "nope"}),
        (UPDATE_USER, {"id": "nope", "input": {"firstName": "x"}}),
        (DELETE_USER, {"id": "nope"}),
    ):
        error = assert_error(await api.gql(query, variables, headers=admin), "not_found", 404)
        assert "nope" in error["message"]
    uid = (await create_user(api, admin, "victim@example.com"))["user"]["id"]
    out = await api.gql(
        UPDATE_USER, {"id": uid, "input": {"email": "dup@example.com"}}, headers=admin
    )
    assert_error(out, "conflict", 409)
    out = await api.gql(UPDATE_USER, {"id": uid, "input": {"role": "root"}}, headers=admin)
    assert out.get("data") is None and "Role" in out["errors"][0]["message"], out  # an enum
    out = await api.gql(UPDATE_USER, {"id": uid, "input": {"password": "short"}}, headers=admin)
    assert_error(out, "validation_error", 400)
    assert (await api.gql(USER, {"id": uid}, headers=admin))["data"]["user"]["email"] == (
        "victim@example.com"
    )
    users = (await api.gql(USERS, headers=admin))["data"]["users"]["users"]
    assert sorted(u["email"] for u in users) == sorted(
        [ADMIN_EMAIL, "dup@example.com", "victim@example.com"]
    )


async def test_users_pagination_arguments_are_validated(api: Api) -> None:
    admin = await admin_headers(api)
    for variables in ({"limit": 0}, {"limit": 100_000}, {"skip": -1}):
        assert_error(await api.gql(USERS, variables, headers=admin), "validation_error", 400)


async def test_plain_user_is_forbidden_from_user_management(api: Api) -> None:
    headers = await user_headers(api, "plain@example.com")
    myself = await me(api, headers)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (USERS, {}),
        (USER, {"id": myself["id"]}),
        (CREATE_USER, {"input": {"email": "x@example.com", "password": "password-1"}}),
        (UPDATE_USER, {"id": myself["id"], "input": {"role": "admin"}}),
        (DELETE_USER, {"id": myself["id"]}),
    ]
    for query, variables in attempts:
        error = assert_error(await api.gql(query, variables, headers=headers), "forbidden", 403)
        assert error["message"], query
    assert (await me(api, headers))["role"] == "user"
    admin = await admin_headers(api)
    users = (await api.gql(USERS, headers=admin))["data"]["users"]["users"]
    assert "x@example.com" not in {u["email"] for u in users}


async def test_admin_cannot_delete_or_demote_itself(api: Api) -> None:
    admin = await admin_headers(api)
    myself = await me(api, admin)
    assert_error(await api.gql(DELETE_USER, {"id": myself["id"]}, headers=admin), "conflict", 409)
    out = await api.gql(UPDATE_USER, {"id": myself["id"], "input": {"role": "user"}}, headers=admin)
    assert_error(out, "conflict", 409)
    assert (await me(api, admin))["role"] == "admin"


async def test_client_errors_are_not_logged_as_server_errors(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await admin_headers(api)
    with caplog.at_level(logging.ERROR):
        assert_error(await api.gql(ME), "unauthorized", 401)
        assert_error(await api.gql(USER, {"id": "nope"}, headers=admin), "not_found", 404)
        out = await api.gql(CREATE_USER, {"input": {"email": "x", "password": "p"}}, headers=admin)
        assert_error(out, "validation_error", 400)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
