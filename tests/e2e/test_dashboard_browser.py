"""The dashboard at `/` in a real browser (Debian's Chromium, headless) against a real server
on the sandbox engine: login, create an instance, pair it through the sandbox API and watch
the page turn connected, send a message and watch its ticks move, see an incoming message
arrive live, open the usage chart, and see a failed login's message. One server and one
browser serve the whole module; every wait is on page state, never a fixed sleep.

The screens are saved at desktop and phone width in build/screenshots/ (`make screenshots`:
docs/screenshots/, where the README shows two).
"""

from __future__ import annotations

import os
import re
import signal
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess
from tests.webhook_receiver import WebhookReceiver

CHROMIUM = Path("/usr/bin/chromium")
HAS_CHROMIUM = CHROMIUM.exists()
# Saved where the README says (build/ is ignored by git, so a test run leaves the tree clean);
# `make screenshots` saves them into docs/screenshots/, the copies the README shows.
SCREENSHOTS = Path(
    os.environ.get("WAMUX_SCREENSHOTS_DIR")
    or Path(__file__).resolve().parents[2] / "build" / "screenshots"
)
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 20_000  # generous: the CI machine is loaded
OUTSIDE = "+49 151 0000 0002"

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Dashboard:
    server: ServerProcess
    browser: Browser
    http: httpx.AsyncClient
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)  # what one test leaves for the next

    async def context(self, viewport: dict[str, int], token: str | None = None) -> BrowserContext:
        """A browser context whose requests to any host but 127.0.0.1 are refused (and
        recorded), whose script errors are recorded, and (with `token`) already signed in."""
        context = await self.browser.new_context(viewport=viewport)  # type: ignore[arg-type]

        async def guard(route: Route) -> None:
            host = urllib.parse.urlsplit(route.request.url).hostname
            if route.request.url.startswith("data:") or host == "127.0.0.1":
                await route.continue_()
            else:
                self.foreign.append(route.request.url)
                await route.abort()

        await context.route("**/*", guard)
        if token:
            store = f"sessionStorage.setItem('wamux.token', {token!r})"
            # not on about:blank, which has no storage
            await context.add_init_script(f"if (location.protocol === 'http:') {store}")
        context.on("weberror", lambda error: self.errors.append(str(error.error)))
        return context

    async def page(self, viewport: dict[str, int], token: str | None = None) -> Page:
        page = await (await self.context(viewport, token)).new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        return page

    async def token(self) -> str:
        r = await self.http.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    async def sandbox(self, instance_id: str, action: str, body: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {await self.token()}"}
        r = await self.http.post(f"/api/sandbox/{instance_id}/{action}", json=body, headers=headers)
        assert r.status_code == 200, r.text


def _directories(root: Path) -> Path:
    for folder in (root / "data", root / "logs", SCREENSHOTS):
        folder.mkdir(parents=True, exist_ok=True)
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dash(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Dashboard]:
    assert HAS_CHROMIUM, "Debian's chromium is missing: `apt-get install chromium`"
    root = _directories(tmp_path_factory.mktemp("dashboard"))
    # QR codes renew every 1.5 s, so the page is seen to swap them while it waits for a scan.
    server = ServerProcess(root / "data", root / "logs", 0, {"SANDBOX_QR_INTERVAL_MS": "1500"})
    await server.start()
    try:
        async with (
            async_playwright() as playwright,
            httpx.AsyncClient(base_url=server.base_url, timeout=15.0) as http,
        ):
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"]
            )
            yield Dashboard(server, browser, http)
            await browser.close()
    finally:
        await server.stop(signal.SIGTERM)


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def quiet(dash: Dashboard) -> None:
    """Nothing left the machine and no script failed."""
    assert dash.foreign == [], dash.foreign
    assert dash.errors == [], dash.errors


async def test_a_failed_login_shows_its_message(dash: Dashboard) -> None:
    page = await dash.page(DESKTOP)
    await page.goto(f"{dash.server.base_url}/")
    heading = page.get_by_role("heading", name="Sign in to wamux")
    await expect(heading).to_be_visible(timeout=WAIT_MS)
    await page.get_by_label("Email").fill(ADMIN_EMAIL)
    await page.get_by_label("Password").fill("not-the-password")
    await page.keyboard.press("Enter")  # the keyboard is enough
    problem = page.locator("form.login [role=alert]")
    await expect(problem).to_have_text(re.compile(r"\w+.*\w+"), timeout=WAIT_MS)
    assert "password" in (await problem.inner_text()).lower()
    assert await page.evaluate("sessionStorage.getItem('wamux.token')") is None
    await shot(page, "login-failed-desktop")
    await page.context.close()
    quiet(dash)


