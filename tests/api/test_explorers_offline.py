"""GraphiQL, Swagger UI and ReDoc load nothing from outside this server: every script, style
and icon their pages name is a local path the app serves, byte-identical to the pinned npm
release (the integrity hashes Strawberry pins still hold), with its licence beside it."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from api.browser import PUBLIC_DIR
from tests.conftest import Api

ASSET = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"[^>]*>", re.S | re.I)
INTEGRITY = re.compile(r"\bintegrity=\"(sha384-[^\"]+)\"")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
PAGES = {
    "/graphql": {"accept": "text/html"},
    "/docs": {},
    "/redoc": {},
}


def _assets(html: str) -> list[tuple[str, str | None]]:
    """(address, integrity or None) of every <script src> and <link href> of a page."""
    found = []
    for match in ASSET.finditer(html):
        integrity = INTEGRITY.search(match.group(0))
        found.append((match.group(1), integrity.group(1) if integrity else None))
    return found


@pytest.mark.parametrize("path", list(PAGES))
async def test_each_asset_of_an_explorer_is_served_here(api: Api, path: str) -> None:
    page = await api.client.get(path, headers=PAGES[path])
    assert page.status_code == 200
    assert "https://" not in page.headers["content-security-policy"]
    assets = [a for a in _assets(page.text) if not a[0].startswith("data:")]
    assert len(assets) >= 2, assets  # at least a script and a style
    for address, integrity in assets:
        assert address.startswith("/vendor/"), address
        served = await api.client.get(address)
        assert served.status_code == 200, address
        suffix = address[address.rfind(".") :]
        assert CONTENT_TYPES[suffix] in served.headers["content-type"], address
        assert served.headers.get("x-content-type-options") == "nosniff"
        if integrity is not None:
            digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
            assert integrity == f"sha384-{digest}", address


async def test_graphiql_keeps_its_integrity_pins(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    pinned = [a for a in _assets(page.text) if a[1] is not None]
    assert len(pinned) == 7  # react, react-dom, js-cookie, graphiql js+css, explorer js+css


async def test_vendor_serves_nothing_outside_its_folder(api: Api) -> None:
    for path in ("/vendor/../pyproject.toml", "/vendor/%2e%2e/pyproject.toml", "/vendor/nope.js"):
        answer = await api.client.get(path)
        assert answer.status_code == 404, path


def test_every_vendored_package_carries_its_licence() -> None:
    packages = [p for p in (PUBLIC_DIR / "vendor").glob("**/?*@*") if p.is_dir()]
    assert len(packages) == 7
    for package in packages:
        licence = package / "LICENSE"
        if licence.exists():
            assert "MIT" in licence.read_text() or "Apache" in licence.read_text(), package
        else:  # @graphiql/plugin-explorer ships no licence file: package.json states it
            assert json.loads((package / "package.json").read_text())["license"] == "MIT"
