"""Usage statistics ("统计和监控") and per-instance daily limits (429 + `limit_exceeded`).

Which requests count as API calls (`apiCalls`, capped by `maxApiCalls`): every request to a
path under /api/instances/{id}/... or /api/whatsapp/{id}/... (the sends and the reads alike,
including one that then fails validation or hits another limit), and every GraphQL root
field acting on one instance. Not counted: requests refused before the instance is known to
be the caller's (401, 404), requests refused by maxApiCalls itself, /api/instances (list,
create), /api/sandbox/* and /api/stats/*. `CallLog` below applies exactly these rules to the
responses the tests see, so `apiCalls` is checked against an independent count.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from domain.instances import InstanceChanges, WebhookSettingsInput
from domain.ports import USAGE_COUNTERS
from tests.conftest import Api

OUTSIDE = "79001234567"
COUNTERS = (
    "messagesSent",
    "messagesReceived",
    "mediaSent",
    "mediaReceived",
    "totalMediaSize",
    "apiCalls",
    "webhookSent",
)
DAILY = ("messagesSent", "messagesReceived", "mediaSent", "mediaReceived")
SPEC = dict(zip(USAGE_COUNTERS, COUNTERS, strict=True))
ZERO = dict.fromkeys(COUNTERS, 0)
INSTANCE_PATH = re.compile(r"^/api/(?:instances|whatsapp)/([^/]+)(?:/.*)?$")


# --- helpers ------------------------------------------------------------------------------


class CallLog:
    """Counts, per instance, the requests the server must count as API calls (see above)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.calls: Counter[str] = Counter()
        client.event_hooks["response"].append(self._seen)

    async def _seen(self, response: httpx.Response) -> None:
        match = INSTANCE_PATH.match(response.request.url.path)
        if match is None or response.status_code in (401, 403, 404):
            return
        if response.status_code == 429:
            await response.aread()
            if response.json()["details"]["limit"] == "maxApiCalls":
                return
        self.calls[match.group(1)] += 1

    def graphql(self, instance_id: str) -> None:
        self.calls[instance_id] += 1


