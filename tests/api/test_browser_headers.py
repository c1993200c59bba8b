"""What browsers are told: nosniff on every answer (errors and refusals too), a policy that
forbids framing on /docs and /redoc, and CORS only for the origins in CORS_ORIGINS."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from domain.wire import WorkerInfo
from tests.conftest import Api, AppFactory

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


class BrokenWorkers:
    async def workers(self) -> list[WorkerInfo]:
        raise RuntimeError("an unexpected failure")


async def test_every_answer_says_nosniff(api_factory: AppFactory) -> None:
    api = await api_factory(ports={"engine_workers": BrokenWorkers()})
    headers = await api.admin()
    async with _unraised(api) as client:
        broken = await client.get("/api/engine/workers", headers=headers)
    answers = (
        await api.client.get("/healthz"),
        await api.client.get("/api/instances", headers=headers),
        await api.client.get("/api/instances"),  # 401
        await api.client.get("/api/nowhere"),  # 404
        await api.client.post("/api/auth/login", content=b"{", headers=headers),  # 400
        await api.client.post("/api/auth/login", content=b"x" * (2 * 1024 * 1024)),  # 413
        await api.client.post("/graphql", json={"query": "{ __typename }"}),
        await api.client.get("/openapi.json"),
        broken,  # 500
    )
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 401, 404, 400, 413, 200, 200, 500]
    for answer in answers:
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.request.url


def _unraised(api: Api) -> httpx.AsyncClient:
    """A client that gets the 500 answer (Starlette re-raises the error after sending it)."""
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_docs_pages_forbid_framing_and_allow_their_inline_scripts_by_hash(api: Api) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = await api.client.get(path)
        assert page.status_code == 200, path
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert page.headers["x-frame-options"] == "DENY"
        script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
        assert "'unsafe-inline'" not in script_src
        for script in INLINE_SCRIPT.findall(page.text):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script_src, path
    swagger = await api.client.get("/docs")
    assert "/openapi.json" in swagger.text
    assert "https://" not in swagger.headers["content-security-policy"]  # assets are local


async def test_cors_is_off_by_default(api: Api) -> None:
    preflight = await api.client.options(
        "/api/instances",
        headers={"origin": "https://app.example", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    answer = await api.client.get("/healthz", headers={"origin": "https://app.example"})
    assert "access-control-allow-origin" not in answer.headers


async def test_cors_origins_are_allowed_when_configured(api_factory: AppFactory) -> None:
    api = await api_factory(cors_origins="https://app.example, https://other.example")
    preflight = await api.client.options(
        "/api/instances",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    answer = await api.client.get("/healthz", headers={"origin": "https://other.example"})
    assert answer.headers["access-control-allow-origin"] == "https://other.example"
    stranger = await api.client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