async def test_login_pair_send_receive_and_usage(dash: Dashboard) -> None:
    page = await dash.page(DESKTOP)
    base = dash.server.base_url
    await page.goto(f"{base}/")
    await page.get_by_label("Email").fill(ADMIN_EMAIL)
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Instances")).to_be_visible(timeout=WAIT_MS)
    assert await page.evaluate("sessionStorage.getItem('wamux.token')")

    # Create a sandbox instance whose receipts the test sends itself (so each tick is seen).
    await page.get_by_role("link", name="New instance").click()
    await page.get_by_label("Name").fill("Shop phone")
    await page.get_by_label("Description").fill("The front desk's WhatsApp")
    await page.get_by_label("Engine").select_option("sandbox")
    await page.get_by_label("Simulate delivered and read receipts").uncheck()
    await page.get_by_label("Messages sent per day").fill("50")
    await page.get_by_role("button", name="Create instance").click()
    await expect(page).to_have_url(re.compile(r"#/instances/[0-9a-f-]+$"), timeout=WAIT_MS)
    instance_id = page.url.rsplit("/", 1)[1]
    dash.shared["instance"] = instance_id

    # The QR code shows, and renews over the subscription without a reload.
    qr = page.get_by_alt_text("QR code to scan with WhatsApp")
    await expect(qr).to_be_visible(timeout=WAIT_MS)
    first = await qr.get_attribute("src")
    await expect(qr).not_to_have_attribute("src", first or "", timeout=WAIT_MS)
    await shot(page, "pairing-qr-desktop")

    await dash.sandbox(instance_id, "scan", {})
    await expect(page.locator("#pairing [data-state=connected]")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("h1 .badge")).to_have_text("connected", timeout=WAIT_MS)
    await shot(page, "instance-connected-desktop")

    # An input the server refuses is explained in the form.
    await page.get_by_role("link", name="Chats").click()
    await page.get_by_label("To (phone number or JID)").fill("not a phone")
    await page.get_by_label("Message (the caption, with a file)").fill("hello")
    await page.get_by_role("button", name="Send").click()
    refused = page.locator("#send-form [role=alert]")
    await expect(refused).to_contain_text("phone", timeout=WAIT_MS)

    # Send a text; its ticks move sent -> delivered -> read as the receipts come in.
    await page.get_by_label("To (phone number or JID)").fill("+49 151 0000 0001")
    await page.get_by_label("Message (the caption, with a file)").fill("Your order is ready")
    await page.get_by_role("button", name="Send").click()
    mine = page.locator("#history .bubble.mine").filter(has_text="Your order is ready")
    await expect(mine.locator(".tick")).to_have_attribute("data-status", "sent", timeout=WAIT_MS)
    message_id = await mine.get_attribute("data-message-id")
    assert message_id
    for status in ("delivered", "read"):
        await dash.sandbox(instance_id, "receipt", {"messageId": message_id, "status": status})
        await expect(mine.locator(".tick")).to_have_attribute(
            "data-status", status, timeout=WAIT_MS
        )

    # A file goes out the same way.
    await page.get_by_label("File (optional)").set_input_files(
        files=[{"name": "price-list.txt", "mimeType": "text/plain", "buffer": b"tea 2.50\n"}]
    )
    await page.get_by_label("Message (the caption, with a file)").fill("Our prices")
    await page.get_by_role("button", name="Send").click()
    sent_file = page.locator("#history .bubble.mine").filter(has_text="price-list.txt")
    await expect(sent_file).to_contain_text("Our prices", timeout=WAIT_MS)

    # A message from outside shows up live, with its unread count.
    await dash.sandbox(
        instance_id, "incoming", {"from": OUTSIDE, "body": "Is the shop open?", "pushName": "Ana"}
    )
    chat = page.locator("#chat-list button").filter(has_text="Is the shop open?")
    await expect(chat.locator(".unread")).to_have_text("1", timeout=WAIT_MS)
    await shot(page, "chats-desktop")
    await chat.click()
    theirs = page.locator("#history .bubble").filter(has_text="Is the shop open?")
    await expect(theirs).to_be_visible(timeout=WAIT_MS)
    await expect(chat.locator(".unread")).to_have_count(0, timeout=WAIT_MS)

    await page.get_by_role("link", name="Events").click()
    await expect(page.locator("#feed li[data-type=message_received]")).to_contain_text(
        "Is the shop open?", timeout=WAIT_MS
    )
    # Opened afresh, the feed shows what happened before (read), then what comes (live).
    await page.reload()
    await expect(page.locator("#feed li[data-type=message_sent]").first).to_be_visible(
        timeout=WAIT_MS
    )
    await dash.sandbox(instance_id, "incoming", {"from": OUTSIDE, "body": "And tomorrow?"})
    await expect(page.locator("#feed li[data-type=message_received]").first).to_contain_text(
        "And tomorrow?", timeout=WAIT_MS
    )
    await expect(page.locator("#feed li").filter(has_text="Is the shop open?")).to_have_count(1)
    await shot(page, "events-desktop")

    await page.get_by_role("link", name="Usage").click()
    chart = page.locator("#usage-chart svg")
    await expect(chart).to_be_visible(timeout=WAIT_MS)
    await expect(chart.locator("rect")).not_to_have_count(0, timeout=WAIT_MS)
    await expect(page.get_by_role("meter", name="Messages sent")).to_have_attribute(
        "aria-valuemax", "50"
    )
    await shot(page, "usage-desktop")

    await page.get_by_role("link", name="Instances").first.click()
    row = page.locator(f"tr[data-instance='{instance_id}']")
    await expect(row.locator(".badge")).to_have_text("connected", timeout=WAIT_MS)
    await shot(page, "instances-desktop")
    await page.context.close()
    quiet(dash)


