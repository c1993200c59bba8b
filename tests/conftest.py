"""Shared fixtures: a real app on a real SQLite file, driven through httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.bootstrap import build
from api.settings import Settings
from tests.backends import BACKEND, SUBSET, storage_overrides
from tests.fakes.webhooks import StaticResolver

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "jwt_secret": "test-secret-" + "x" * 32,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "whatsapp_engine": "sandbox",
        "sandbox_qr_delay_ms": 50,
        "sandbox_qr_interval_ms": 20_000,
        "sandbox_reconnect_delay_ms": 50,
        # neonize workers dial through a closed local port: refused at once, nothing leaves.
        "engine_proxy_url": "http://127.0.0.1:9",
        # Tests aim webhooks at receivers on 127.0.0.1 as plain users; the target policy
        # itself is tested with its own values (tests/api/test_webhook_targets.py).
        "webhook_private_urls": "allow",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


class Api:
    """An httpx client bound to the app, with helpers for auth and GraphQL."""

    def __init__(self, client: httpx.AsyncClient, app: Any) -> None:
        self.client = client
        self.app = app

    @property
    def container(self) -> Any:
        return self.app.state.container

    async def login(
        self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
    ) -> dict[str, Any]:
        r = await self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    async def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {(await self.login())['token']}"}

    async def new_user(self, email: str, password: str = "user-password-1") -> dict[str, str]:
        """Creates a user (as admin) and returns x-api-key headers for it."""
        r = await self.client.post(
            "/api/users",
            json={"email": email, "password": password, "firstName": "Test", "lastName": "User"},
            headers=await self.admin(),
        )
        assert r.status_code == 201, r.text
        return {"x-api-key": r.json()["apiKey"]}

    async def new_instance(self, headers: dict[str, str], /, **body: Any) -> dict[str, Any]:
        payload = {"name": "test instance", "engine": "sandbox", **body}
        r = await self.client.post("/api/instances", json=payload, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def wait_status(
        self, instance_id: str, headers: dict[str, str], status: str, within: float = 5.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            r = await self.client.get(f"/api/instances/{instance_id}/status", headers=headers)
            assert r.status_code == 200, r.text
            if r.json()["status"] == status:
                return r.json()
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"status stayed {r.json()['status']!r}, wanted {status!r}")
            await asyncio.sleep(0.02)

    async def paired_instance(self, headers: dict[str, str], /, **body: Any) -> dict[str, Any]:
        instance = await self.new_instance(headers, **body)
        await self.wait_status(instance["id"], headers, "qr")
        r = await self.client.post(f"/api/sandbox/{instance['id']}/scan", json={}, headers=headers)
        assert r.status_code == 200, r.text
        await self.wait_status(instance["id"], headers, "connected")
        return instance

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
        )
        assert r.status_code == 200, r.text
        return r.json()


AppFactory = Callable[..., Awaitable[Api]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a backend other than SQLite, only the end-to-end subset runs (tests/backends.py)."""
    if BACKEND == "sqlite":
        return
    root = Path(str(config.rootpath))
    keep = {root / name for name in SUBSET}
    chosen = [item for item in items if Path(str(item.path)) in keep]
    config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
    items[:] = chosen


@pytest.fixture
async def api_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Starts apps (lifespan included) on a SQLite file in tmp_path; closes them at the end."""
    stack: list[Any] = []

    async def start(
        data_dir: Path | None = None, ports: dict[str, Any] | None = None, **overrides: Any
    ) -> Api:
        """`ports` replace adapters by bootstrap.build()'s keywords; `overrides` are settings.

        Host names resolve through a StaticResolver (only `localhost`) unless `ports` gives
        a resolver: no test asks a real DNS server or posts beyond 127.0.0.1."""
        data_dir = data_dir or tmp_path
        storage = await storage_overrides(data_dir)
        settings = make_settings(data_dir, **{**storage, **overrides})
        app = create_app(
            settings, build(settings, **{"resolver": StaticResolver(), **(ports or {})})
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        stack.append((client, lifespan))
        return Api(client, app)

    yield start
    for client, lifespan in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> Api:
    return await api_factory()
