"""GraphiQL and Swagger UI render in a real browser (Debian's Chromium, headless) with no
network beyond 127.0.0.1: every request the pages make is watched, and one to any other host
fails the test. `make test` installs Chromium from Debian's packages; nothing is downloaded."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

from tests.e2e.conftest import Client, ServerProcess, StartServer

CHROMIUM = Path("/usr/bin/chromium")
HAS_CHROMIUM = CHROMIUM.exists()
pytestmark = pytest.mark.e2e


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert HAS_CHROMIUM, "Debian's chromium is missing: `apt-get install chromium`"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        yield browser
        await browser.close()


async def _offline_page(browser: Browser, foreign: list[str]) -> Page:
    """A page whose requests to any host but 127.0.0.1 are refused and recorded."""
    page = await browser.new_page()

    async def guard(route: Route) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if route.request.url.startswith("data:") or host == "127.0.0.1":
            await route.continue_()
        else:
            foreign.append(route.request.url)
            await route.abort()

    await page.route("**/*", guard)
    return page


async def test_graphiql_runs_a_query_and_shows_the_schema_offline(
    browser: Browser,
    start_server: StartServer,
    client_for: Callable[[ServerProcess], Client],
) -> None:
    server = await start_server()
    headers = await client_for(server).admin_headers()
    foreign: list[str] = []
    page = await _offline_page(browser, foreign)
    query = "{ me { email role } }"
    address = f"{server.base_url}/graphql?" + urllib.parse.urlencode(
        {"q": query, "headers": json.dumps(headers)}, quote_via=urllib.parse.quote
    )  # the page decodes with decodeURIComponent: spaces as %20, not +
    await page.goto(address)
    await page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    await response.get_by_text("admin@example.com").wait_for(timeout=15_000)
    assert '"role": "admin"' in await response.inner_text()
    await page.get_by_label("Show Documentation Explorer").click()
    await page.get_by_text("Root Types").wait_for(timeout=15_000)
    assert foreign == []


async def test_swagger_ui_lists_the_operations_offline(
    browser: Browser, start_server: StartServer
) -> None:
    server = await start_server()
    foreign: list[str] = []
    page = await _offline_page(browser, foreign)
    await page.goto(f"{server.base_url}/docs")
    operations = page.locator(".opblock")
    await operations.first.wait_for(timeout=15_000)
    shown = await page.locator(".opblock-summary-path").all_inner_texts()
    paths = [p.replace("\u200b", "") for p in shown]  # Swagger UI's wrapping points
    assert "/api/whatsapp/{instance_id}/send" in paths, paths[:5]
    assert await operations.count() >= 30
    assert foreign == []
