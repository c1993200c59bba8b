"""The webhook target policy for each WEBHOOK_PRIVATE_URLS value, on a resolver the test owns.

No request is made: these check which address a URL may be posted to, never post to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.net.addresses import ListeningAddress
from adapters.webhooks.targets import CheckedTargets
from domain.entities import Role, User
from domain.errors import ValidationFailed
from domain.webhook_targets import (
    PrivateTargets,
    RefusalReason,
    TargetRefused,
    WebhookTarget,
    WebhookTargetPolicy,
)
from tests.fakes import StaticResolver

NOW = datetime(2023, 1, 1, tzinfo=UTC)
PORT = 3000  # the server's own port in these tests
PUBLIC = "198.51.99.7"  # outside every special range (and never dialled: nothing is sent)
TABLE = {
    "hooks.public.test": [PUBLIC],
    "to-loopback.test": ["127.0.0.1"],
    "to-metadata.test": ["169.254.169.254"],
    "mixed.test": [PUBLIC, "10.0.0.8"],
    "v6-loopback.test": ["::1"],
}


def user(role: Role, active: bool = True) -> User:
    return User(
        id=f"{role.value}-1",
        email=f"{role.value}@example.com",
        first_name="A",
        last_name="B",
        role=role,
        password_hash="x",
        api_key_hash="y",
        api_key_sealed="z",
        is_active=active,
        created_at=NOW,
        updated_at=NOW,
    )


ADMIN, USER = user(Role.ADMIN), user(Role.USER)


def policy(
    private: PrivateTargets, resolver: StaticResolver | None = None, host: str = "0.0.0.0"
) -> WebhookTargetPolicy:
    own = ListeningAddress(host, PORT, is_local=lambda a: str(a) == "10.9.9.9")
    return WebhookTargetPolicy(CheckedTargets(resolver or StaticResolver(TABLE), own), private)


PRIVATE_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://[::1]:8080/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10:9000/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.1.1/hook",
    "http://[::ffff:127.0.0.1]:8080/hook",
    "http://0.0.0.0:8080/hook",
    "http://to-loopback.test:8080/hook",
    "http://v6-loopback.test:8080/hook",
    "http://to-metadata.test/hook",
    "http://localhost:8080/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_admin_policy_allows_private_targets_to_admins_only(url: str) -> None:
    rules = policy(PrivateTargets.ADMIN)
    await rules.check_saved(url, ADMIN)
    with pytest.raises(ValidationFailed) as refused:
        await rules.check_saved(url, USER)
    assert refused.value.details == {"field": "webhookUrl", "reason": "private_address"}
    assert "WEBHOOK_PRIVATE_URLS" in refused.value.message
    # A deactivated admin is no admin, nor is a deleted owner.
    with pytest.raises(ValidationFailed):
        await rules.check_saved(url, user(Role.ADMIN, active=False))
    with pytest.raises(TargetRefused):
        await rules.for_delivery(url, None)


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_deny_policy_refuses_private_targets_to_everyone(url: str) -> None:
    rules = policy(PrivateTargets.DENY)
    for owner in (ADMIN, USER):
        with pytest.raises(ValidationFailed) as refused:
            await rules.check_saved(url, owner)
        assert refused.value.details["reason"] == "private_address"


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_allow_policy_allows_private_targets_to_everyone(url: str) -> None:
    rules = policy(PrivateTargets.ALLOW)
    await rules.check_saved(url, USER)
    target = await rules.for_delivery(url, USER)
    assert target.url == url


@pytest.mark.parametrize("private", list(PrivateTargets))
async def test_public_targets_pass_every_policy(private: PrivateTargets) -> None:
    rules = policy(private)
    for url in (f"http://{PUBLIC}/hook", "https://hooks.public.test/x?y=1"):
        await rules.check_saved(url, USER)
        assert await rules.for_delivery(url, USER) == WebhookTarget(url, PUBLIC)


@pytest.mark.parametrize("private", list(PrivateTargets))
@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:{PORT}/api/instances/x/webhooks/test",
        f"http://localhost:{PORT}/hook",  # a name for it
        f"http://127.0.0.2:{PORT}/hook",  # HOST 0.0.0.0 listens on all of 127/8
        f"http://[::1]:{PORT}/hook",
        f"http://0.0.0.0:{PORT}/hook",
        f"http://10.9.9.9:{PORT}/hook",  # one of this machine's interfaces
        f"http://to-loopback.test:{PORT}/hook",
    ],
)
async def test_the_servers_own_address_is_refused_under_every_policy(
    private: PrivateTargets, url: str
) -> None:
    rules = policy(private)
    with pytest.raises(ValidationFailed) as refused:
        await rules.check_saved(url, ADMIN)
    assert refused.value.details == {"field": "webhookUrl", "reason": "own_address"}
    with pytest.raises(TargetRefused) as at_delivery:
        await rules.for_delivery(url, ADMIN)
    assert at_delivery.value.reason is RefusalReason.OWN_ADDRESS


async def test_own_address_is_only_the_listening_one() -> None:
    # Bound to 127.0.0.1 only: 127.0.0.2 on the same port is some other local receiver.
    rules = policy(PrivateTargets.ALLOW, host="127.0.0.1")
    with pytest.raises(ValidationFailed):
        await rules.check_saved(f"http://127.0.0.1:{PORT}/", USER)
    await rules.check_saved(f"http://127.0.0.2:{PORT}/", USER)
    await rules.check_saved(f"http://127.0.0.1:{PORT + 1}/", USER)
    # Port 80 is the server's only when it listens there.
    await rules.check_saved("http://127.0.0.1/", USER)


async def test_a_name_with_any_private_address_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        await policy(PrivateTargets.ADMIN).check_saved("http://mixed.test/hook", USER)
    assert "10.0.0.8" in refused.value.message


async def test_delivery_goes_to_the_address_checked_now_not_the_one_saved() -> None:
    """DNS rebinding: public when saved, loopback at delivery -> refused at delivery; and an
    accepted target carries the address that was checked, for the transport to dial."""
    resolver = StaticResolver({"rebind.test": [PUBLIC]})
    rules = policy(PrivateTargets.ADMIN, resolver)
    await rules.check_saved("http://rebind.test/hook", USER)
    assert await rules.for_delivery("http://rebind.test/hook", USER) == WebhookTarget(
        "http://rebind.test/hook", PUBLIC
    )
    resolver.table["rebind.test"] = ["127.0.0.1"]
    with pytest.raises(TargetRefused) as refused:
        await rules.for_delivery("http://rebind.test/hook", USER)
    assert refused.value.reason is RefusalReason.PRIVATE_ADDRESS
    assert resolver.asked == [("rebind.test", 80)] * 3


async def test_an_unknown_host_is_saved_but_never_delivered_to() -> None:
    rules = policy(PrivateTargets.DENY)
    await rules.check_saved("http://not-up-yet.test:9000/hook", USER)  # a compose service
    with pytest.raises(TargetRefused) as refused:
        await rules.for_delivery("http://not-up-yet.test:9000/hook", USER)
    assert refused.value.reason is RefusalReason.UNRESOLVABLE


async def test_literal_addresses_are_never_looked_up() -> None:
    resolver = StaticResolver()
    rules = policy(PrivateTargets.ALLOW, resolver)
    await rules.check_saved("http://127.0.0.1:8080/", USER)
    await rules.check_saved("http://[::1]:8080/", USER)
    assert resolver.asked == []