async def wait_until(check: Callable[[], Awaitable[Any]], what: str, within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def today() -> date:
    return datetime.now(UTC).date()


def day_iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


async def send(api: Api, h: dict[str, str], iid: str, text: str = "x") -> httpx.Response:
    return await api.client.post(
        f"/api/whatsapp/{iid}/send", json={"phone": OUTSIDE, "message": text}, headers=h
    )


async def send_file(
    api: Api, h: dict[str, str], iid: str, size: int, name: str = "doc.pdf"
) -> httpx.Response:
    return await api.client.post(
        f"/api/whatsapp/{iid}/send-file",
        data={"phone": OUTSIDE, "caption": "file"},
        files={"file": (name, bytes(i % 251 for i in range(size)), "application/pdf")},
        headers=h,
    )


async def receive(
    api: Api, h: dict[str, str], iid: str, media_size: int | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"from": "79005550001", "body": "hello"}
    if media_size is not None:
        data = bytes(i % 199 for i in range(media_size))
        body["media"] = {
            "base64": base64.b64encode(data).decode(),
            "mimeType": "application/pdf",
            "fileName": "in.pdf",
        }
    r = await api.client.post(f"/api/sandbox/{iid}/incoming", json=body, headers=h)
    assert r.status_code == 200, r.text
    return r


async def instance_stats(
    api: Api, h: dict[str, str], iid: str, period: str | None = None
) -> dict[str, Any]:
    query = f"?period={period}" if period else ""
    r = await api.client.get(f"/api/stats/instances/{iid}{query}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


async def user_stats(api: Api, h: dict[str, str], period: str | None = None) -> dict[str, Any]:
    query = f"?period={period}" if period else ""
    r = await api.client.get(f"/api/stats/user{query}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


async def usage_of(api: Api, h: dict[str, str], iid: str) -> dict[str, int]:
    usage = (await instance_stats(api, h, iid))["usage"]
    return {k: usage[k] for k in COUNTERS}


async def history(api: Api, h: dict[str, str], iid: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/instances/{iid}/chats/{OUTSIDE}/messages?limit=1000", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


async def limit_events(api: Api, h: dict[str, str], iid: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/instances/{iid}/events?types=limit_exceeded", headers=h)
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def limit_body(limit: str, maximum: int, used: int, counter: str) -> dict[str, Any]:
    return {"limit": limit, "max": maximum, "used": used, "counter": counter}


def assert_refused(r: httpx.Response, limit: str, maximum: int, used: int, counter: str) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == "limit_exceeded"
    assert limit in body["message"]
    assert body["details"] == limit_body(limit, maximum, used, counter)


async def seed(api: Api, iid: str, day: date, counters: dict[str, int]) -> None:
    """Adds usage for a past day straight into the store (the API can only write today)."""
    async with api.container.storage.unit_of_work() as uow:
        await uow.usage.add(iid, day, counters)
        await uow.commit()


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 answering every POST with `status`."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    def events(self, name: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["event"] == name]


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    rx = Receiver(status)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                rx.bodies.append(json.loads(raw))
            self.send_response(rx.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield rx
    finally:
        server.shutdown()
        server.server_close()


# --- statistics match the traffic ---------------------------------------------------------


async def test_stats_match_generated_traffic_exactly(api: Api) -> None:
    log = CallLog(api.client)
    h = await api.new_user("traffic@example.com")
    a = (await api.paired_instance(h, name="主要 WhatsApp"))["id"]
    b = (await api.paired_instance(h, name="second"))["id"]

    # a: 3 texts and 2 files sent; 2 texts and 2 files received.
    for i in range(3):
        assert (await send(api, h, a, f"text {i}")).status_code == 200
    for size in (1000, 2345):
        r = await send_file(api, h, a, size)
        assert r.status_code == 200, r.text
    await receive(api, h, a)
    await receive(api, h, a, media_size=500)
    await receive(api, h, a)
    await receive(api, h, a, media_size=700)
    # b: 1 text sent, 1 file received.
    assert (await send(api, h, b)).status_code == 200
    await receive(api, h, b, media_size=64)

    # Reads count too, on both URL families; so does a call that then fails validation.
    for path in (
        f"/api/instances/{a}",
        f"/api/instances/{a}/status",
        f"/api/instances/{a}/chats",
        f"/api/instances/{a}/chats/{OUTSIDE}/messages",
        f"/api/instances/{a}/activity",
        f"/api/instances/{a}/events",
        f"/api/instances/{a}/webhooks/deliveries",
        f"/api/whatsapp/{a}/status",
        f"/api/whatsapp/{a}/contacts",
    ):
        r = await api.client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text)
    r = await api.client.get(f"/api/instances/{a}/events?since=garbage", headers=h)
    assert r.status_code == 400
    # Not counted: another user's attempt (404), no credentials (401), list and create.
    other = await api.new_user("other@example.com")
    assert (await api.client.get(f"/api/instances/{a}", headers=other)).status_code == 404
    assert (await api.client.get(f"/api/instances/{a}/status")).status_code == 401
    assert (await api.client.get("/api/instances", headers=h)).status_code == 200

    expected_a = {
        "messagesSent": 5,
        "messagesReceived": 4,
        "mediaSent": 2,
        "mediaReceived": 2,
        "totalMediaSize": 1000 + 2345 + 500 + 700,
        "apiCalls": log.calls[a],
        "webhookSent": 0,
    }
    expected_b = {
        **ZERO,
        "messagesSent": 1,
        "messagesReceived": 1,
        "mediaReceived": 1,
        "totalMediaSize": 64,
        "apiCalls": log.calls[b],
    }
    assert log.calls[a] >= 14 and log.calls[b] >= 2  # the pairing polls count as well

    async def settled() -> bool:
        return await usage_of(api, h, a) == expected_a and await usage_of(api, h, b) == expected_b

    await wait_until(settled, "the received messages to be counted")

    # Reading statistics (and sandbox traffic) never counts, so repeated reads agree.
    for _ in range(3):
        for period in (None, "today", "week", "month", "all"):
            body = await instance_stats(api, h, a, period)
            assert set(body) == {"usage"}
            assert set(body["usage"]) == {*COUNTERS, "dailyStats"}
            assert {k: body["usage"][k] for k in COUNTERS} == expected_a
            assert body["usage"]["dailyStats"] == [
                {"date": day_iso(today()), **{k: expected_a[k] for k in DAILY}}
            ]
    for period in (None, "week", "month", "year", "all"):
        body = await user_stats(api, h, period)
        assert set(body) == {"total", "instances"}
        assert body["total"] == {
            **{k: expected_a[k] + expected_b[k] for k in COUNTERS},
            "instanceCount": 2,
        }
        rows = {row["instanceId"]: row for row in body["instances"]}
        assert rows == {
            a: {"instanceId": a, "name": "主要 WhatsApp", **expected_a},
            b: {"instanceId": b, "name": "second", **expected_b},
        }
        assert len(body["instances"]) == 2
    assert log.calls[a] == expected_a["apiCalls"] and log.calls[b] == expected_b["apiCalls"]


async def test_periods_select_utc_days_and_have_defaults(api: Api) -> None:
    h = await api.new_user("periods@example.com")
    iid = (await api.new_instance(h))["id"]
    # A distinct amount per day makes every period's sum unique.
    ages = {0: 1, 1: 10, 6: 100, 7: 1_000, 29: 10_000, 30: 100_000, 364: 10**6, 365: 10**7}
    for age, n in ages.items():
        counters = {name: n * (i + 1) for i, name in enumerate(USAGE_COUNTERS)}
        await seed(api, iid, today() - timedelta(days=age), counters)

    def total(max_age: int | None) -> dict[str, int]:
        n = sum(v for age, v in ages.items() if max_age is None or age <= max_age)
        return {SPEC[name]: n * (i + 1) for i, name in enumerate(USAGE_COUNTERS)}

    def daily(max_age: int | None) -> list[dict[str, Any]]:
        return [
            {
                "date": day_iso(today() - timedelta(days=age)),
                **{SPEC[name]: n * (i + 1) for i, name in enumerate(USAGE_COUNTERS[:4])},
            }
            for age, n in sorted(ages.items(), reverse=True)
            if max_age is None or age <= max_age
        ]

    instance_periods = {None: 0, "today": 0, "week": 6, "month": 29, "all": None}
    for period, max_age in instance_periods.items():
        usage = (await instance_stats(api, h, iid, period))["usage"]
        assert {k: usage[k] for k in COUNTERS} == total(max_age), period
        assert usage["dailyStats"] == daily(max_age), period

    user_periods = {None: 29, "week": 6, "month": 29, "year": 364, "all": None}
    for period, max_age in user_periods.items():
        body = await user_stats(api, h, period)
        assert body["total"] == {**total(max_age), "instanceCount": 1}, period
        assert body["instances"] == [{"instanceId": iid, "name": "test instance", **total(max_age)}]


@pytest.mark.parametrize(
    ("path", "period"),
    [
        ("/api/stats/user", "today"),
        ("/api/stats/user", "bogus"),
        ("/api/stats/user", "MONTH"),
        ("/api/stats/instances/{iid}", "year"),
        ("/api/stats/instances/{iid}", "day"),
        ("/api/stats/instances/{iid}", "Today"),
    ],
)
async def test_bad_periods_are_400(api: Api, path: str, period: str) -> None:
    h = await api.admin()
    iid = (await api.new_instance(h))["id"]
    r = await api.client.get(path.format(iid=iid), params={"period": period}, headers=h)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "validation_error"
    assert r.json()["details"] == {"field": "period"}


async def test_stats_need_credentials_and_own_instances(api: Api) -> None:
    h = await api.new_user("owner@example.com")
    other = await api.new_user("stranger@example.com")
    iid = (await api.new_instance(h))["id"]
    for path in ("/api/stats/user", f"/api/stats/instances/{iid}", "/api/stats/system"):
        assert (await api.client.get(path)).status_code == 401
    assert (await api.client.get(f"/api/stats/instances/{iid}", headers=other)).status_code == 404
    r = await api.client.get("/api/stats/instances/no-such-instance", headers=h)
    assert r.status_code == 404


async def test_user_stats_include_only_the_callers_instances(api: Api) -> None:
    admin = await api.admin()
    u1 = await api.new_user("u1@example.com")
    u2 = await api.new_user("u2@example.com")
    mine = {
        "admin": [(await api.new_instance(admin, name="adm"))["id"]],
        "u1": [(await api.new_instance(u1, name=f"u1-{i}"))["id"] for i in range(2)],
        "u2": [(await api.new_instance(u2, name="u2"))["id"]],
    }
    amounts = {"admin": 1, "u1": 10, "u2": 100}
    for owner, ids in mine.items():
        for iid in ids:
            await seed(api, iid, today(), {"messages_sent": amounts[owner], "api_calls": 7})
    for owner, h in (("admin", admin), ("u1", u1), ("u2", u2)):
        body = await user_stats(api, h)
        assert {row["instanceId"] for row in body["instances"]} == set(mine[owner])
        count = len(mine[owner])
        assert body["total"] == {
            **ZERO,
            "messagesSent": amounts[owner] * count,
            "apiCalls": 7 * count,
            "instanceCount": count,
        }
    fresh = await api.new_user("nobody@example.com")
    assert await user_stats(api, fresh) == {"total": {**ZERO, "instanceCount": 0}, "instances": []}


async def test_system_stats_for_admin_only(api: Api) -> None:
    log = CallLog(api.client)
    admin = await api.admin()
    u1 = await api.new_user("sys1@example.com")
    u2 = await api.new_user("sys2@example.com")
    await api.new_user("sys3@example.com", password="sys3-password-1")
    await api.login("sys3@example.com", "sys3-password-1")
    connected = (await api.paired_instance(u1))["id"]
    waiting = (await api.new_instance(u2))["id"]
    await api.wait_status(waiting, u2, "qr")
    for _ in range(2):
        assert (await send(api, u1, connected)).status_code == 200
    await receive(api, u1, connected, media_size=300)

    for h in (u1, u2):
        r = await api.client.get("/api/stats/system", headers=h)
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"

    expected_usage = {
        **ZERO,
        "messagesSent": 2,
        "messagesReceived": 1,
        "mediaReceived": 1,
        "totalMediaSize": 300,
        "apiCalls": log.calls[connected] + log.calls[waiting],
    }

    async def system() -> dict[str, Any] | None:
        r = await api.client.get("/api/stats/system", headers=admin)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["usage"] == expected_usage else None

    body = await wait_until(system, "the system usage to add up")
    # admin (logged in), sys1 (owns a connected instance) and sys3 (logged in) are active;
    # sys2 has neither logged in nor a connected instance.
    assert body == {
        "instances": {"total": 2, "active": 1},
        "users": {"total": 4, "active": 3},
        "usage": expected_usage,
    }


# --- atomic counting ----------------------------------------------------------------------


async def test_concurrent_sends_are_counted_exactly(api: Api) -> None:
    log = CallLog(api.client)
    h = await api.new_user("burst@example.com")
    iid = (await api.paired_instance(h))["id"]
    responses = await asyncio.gather(*(send(api, h, iid, f"m{i}") for i in range(40)))
    assert [r.status_code for r in responses] == [200] * 40
    assert len({r.json()["id"] for r in responses}) == 40
    usage = await usage_of(api, h, iid)
    assert usage == {**ZERO, "messagesSent": 40, "apiCalls": log.calls[iid]}
    assert (await history(api, h, iid))["pagination"]["total"] == 40


async def test_concurrent_sends_stop_exactly_at_the_limit(api: Api) -> None:
    log = CallLog(api.client)
    h = await api.new_user("racer@example.com")
    iid = (await api.paired_instance(h, limits={"maxMessagesSent": 10}))["id"]
    responses = await asyncio.gather(*(send(api, h, iid, f"m{i}") for i in range(25)))
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 10, 429: 15}
    for r in responses:
        if r.status_code == 429:
            assert r.json()["error"] == "limit_exceeded"
            assert r.json()["details"]["limit"] == "maxMessagesSent"
            assert r.json()["details"]["used"] == 10
    usage = await usage_of(api, h, iid)
    assert usage == {**ZERO, "messagesSent": 10, "apiCalls": log.calls[iid]}
    assert (await history(api, h, iid))["pagination"]["total"] == 10
    (event,) = await limit_events(api, h, iid)
    assert event["data"]["exceededLimits"] == ["maxMessagesSent"]
    assert event["data"]["usage"] == {"messagesSent": 10}


# --- webhookSent ---------------------------------------------------------------------------


async def test_webhook_sent_counts_successful_deliveries(
    api_factory: Callable[..., Any],
) -> None:
    api = await api_factory(webhook_poll_interval_ms=50)
    h = await api.new_user("hooks@example.com")
    with receiver(200) as ok, receiver(500) as failing:
        good = await api.paired_instance(h, webhookUrl=ok.url, webhookEnabled=True)
        bad = await api.paired_instance(
            h, webhookUrl=failing.url, webhookEnabled=True, maxRetries=0
        )
        for iid in (good["id"], bad["id"]):
            assert (await send(api, h, iid)).status_code == 200
            await receive(api, h, iid)

        async def all_delivered() -> bool:
            for iid in (good["id"], bad["id"]):
                r = await api.client.get(
                    f"/api/instances/{iid}/webhooks/deliveries?status=pending", headers=h
                )
                assert r.status_code == 200, r.text
                if r.json()["pagination"]["total"]:
                    return False
            events = {b["event"] for b in ok.bodies}
            return {"message_sent", "message_received"} <= events

        await wait_until(all_delivered, "every webhook to be attempted")
        delivered = len(ok.bodies)
        assert delivered >= 4  # qr_received, connected, message_sent, message_received, ...
        assert len(failing.bodies) >= 4

        async def counted() -> bool:
            return (await usage_of(api, h, good["id"]))["webhookSent"] == delivered

        await wait_until(counted, f"webhookSent to reach {delivered}")
        r = await api.client.get(
            f"/api/instances/{good['id']}/webhooks/deliveries?status=succeeded&limit=1000",
            headers=h,
        )
        assert r.json()["pagination"]["total"] == delivered
        assert (await usage_of(api, h, bad["id"]))["webhookSent"] == 0
        assert (await user_stats(api, h))["total"]["webhookSent"] == delivered


# --- limits ---------------------------------------------------------------------------------


async def test_max_messages_sent_refuses_and_notifies_once(api: Api) -> None:
    h = await api.new_user("capped@example.com")
    iid = (await api.paired_instance(h, limits={"maxMessagesSent": 3}))["id"]
    sent = []
    for i in range(3):
        r = await send(api, h, iid, f"ok {i}")
        assert r.status_code == 200, r.text
        sent.append(r.json()["id"])
    for i in range(4):
        assert_refused(await send(api, h, iid, f"no {i}"), "maxMessagesSent", 3, 3, "messagesSent")
    assert_refused(await send_file(api, h, iid, 100), "maxMessagesSent", 3, 3, "messagesSent")

    page = await history(api, h, iid)
    assert page["pagination"]["total"] == 3
    assert sorted(m["messageId"] for m in page["messages"]) == sorted(sent)
    events = await limit_events(api, h, iid)
    assert [e["data"] for e in events] == [
        {"instanceId": iid, "exceededLimits": ["maxMessagesSent"], "usage": {"messagesSent": 3}}
    ]
    r = await api.client.get(f"/api/instances/{iid}/activity?actions=limit_exceeded", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["pagination"]["total"] == 1
    # Receiving is not capped.
    await receive(api, h, iid)

    async def received() -> bool:
        return (await usage_of(api, h, iid))["messagesReceived"] == 1

    await wait_until(received, "the incoming message to be counted")
    usage = await usage_of(api, h, iid)
    assert (usage["messagesSent"], usage["mediaSent"], usage["totalMediaSize"]) == (3, 0, 0)


async def test_max_media_sent_caps_media_but_not_text(api: Api) -> None:
    h = await api.new_user("media-cap@example.com")
    iid = (await api.paired_instance(h, limits={"maxMediaSent": 1}))["id"]
    assert (await send(api, h, iid)).status_code == 200
    assert (await send_file(api, h, iid, 100)).status_code == 200
    assert_refused(await send_file(api, h, iid, 200), "maxMediaSent", 1, 1, "mediaSent")
    assert_refused(await send_file(api, h, iid, 300), "maxMediaSent", 1, 1, "mediaSent")
    for _ in range(2):
        assert (await send(api, h, iid)).status_code == 200
    usage = await usage_of(api, h, iid)
    assert (usage["messagesSent"], usage["mediaSent"], usage["totalMediaSize"]) == (4, 1, 100)
    page = await history(api, h, iid)
    assert page["pagination"]["total"] == 4
    assert sum(m["hasMedia"] for m in page["messages"]) == 1
    assert [e["data"] for e in await limit_events(api, h, iid)] == [
        {"instanceId": iid, "exceededLimits": ["maxMediaSent"], "usage": {"mediaSent": 1}}
    ]

    none = (await api.paired_instance(h, limits={"maxMediaSent": 0}))["id"]
    assert_refused(await send_file(api, h, none, 10), "maxMediaSent", 0, 0, "mediaSent")
    assert (await send(api, h, none)).status_code == 200


async def test_max_api_calls_caps_every_instance_call_rest_and_graphql(
    api_factory: Callable[..., Any],
) -> None:
    api = await api_factory(webhook_poll_interval_ms=50)
    log = CallLog(api.client)
    h = await api.new_user("api-cap@example.com")
    with receiver(200) as rx:
        iid = (
            await api.new_instance(
                h, webhookUrl=rx.url, webhookEnabled=True, limits={"maxApiCalls": 5}
            )
        )["id"]
        spare = (await api.new_instance(h, name="spare"))["id"]
        status_query = "query($id: ID!) { instanceStatus(id: $id) { status } }"
        for _ in range(2):
            assert (await api.client.get(f"/api/instances/{iid}/status", headers=h)).is_success
        result = await api.gql(status_query, {"id": iid}, h)
        assert "errors" not in result, result
        log.graphql(iid)
        assert (await api.client.get(f"/api/whatsapp/{iid}/status", headers=h)).is_success
        r = await api.client.get(f"/api/instances/{iid}", headers=h)
        assert r.status_code == 200 and r.json()["limits"] == {"maxApiCalls": 5}
        assert log.calls[iid] == 5

        refused = [
            await api.client.get(f"/api/instances/{iid}/status", headers=h),
            await api.client.get(f"/api/instances/{iid}", headers=h),
            await api.client.get(f"/api/whatsapp/{iid}/status", headers=h),
            await api.client.get(f"/api/instances/{iid}/events", headers=h),
            await send(api, h, iid),
        ]
        for r in refused:
            assert_refused(r, "maxApiCalls", 5, 5, "apiCalls")
        for query in (status_query, "query($id: ID!) { instance(id: $id) { id } }"):
            result = await api.gql(query, {"id": iid}, h)
            (error,) = result["errors"]
            assert error["extensions"] == {
                **limit_body("maxApiCalls", 5, 5, "apiCalls"),
                "code": "limit_exceeded",
                "status": 429,
            }
        # Statistics stay readable, and other instances are unaffected.
        usage = await usage_of(api, h, iid)
        assert (usage["apiCalls"], usage["messagesSent"]) == (5, 0)
        assert (await api.client.get(f"/api/instances/{spare}/status", headers=h)).is_success

        notices = await wait_until(
            lambda: asyncio.sleep(0, rx.events("limit_exceeded")), "the limit_exceeded webhook"
        )
        # Any duplicate would come before a marker queued after it (one instance's
        # deliveries go out in order). The API refuses this instance's calls now, so the
        # marker, a settings change, goes through the use case itself.
        principal = await api.container.accounts.principal_from_api_key(h["x-api-key"])
        await api.container.instances.update(
            principal, iid, InstanceChanges(webhook=WebhookSettingsInput(retry_interval=4321))
        )
        await wait_until(
            lambda: asyncio.sleep(0, rx.events("webhook_updated")), "the marker webhook"
        )
        assert len(rx.events("limit_exceeded")) == 1
        assert notices[0]["data"] == {
            "instanceId": iid,
            "exceededLimits": ["maxApiCalls"],
            "usage": {"apiCalls": 5},
        }


async def test_raising_or_removing_a_limit_lets_sends_through(api: Api) -> None:
    h = await api.new_user("raise@example.com")
    iid = (await api.paired_instance(h, limits={"maxMessagesSent": 2, "maxMediaSent": 7}))["id"]
    for _ in range(2):
        assert (await send(api, h, iid)).status_code == 200
    assert_refused(await send(api, h, iid), "maxMessagesSent", 2, 2, "messagesSent")

    r = await api.client.put(
        f"/api/instances/{iid}", json={"limits": {"maxMessagesSent": 4}}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["limits"] == {"maxMessagesSent": 4, "maxMediaSent": 7}
    for _ in range(2):
        assert (await send(api, h, iid)).status_code == 200
    assert_refused(await send(api, h, iid), "maxMessagesSent", 4, 4, "messagesSent")

    r = await api.client.put(
        f"/api/instances/{iid}", json={"limits": {"maxMessagesSent": None}}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["limits"] == {"maxMediaSent": 7}
    for _ in range(3):
        assert (await send(api, h, iid)).status_code == 200
    detail = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()
    assert detail["limits"] == {"maxMediaSent": 7}

    # A cap below today's usage refuses at once.
    r = await api.client.put(
        f"/api/instances/{iid}", json={"limits": {"maxMessagesSent": 1}}, headers=h
    )
    assert r.status_code == 200, r.text
    assert_refused(await send(api, h, iid), "maxMessagesSent", 1, 7, "messagesSent")

    assert (await usage_of(api, h, iid))["messagesSent"] == 7
    assert (await history(api, h, iid))["pagination"]["total"] == 7
    # Once per day per limit, however often the cap is changed and reached again.
    assert len(await limit_events(api, h, iid)) == 1


BAD_LIMITS: list[Any] = [
    {"maxFoo": 1},
    {"maxMessagesSent": 1, "maxmessagessent": 1},
    {"maxMessagesSent": -1},
    {"maxApiCalls": 1.5},
    {"maxApiCalls": 3.0},
    {"maxMediaSent": "3"},
    {"maxMediaSent": True},
    {"maxMessagesSent": [3]},
    {"maxMessagesSent": {"value": 3}},
    "3",
    [3],
    7,
]


@pytest.mark.parametrize("limits", BAD_LIMITS)
async def test_bad_limits_are_400_on_create_and_change_nothing(api: Api, limits: Any) -> None:
    h = await api.new_user("bad-limits@example.com")
    r = await api.client.post(
        "/api/instances", json={"name": "x", "engine": "sandbox", "limits": limits}, headers=h
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "validation_error"
    assert (await api.client.get("/api/instances", headers=h)).json()["instances"] == []


@pytest.mark.parametrize("limits", BAD_LIMITS)
async def test_bad_limits_are_400_on_update_and_change_nothing(api: Api, limits: Any) -> None:
    h = await api.new_user("bad-update@example.com")
    iid = (await api.new_instance(h, limits={"maxMessagesSent": 5}))["id"]
    r = await api.client.put(f"/api/instances/{iid}", json={"limits": limits}, headers=h)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "validation_error"
    detail = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()
    assert detail["limits"] == {"maxMessagesSent": 5}


async def test_limits_are_shown_on_the_instance(api: Api) -> None:
    h = await api.new_user("shown@example.com")
    given = {"maxMessagesSent": 0, "maxMediaSent": 2, "maxApiCalls": 10**6}
    iid = (await api.new_instance(h, limits=given))["id"]
    detail = (await api.client.get(f"/api/instances/{iid}", headers=h)).json()
    assert detail["limits"] == given
    plain = (await api.new_instance(h))["id"]
    assert (await api.client.get(f"/api/instances/{plain}", headers=h)).json()["limits"] == {}
    nulls = (await api.new_instance(h, limits={"maxApiCalls": None}))["id"]
    assert (await api.client.get(f"/api/instances/{nulls}", headers=h)).json()["limits"] == {}
    # null and an absent "limits" leave the caps as they are
    for body in ({"name": "renamed"}, {"limits": None}, {"limits": {}}):
        r = await api.client.put(f"/api/instances/{iid}", json=body, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["limits"] == given


async def test_limit_notice_is_recorded_once_per_day_and_limit(api: Api) -> None:
    h = await api.new_user("notices@example.com")
    iid = (await api.new_instance(h))["id"]
    seen = []
    for day, limit in [
        (today(), "maxMessagesSent"),
        (today(), "maxMessagesSent"),
        (today(), "maxApiCalls"),
        (today() - timedelta(days=1), "maxMessagesSent"),
        (today(), "maxApiCalls"),
    ]:
        async with api.container.storage.unit_of_work() as uow:
            seen.append(await uow.usage.first_notice(iid, day, limit))
            await uow.commit()
    assert seen == [True, False, True, True, False]


async def test_counting_for_a_deleted_instance_does_nothing(api: Api) -> None:
    # A webhook delivered while its instance is being deleted counts after the delete.
    h = await api.new_user("gone@example.com")
    iid = (await api.new_instance(h))["id"]
    assert (await api.client.delete(f"/api/instances/{iid}", headers=h)).status_code == 200
    await api.container.usage.count(iid, {"webhook_sent": 1})
    assert (await api.client.get(f"/api/stats/instances/{iid}", headers=h)).status_code == 404


# --- GraphQL twins --------------------------------------------------------------------------

COUNTER_FIELDS = " ".join(COUNTERS)
USER_STATS = f"""
query($period: String) {{
  userStats(period: $period) {{
    total {{ {COUNTER_FIELDS} instanceCount }}
    instances {{ instanceId name {COUNTER_FIELDS} }}
  }}
}}"""
INSTANCE_STATS = f"""
query($id: ID!, $period: String) {{
  instanceStats(instanceId: $id, period: $period) {{
    usage {{ {COUNTER_FIELDS} dailyStats {{ date {" ".join(DAILY)} }} }}
  }}
}}"""
SYSTEM_STATS = f"""
query {{
  systemStats {{
    instances {{ total active }}
    users {{ total active }}
    usage {{ {COUNTER_FIELDS} }}
  }}
}}"""


async def test_graphql_stats_mirror_rest(api: Api) -> None:
    admin = await api.admin()
    h = await api.new_user("gql-stats@example.com")
    iid = (await api.paired_instance(h, name="gql"))["id"]
    await api.new_instance(h, name="idle")
    for _ in range(2):
        assert (await send(api, h, iid)).status_code == 200
    assert (await send_file(api, h, iid, 321)).status_code == 200
    await seed(api, iid, today() - timedelta(days=3), {"messages_received": 5, "api_calls": 2})
    # Past 2^31, beyond GraphQL's Int.
    await seed(api, iid, today() - timedelta(days=100), {"media_bytes": 3 * 2**31})

    for period in (None, "week", "year", "all"):
        result = await api.gql(USER_STATS, {"period": period}, h)
        assert "errors" not in result, result
        assert result["data"]["userStats"] == await user_stats(api, h, period)
    for period in (None, "today", "week", "all"):
        result = await api.gql(INSTANCE_STATS, {"id": iid, "period": period}, h)
        assert "errors" not in result, result
        assert result["data"]["instanceStats"] == await instance_stats(api, h, iid, period)
    result = await api.gql(SYSTEM_STATS, headers=admin)
    assert "errors" not in result, result
    rest = (await api.client.get("/api/stats/system", headers=admin)).json()
    assert result["data"]["systemStats"] == rest
    assert rest["usage"]["totalMediaSize"] == 3 * 2**31 + 321


async def test_graphql_stats_errors(api: Api) -> None:
    h = await api.new_user("gql-errors@example.com")
    other = await api.new_user("gql-other@example.com")
    iid = (await api.new_instance(h))["id"]
    cases = [
        (USER_STATS, {"period": "today"}, h, 400),
        (INSTANCE_STATS, {"id": iid, "period": "year"}, h, 400),
        (INSTANCE_STATS, {"id": iid}, other, 404),
        (SYSTEM_STATS, {}, h, 403),
        (USER_STATS, {}, {}, 401),
    ]
    for query, variables, headers, status in cases:
        result = await api.gql(query, variables, headers)
        (error,) = result["errors"]
        assert error["extensions"]["status"] == status, (variables, result)
        assert result["data"] is None


async def test_graphql_instance_stats_is_not_counted_like_rest(api: Api) -> None:
    h = await api.new_user("gql-count@example.com")
    iid = (await api.new_instance(h))["id"]
    for _ in range(3):
        result = await api.gql(INSTANCE_STATS, {"id": iid}, h)
        assert "errors" not in result, result
    assert (await usage_of(api, h, iid))["apiCalls"] == 0


async def test_a_reached_max_api_calls_can_be_lifted(api: Api) -> None:
    h = await api.new_user("locked@example.com")
    iid = (await api.new_instance(h, limits={"maxApiCalls": 1}))["id"]
    assert (await api.client.get(f"/api/instances/{iid}/status", headers=h)).status_code == 200
    assert (await api.client.get(f"/api/instances/{iid}/status", headers=h)).status_code == 429
    r = await api.client.put(
        f"/api/instances/{iid}", json={"limits": {"maxApiCalls": None}}, headers=h
    )
    assert r.status_code == 200, r.text
    assert (await api.client.get(f"/api/instances/{iid}/status", headers=h)).status_code == 200