async def test_admin_screens_show_users_and_system(dash: Dashboard) -> None:
    page = await dash.page(DESKTOP, await dash.token())
    await page.goto(f"{dash.server.base_url}/#/admin/users")
    await expect(page.get_by_role("cell", name=re.compile(ADMIN_EMAIL))).to_be_visible(
        timeout=WAIT_MS
    )
    await page.get_by_label("Email").fill("clerk@example.com")
    await page.get_by_label("Password").fill("clerk-password-1")
    await page.get_by_role("button", name="Create user").click()
    await expect(page.get_by_text("was created")).to_be_visible(timeout=WAIT_MS)
    secret = page.locator(".secret")
    assert "•" in await secret.inner_text()  # the key stays hidden until asked for
    await shot(page, "users-desktop")
    await page.get_by_role("button", name="Show key").click()
    await expect(secret).to_have_text(re.compile(r"^[^•]{20,}$"))
    first_key = await secret.inner_text()

    # The admin gives that user a new key: asked first, shown once, hidden until asked.
    clerk = page.get_by_role("row").filter(has_text="clerk@example.com")
    await clerk.get_by_role("button", name="Rotate API key").click()
    await page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
    await expect(page.get_by_text("has a new API key")).to_be_visible(timeout=WAIT_MS)
    assert "•" in await secret.inner_text()
    await page.get_by_role("button", name="Show key").click()
    await expect(secret).to_have_text(re.compile(r"^[^•]{20,}$"))
    second_key = await secret.inner_text()
    assert second_key != first_key
    for key, status in ((first_key, 401), (second_key, 200)):
        r = await dash.http.get("/api/auth/me", headers={"x-api-key": key})
        assert r.status_code == status, r.text
    await page.get_by_role("link", name="System").click()
    await expect(page.get_by_role("heading", name="Engine workers")).to_be_visible(timeout=WAIT_MS)
    await shot(page, "system-desktop")
    await page.context.close()
    quiet(dash)


async def test_database_screen_shows_the_store_and_explains_a_refused_switch(
    dash: Dashboard,
) -> None:
    page = await dash.page(DESKTOP, await dash.token())
    await page.goto(f"{dash.server.base_url}/#/admin/database")
    status = page.locator("#db-status")
    await expect(status.locator(".badge")).to_have_text("healthy", timeout=WAIT_MS)
    await expect(status).to_contain_text("sqlite")
    await expect(status.get_by_role("cell", name="users", exact=True)).to_be_visible()
    await page.get_by_label("Provider").select_option("mongodb")  # not configured here
    await page.get_by_role("button", name="Switch").click()
    await page.get_by_role("dialog").get_by_role("button", name="Switch").click()
    refused = page.locator("form [role=alert]")
    await expect(refused).to_contain_text(re.compile(r"\w{4,}"), timeout=WAIT_MS)
    await expect(status).to_contain_text("sqlite")  # nothing changed
    await shot(page, "database-desktop")
    await page.context.close()
    quiet(dash)


