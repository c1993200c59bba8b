"""Login throttling through REST and GraphQL, on the app's injected clock (no sleeping)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_graphql_accounts import LOGIN, assert_error
from tests.clocked_app import clock_at, clocked_api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api

SMALL = {
    "login_throttle_account_attempts": 3,
    "login_throttle_address_attempts": 6,
    "login_throttle_base_delay_ms": 2_000,
    "login_throttle_max_delay_ms": 30_000,
}


async def attempt(api: Api, password: str, email: str = ADMIN_EMAIL) -> httpx.Response:
    return await api.client.post("/api/auth/login", json={"email": email, "password": password})


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["error"] == "too_many_attempts"
    assert body["details"] == {"retryAfter": int(answer.headers["retry-after"])}
    return int(answer.headers["retry-after"])


async def test_fifty_wrong_passwords_then_the_right_one_is_429(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: 50 wrong passwords in 8 s, then the right one."""
    clock = clock_at()
    with caplog.at_level(logging.WARNING, logger="domain.login_throttle"):
        async with clocked_api(tmp_path, clock) as api:
            codes = []
            for _ in range(50):
                codes.append((await attempt(api, "wrong-password")).status_code)
                clock.advance(milliseconds=160)
            assert codes[:5] == [401] * 5  # the default allowance: 5 per account
            assert 429 in codes[5:] and set(codes[5:]) <= {401, 429}
            assert codes.count(401) <= 8  # the locks double: 1, 2, 4 s, ... within 8 s
            assert retry_after(await attempt(api, ADMIN_PASSWORD)) >= 1
    throttled = [r for r in caplog.records if "login throttled" in r.getMessage()]
    assert throttled and f"account:{ADMIN_EMAIL}" in throttled[0].getMessage()


async def test_delays_grow_and_the_right_password_works_after_the_lock(tmp_path: Path) -> None:
    clock = clock_at()
    async with clocked_api(tmp_path, clock, **SMALL) as api:
        for _ in range(3):
            assert (await attempt(api, "wrong-password")).status_code == 401
        waits = []
        for _ in range(3):
            wait = retry_after(await attempt(api, ADMIN_PASSWORD))  # right, but locked
            waits.append(wait)
            clock.advance(seconds=wait - 1)
            retry_after(await attempt(api, ADMIN_PASSWORD))  # a second early: still locked
            clock.advance(seconds=1)
            assert (await attempt(api, "wrong-password")).status_code == 401
        assert waits == [2, 4, 8]
        clock.advance(seconds=16)
        assert (await attempt(api, ADMIN_PASSWORD)).status_code == 200


async def test_the_account_lock_holds_from_every_address(tmp_path: Path) -> None:
    clock = clock_at()
    async with clocked_api(tmp_path, clock, **SMALL) as api:
        for _ in range(3):
            assert (await attempt(api, "wrong-password")).status_code == 401
        other_transport = httpx.ASGITransport(app=api.app, client=("192.0.2.10", 4000))
        async with httpx.AsyncClient(transport=other_transport, base_url="http://test") as other:
            answer = await other.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
        assert retry_after(answer) == 2


async def test_one_address_is_throttled_across_accounts(tmp_path: Path) -> None:
    clock = clock_at()
    async with clocked_api(tmp_path, clock, **SMALL) as api:
        headers = {"x-api-key": str((await api.login())["user"]["apiKey"])}
        r = await api.client.post(
            "/api/users",
            json={"email": "u@example.com", "password": "user-password-1"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        # six accounts that do not exist, one guess each, from the same address
        for n in range(6):
            assert (await attempt(api, "guess", f"nobody{n}@example.com")).status_code == 401
        # a real user with the right password, from that address: refused too
        assert retry_after(await attempt(api, "user-password-1", "u@example.com")) == 2
        # ...and from another address it works: the account itself is not locked
        other_transport = httpx.ASGITransport(app=api.app, client=("192.0.2.10", 4000))
        async with httpx.AsyncClient(transport=other_transport, base_url="http://test") as other:
            ok = await other.post(
                "/api/auth/login", json={"email": "u@example.com", "password": "user-password-1"}
            )
        assert ok.status_code == 200, ok.text


async def test_graphql_login_is_throttled_too(tmp_path: Path) -> None:
    clock = clock_at()
    async with clocked_api(tmp_path, clock, **SMALL) as api:
        variables: dict[str, Any] = {"email": ADMIN_EMAIL, "password": "wrong-password"}
        for _ in range(3):
            assert_error(await api.gql(LOGIN, variables), "unauthorized", 401)
        variables["password"] = ADMIN_PASSWORD
        error = assert_error(await api.gql(LOGIN, variables), "too_many_attempts", 429)
        assert error["extensions"]["retryAfter"] == 2
        # REST and GraphQL share the count
        assert retry_after(await attempt(api, ADMIN_PASSWORD)) == 2


async def test_the_openapi_document_declares_the_429(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert "429" in document["paths"]["/api/auth/login"]["post"]["responses"]
