"""Where webhooks may go, through the API: each WEBHOOK_PRIVATE_URLS value, the server's own
address, names resolved by a resolver the test controls, outcome classes of /webhooks/test,
and per-instance delivery (a hanging receiver holds up only its own instance).

Every receiver listens on 127.0.0.1; host names resolve through a StaticResolver, so no test
asks a DNS server or sends a packet beyond this machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.api.test_webhooks import all_deliveries, hook, incoming, wait_delivery
from tests.conftest import Api
from tests.fakes import StaticResolver
from tests.webhook_receiver import WebhookReceiver, free_port

ReceiverFactory = Callable[..., Any]


@pytest.fixture
async def receivers() -> AsyncIterator[ReceiverFactory]:
    made: list[WebhookReceiver] = []

    async def make(port: int = 0, **options: Any) -> WebhookReceiver:
        rx = WebhookReceiver(port=port, **options)
        made.append(rx)
        return await rx.start()

    yield make
    for rx in made:
        await rx.stop()


async def start(
    api_factory: Callable[..., Any],
    policy: str,
    resolver: StaticResolver | None = None,
    **overrides: Any,
) -> Api:
    return await api_factory(
        ports={"resolver": resolver or StaticResolver()},
        webhook_private_urls=policy,
        webhook_poll_interval_ms=50,
        **overrides,
    )


async def create(api: Api, h: dict[str, str], **body: Any) -> Any:
    return await api.client.post(
        "/api/instances", json={"name": "t", "engine": "sandbox", **body}, headers=h
    )


def refused(r: Any, reason: str) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["details"] == {"field": "webhookUrl", "reason": reason}, r.text
    assert r.json()["error"] and "webhookUrl" in r.json()["message"]


async def test_admin_policy_keeps_private_targets_to_admins_instances(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    resolver = StaticResolver({"hooks.internal": ["127.0.0.1"]})
    api = await start(api_factory, "admin", resolver)
    rx = await receivers()
    admin = await api.admin()
    user = await api.new_user("user@example.com")

    refused(await create(api, user, **hook(rx.url)), "private_address")
    named = f"http://hooks.internal:{rx.port}/hook"  # a name that resolves to loopback
    refused(await create(api, user, **hook(named)), "private_address")
    r = await api.client.get("/api/instances", headers=user)
    assert r.status_code == 200 and r.json()["instances"] == [], r.text  # none created

    plain = (await create(api, user)).json()
    r = await api.client.put(f"/api/instances/{plain['id']}", json=hook(rx.url), headers=user)
    refused(r, "private_address")
    # The owner's role counts, not the caller's: an admin cannot put it there for them.
    r = await api.client.put(f"/api/instances/{plain['id']}", json=hook(rx.url), headers=admin)
    refused(r, "private_address")
    r = await api.client.get(f"/api/instances/{plain['id']}", headers=user)
    assert r.json()["webhookUrl"] is None and r.json()["webhookEnabled"] is False

    # An admin's instance delivers to the same name, through the address checked for it.
    await api.paired_instance(admin, **hook(named))
    got = await rx.wait_for(lambda rs: any(x.event == "connected" for x in rs))
    assert {x.headers["Host"] for x in got} == {f"hooks.internal:{rx.port}"}


async def test_delivery_checks_the_owners_role_at_delivery_time(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start(api_factory, "admin")
    rx = await receivers()
    admin = await api.admin()
    r = await api.client.post(
        "/api/users",
        json={
            "email": "boss@example.com",
            "password": "boss-password-1",
            "firstName": "B",
            "lastName": "S",
            "role": "admin",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    boss_id, boss = r.json()["id"], {"x-api-key": r.json()["apiKey"]}
    inst = await api.paired_instance(boss, **hook(rx.url, maxRetries=0))
    await rx.wait_for(lambda rs: any(x.event == "connected" for x in rs))

    r = await api.client.put(f"/api/users/{boss_id}", json={"role": "user"}, headers=admin)
    assert r.status_code == 200, r.text
    seen = len(rx.requests)
    await incoming(api, boss, inst["id"], "after the demotion")
    found = await all_deliveries(api, boss, inst["id"])
    last = found[-1]
    assert last["event"] == "message_received"
    done = await wait_delivery(api, boss, inst["id"], last["id"], lambda d: d["attempts"] >= 1)
    assert done["status"] == "failed" and done["lastStatusCode"] is None
    assert done["lastError"].startswith("refused: 127.0.0.1 is a loopback address")

    r = await api.client.post(f"/api/instances/{inst['id']}/webhooks/test", headers=boss)
    assert r.status_code == 200, r.text
    assert r.json()["success"] is False and r.json()["outcome"] == "target_refused"
    assert r.json()["statusCode"] is None and "WEBHOOK_PRIVATE_URLS" in r.json()["error"]
    assert len(rx.requests) == seen  # nothing more reached the receiver


async def test_deny_policy_refuses_private_targets_even_to_admins(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start(api_factory, "deny")
    rx = await receivers()
    admin = await api.admin()
    refused(await create(api, admin, **hook(rx.url)), "private_address")
    refused(await create(api, admin, **hook("http://169.254.169.254/latest/")), "private_address")
    refused(await create(api, admin, **hook("http://localhost:9/")), "private_address")
    assert rx.requests == []


async def test_allow_policy_lets_a_user_post_to_a_local_receiver(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start(api_factory, "allow", StaticResolver({"hooks.internal": ["127.0.0.1"]}))
    rx = await receivers()
    user = await api.new_user("user@example.com")
    await api.paired_instance(user, **hook(f"http://hooks.internal:{rx.port}/hook?x=1"))
    got = await rx.wait_for(lambda rs: any(x.event == "connected" for x in rs))
    assert {x.path for x in got} == {"/hook?x=1"}
    assert {x.headers["Host"] for x in got} == {f"hooks.internal:{rx.port}"}


@pytest.mark.parametrize("policy", ["allow", "admin", "deny"])
async def test_the_servers_own_address_is_refused_under_every_policy(
    api_factory: Callable[..., Any], receivers: ReceiverFactory, policy: str
) -> None:
    """A receiver stands where the server listens (HOST 0.0.0.0, PORT = its port): nothing
    may be sent there, by any name, under any policy — saved or resolved later."""
    resolver = StaticResolver()
    own = await receivers()
    api = await start(api_factory, policy, resolver, host="0.0.0.0", port=own.port)
    admin = await api.admin()
    for url in (
        f"http://127.0.0.1:{own.port}/api/instances/x/webhooks/test",
        f"http://localhost:{own.port}/hook",
        f"http://127.0.0.2:{own.port}/hook",
        f"http://[::1]:{own.port}/hook",
        f"http://0.0.0.0:{own.port}/hook",
    ):
        refused(await create(api, admin, **hook(url)), "own_address")

    # A name nobody knows yet is saved; when it comes to point at the server, the delivery
    # is refused after resolution and the server's port sees nothing.
    inst = (await create(api, admin, **hook(f"http://later.test:{own.port}/hook"))).json()
    resolver.table["later.test"] = ["127.0.0.1"]
    r = await api.client.post(f"/api/instances/{inst['id']}/webhooks/test", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "target_refused", r.text
    assert "own address" in r.json()["error"]
    assert own.requests == []


async def test_webhooks_test_reports_outcome_classes_not_raw_errors(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    api = await start(api_factory, "admin", webhook_timeout_ms=300)
    rx = await receivers()
    admin = await api.admin()

    async def outcome(url: str) -> dict[str, Any]:
        inst = (await create(api, admin, webhookUrl=url)).json()
        r = await api.client.post(f"/api/instances/{inst['id']}/webhooks/test", headers=admin)
        assert r.status_code == 200, r.text
        return dict(r.json())

    delivered = await outcome(rx.url)
    assert (delivered["outcome"], delivered["statusCode"], delivered["error"]) == (
        "delivered",
        200,
        None,
    )
    rx.status = 503
    answered = await outcome(rx.url)
    assert (answered["outcome"], answered["statusCode"], answered["error"]) == (
        "http_status",
        503,
        "HTTP 503",
    )
    rx.status, rx.delay_s = 200, 30.0  # far beyond the 300 ms timeout, even when late
    slow = await outcome(rx.url)
    assert (slow["outcome"], slow["statusCode"], slow["error"]) == ("timeout", None, "timeout")
    closed = await outcome(f"http://127.0.0.1:{free_port()}/hook")
    assert (closed["outcome"], closed["error"]) == ("connection_refused", "connection refused")
    unknown = await outcome("http://nowhere.test/hook")
    assert unknown["outcome"] == "host_not_found"
    for result in (delivered, answered, slow, closed, unknown):
        assert result["delivery"]["lastError"] == result["error"]
        assert "Errno" not in str(result) and "Error:" not in str(result)


async def test_a_hanging_receiver_holds_up_only_its_own_instance(
    api_factory: Callable[..., Any], receivers: ReceiverFactory
) -> None:
    """Two instances on 127.0.0.1: one receiver never answers, the other does. Every event
    of the second arrives, in order, while the first holds exactly one request open; a second
    test delivery to the hanging one is refused instead of stacking up."""
    api = await start(api_factory, "admin", webhook_timeout_ms=60_000)
    hanging, answering = await receivers(delay_s=3600.0), await receivers()
    admin = await api.admin()
    stuck = await api.paired_instance(admin, **hook(hanging.url))
    fine = await api.paired_instance(admin, **hook(answering.url))
    await hanging.wait_count(1)
    first_test = asyncio.create_task(
        api.client.post(f"/api/instances/{stuck['id']}/webhooks/test", headers=admin)
    )
    await hanging.wait_count(2)  # the worker's delivery and the test, both unanswered
    r = await api.client.post(f"/api/instances/{stuck['id']}/webhooks/test", headers=admin)
    assert r.status_code == 409 and r.json()["details"]["reason"] == "test_in_flight", r.text

    for n in range(20):
        await incoming(api, admin, stuck["id"], f"stuck {n}")
        await incoming(api, admin, fine["id"], f"fine {n}")
    got = await answering.wait_for(
        lambda rs: len([x for x in rs if x.event == "message_received"]) == 20, within=30.0
    )
    bodies = [x.json()["data"]["body"] for x in got if x.event == "message_received"]
    assert bodies == [f"fine {n}" for n in range(20)]
    assert len(hanging.requests) == 2 and all(x.answered is None for x in hanging.requests)

    await hanging.stop()  # drops both open requests: the test answers with a failure
    r = await first_test
    assert r.status_code == 200 and r.json()["outcome"] == "connection_failed", r.text