async def test_webhook_test_event_retry_contacts_and_delete(dash: Dashboard) -> None:
    receiver = await WebhookReceiver(status=503).start()
    headers = {"Authorization": f"Bearer {await dash.token()}"}
    r = await dash.http.post(
        "/api/instances",
        json={"name": "Hooked", "engine": "sandbox", "webhookUrl": receiver.url,
              "webhookEnabled": True, "webhookSecret": "hook-secret-1", "maxRetries": 0},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    instance_id = r.json()["id"]
    page = await dash.page(DESKTOP, await dash.token())
    try:
        await page.goto(f"{dash.server.base_url}/#/instances/{instance_id}/webhook")
        secret = page.locator(".secret")
        await expect(secret).to_have_text("••••••••", timeout=WAIT_MS)  # hidden until asked
        await page.get_by_role("button", name="Show secret").click()
        await expect(secret).to_have_text("hook-secret-1", timeout=WAIT_MS)
        await page.get_by_role("button", name="Hide secret").click()

        await page.get_by_role("button", name="Send test event").click()
        await expect(page.get_by_role("status")).to_contain_text("HTTP 503", timeout=WAIT_MS)
        failed = page.locator("tbody tr").filter(has=page.locator(".badge.failed"))
        await expect(failed.first).to_be_visible(timeout=WAIT_MS)
        await shot(page, "webhook-desktop")
        receiver.status = 200
        await failed.first.get_by_role("button", name=re.compile("^Retry")).click()
        succeeded = page.locator("tbody .badge.succeeded")
        await expect(succeeded.first).to_be_visible(timeout=WAIT_MS)
        assert receiver.requests and receiver.requests[-1].answered == 200

        await page.get_by_role("link", name="Contacts").click()
        rows = page.locator("tbody tr")
        for name, number in (
            ("Bruno Baker", "+49 151 0000 0003"),
            ("Carla Cook", "+49 151 0000 0004"),
        ):
            await page.get_by_label("Name", exact=True).fill(name)
            await page.get_by_label("Number").fill(number)
            await page.get_by_role("button", name="Save contact").click()
            await expect(rows.filter(has_text=name)).to_have_count(1, timeout=WAIT_MS)
        await expect(rows).to_have_count(2)
        await page.get_by_label("Search").fill("carla")
        await expect(rows.filter(has_text="Bruno Baker")).to_have_count(0, timeout=WAIT_MS)
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text("Carla Cook")
        await shot(page, "contacts-desktop")

        # Edit keeps what the form does not show (the secret) and saves the rest.
        await page.get_by_role("link", name="Overview").click()
        await page.get_by_role("link", name="Edit").click()
        await page.get_by_label("Description").fill("Signed webhooks")
        await page.get_by_label("Retries").fill("2")
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.get_by_text("Saved.")).to_be_visible(timeout=WAIT_MS)
        r = await dash.http.get(f"/api/instances/{instance_id}", headers=headers)
        assert r.json()["description"] == "Signed webhooks", r.text
        await page.get_by_role("link", name="Webhook").click()
        await expect(page.get_by_text("2, every")).to_be_visible(timeout=WAIT_MS)
        await page.get_by_role("button", name="Show secret").click()
        await expect(secret).to_have_text("hook-secret-1", timeout=WAIT_MS)

        # Deleting asks first; Cancel keeps the instance, Delete removes it.
        await page.get_by_role("link", name="Overview").click()
        await page.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text('Delete "Hooked"?', timeout=WAIT_MS)
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)
        await page.get_by_role("button", name="Delete").click()
        await dialog.get_by_role("button", name="Delete").click()
        await expect(page.get_by_role("heading", name="Instances")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator(f"tr[data-instance='{instance_id}']")).to_have_count(0)
        gone = await dash.http.get(f"/api/instances/{instance_id}", headers=headers)
        assert gone.status_code == 404
    finally:
        await page.context.close()
        await receiver.stop()
    quiet(dash)


async def _paired_with_a_chat(dash: Dashboard) -> str:
    """A connected instance with one chat, for when the journey test did not run first."""
    headers = {"Authorization": f"Bearer {await dash.token()}"}
    r = await dash.http.post(
        "/api/instances", json={"name": "Shop phone", "engine": "sandbox"}, headers=headers
    )
    assert r.status_code == 201, r.text
    instance_id = str(r.json()["id"])
    await dash.sandbox(instance_id, "scan", {})
    await dash.sandbox(instance_id, "incoming", {"from": OUTSIDE, "body": "Is the shop open?"})
    return instance_id


async def test_phone_width_screens_fit_without_sideways_scrolling(dash: Dashboard) -> None:
    instance_id = dash.shared.get("instance") or await _paired_with_a_chat(dash)
    page = await dash.page(PHONE, await dash.token())
    base = dash.server.base_url
    r = await dash.http.post(
        "/api/instances",
        json={"name": "Second phone", "engine": "sandbox"},
        headers={"Authorization": f"Bearer {await dash.token()}"},
    )
    assert r.status_code == 201, r.text
    for name, address, ready in (
        ("pairing-qr", f"#/instances/{r.json()['id']}", "#pairing img"),
        ("instances", "#/instances", "tr[data-instance]"),
        ("instance-connected", f"#/instances/{instance_id}", "[data-state=connected]"),
        ("chats", f"#/instances/{instance_id}/chats", "#chat-list button"),
        ("usage", f"#/instances/{instance_id}/usage", "#usage-chart svg"),
    ):
        await page.goto(f"{base}/{address}")
        await expect(page.locator(ready).first).to_be_visible(timeout=WAIT_MS)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
        await shot(page, f"{name}-phone")
    await page.context.close()
    quiet(dash)
