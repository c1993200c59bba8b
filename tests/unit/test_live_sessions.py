"""Live sessions (a websocket's caller) and token versions, on fakes.

A revocation must reach a running stream through the account notice: the periodic re-check
is set to an hour in those tests, so a stream that ends within the test's wait did not
end by the timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from adapters.bus.memory import InMemoryEventBus
from adapters.bus.notices import InMemoryAccountNotices
from api.bootstrap import Container, build
from domain.entities import Principal
from domain.errors import DomainError, NotFound, Unauthorized
from domain.instances import InstanceChanges, NewInstance, WebhookSettingsInput
from domain.sessions import Credential, LiveSession, SessionRevoked
from domain.users import NewUser, UserChanges
from tests.fakes import (
    FakeClock,
    FakeConnections,
    FakeFetcher,
    FakeTokens,
    MemoryMediaStore,
    MemoryStorage,
    PlainBox,
    PlainHasher,
    RecordingTransport,
    SequentialIds,
)
from tests.unit.conftest import unit_settings

WAIT_S = 10.0  # only bounds a hang; far below the hour-long re-check


@dataclass
class World:
    c: Container
    clock: FakeClock
    notices: InMemoryAccountNotices
    admin: Principal
    user: Principal
    user_key: str

    async def token(self, email: str = "u@example.com") -> str:
        return (await self.c.accounts.login(email, "password-123")).token

    def session(self, **credential: str) -> LiveSession:
        return self.c.accounts.live_session(Credential(**credential))


async def make_world(recheck_ms: int) -> World:
    clock, notices = FakeClock(), InMemoryAccountNotices()
    settings = unit_settings().model_copy(update={"auth_recheck_interval_ms": recheck_ms})
    c = build(
        settings,
        clock=clock,
        ids=SequentialIds(),
        storage=MemoryStorage(),
        bus=InMemoryEventBus(),
        account_notices=notices,
        connections=FakeConnections(),
        password_hasher=PlainHasher(),
        token_service=FakeTokens(clock, timedelta(hours=1)),
        secret_box=PlainBox(),
        media_store=MemoryMediaStore(),
        media_fetcher=FakeFetcher(),
        webhook_transport=RecordingTransport(),
    )
    root, _ = await c.accounts.register(
        NewUser("root@example.com", "password-123", role="admin"), check_password=True
    )
    user, key = await c.accounts.register(
        NewUser("u@example.com", "password-123", role="admin"), check_password=True
    )
    return World(c, clock, notices, Principal(root), Principal(user), key)


@pytest.fixture
async def world() -> World:
    return await make_world(recheck_ms=3_600_000)


async def never() -> AsyncIterator[int]:
    await asyncio.Event().wait()
    yield 0


async def allowed(_: Principal) -> None:
    return None


async def watched(w: World, user_id: str) -> None:
    """Until a stream of the user watches its account (the stream starts in another task)."""
    while w.notices.watcher_count(user_id) == 0:  # noqa: ASYNC110 - nothing to wait on
        await asyncio.sleep(0)


async def revoked_by(
    w: World, session: LiveSession, change: Callable[[], Any], check: Any = allowed
) -> DomainError:
    """Starts a guarded stream, waits until it watches, makes the change, returns the reason."""
    principal = await session.principal()
    stream = session.guard(principal, never(), check)
    pending = asyncio.ensure_future(anext(stream))
    await watched(w, principal.user_id)
    await change()
    with pytest.raises(SessionRevoked) as ended:
        await asyncio.wait_for(pending, WAIT_S)
    assert w.notices.watcher_count(principal.user_id) == 0
    return ended.value.reason


async def test_every_operation_resolves_the_caller_again(world: World) -> None:
    w = world
    session = w.session(api_key=w.user_key)
    assert (await session.principal()).is_admin
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(role="user"))
    assert not (await session.principal()).is_admin  # demoted: the next operation knows
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(is_active=False))
    with pytest.raises(Unauthorized):
        await session.principal()


@pytest.mark.parametrize(
    "changes",
    [
        UserChanges(password="new-password-1"),
        UserChanges(is_active=False),
        UserChanges(role="user"),
    ],
    ids=["password", "deactivation", "demotion"],
)
async def test_a_token_issued_before_a_change_is_revoked(world: World, changes: Any) -> None:
    w = world
    token = await w.token()
    await w.c.accounts.update_user(w.admin, w.user.user_id, changes)
    if changes.is_active is False:
        await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(is_active=True))
    with pytest.raises(Unauthorized, match="revoked"):
        await w.c.accounts.principal_from_token(token)
    password = changes.password or "password-123"
    fresh = (await w.c.accounts.login("u@example.com", password)).token
    assert (await w.c.accounts.principal_from_token(fresh)).user_id == w.user.user_id
    # the API key is not a session: it stays valid
    assert (await w.c.accounts.principal_from_api_key(w.user_key)).user_id == w.user.user_id


async def test_other_changes_keep_tokens(world: World) -> None:
    w = world
    token = await w.token()
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(first_name="Renamed"))
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(role="admin"))
    assert (await w.c.accounts.principal_from_token(token)).user.first_name == "Renamed"


async def test_a_stream_ends_when_the_user_is_deactivated(world: World) -> None:
    w = world
    change = w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(is_active=False))
    reason = await revoked_by(w, w.session(api_key=w.user_key), lambda: change)
    assert isinstance(reason, Unauthorized)


async def test_a_stream_ends_when_the_user_is_deleted(world: World) -> None:
    w = world
    change = w.c.accounts.delete_user(w.admin, w.user.user_id)
    reason = await revoked_by(w, w.session(token=await w.token()), lambda: change)
    assert isinstance(reason, Unauthorized)


async def test_a_stream_ends_when_its_key_is_rotated(world: World) -> None:
    w = world
    change = w.c.accounts.rotate_api_key(w.user)
    reason = await revoked_by(w, w.session(api_key=w.user_key), lambda: change)
    assert reason.message == "Invalid API key"


async def test_a_stream_ends_when_the_password_changes(world: World) -> None:
    w = world
    changes = UserChanges(password="new-password-1")
    change = w.c.accounts.update_user(w.admin, w.user.user_id, changes)
    reason = await revoked_by(w, w.session(token=await w.token()), lambda: change)
    assert "revoked" in reason.message


async def test_a_stream_ends_when_access_to_the_instance_goes(world: World) -> None:
    """A demoted admin's key still works, but no longer for another user's instance."""
    w = world
    instance = await w.c.instances.create(w.admin, NewInstance(name="root's"))
    session = w.session(api_key=w.user_key)
    events = w.c.instances.follow(session, instance.id)
    pending = asyncio.ensure_future(anext(events))
    await watched(w, w.user.user_id)
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(role="user"))
    with pytest.raises(SessionRevoked) as ended:
        await asyncio.wait_for(pending, WAIT_S)
    assert isinstance(ended.value.reason, NotFound)
    assert (await session.principal()).user_id == w.user.user_id  # the key itself still works


async def test_a_followed_instance_streams_its_events_and_releases_the_watch(world: World) -> None:
    w = world
    instance = await w.c.instances.create(w.user, NewInstance(name="own"))
    events = w.c.instances.follow(w.session(api_key=w.user_key), instance.id)
    pending = asyncio.ensure_future(anext(events))
    await watched(w, w.user.user_id)
    await w.c.instances.update(w.user, instance.id, _webhook_change())
    event = await asyncio.wait_for(pending, WAIT_S)
    assert event.instance_id == instance.id and event.type == "webhook_updated"
    await events.aclose()
    assert w.notices.watcher_count(w.user.user_id) == 0


async def test_following_a_foreign_instance_is_an_ordinary_error(world: World) -> None:
    w = world
    await w.c.accounts.update_user(w.admin, w.user.user_id, UserChanges(role="user"))
    instance = await w.c.instances.create(w.admin, NewInstance(name="root's"))
    events = w.c.instances.follow(w.session(api_key=w.user_key), instance.id)
    with pytest.raises(NotFound):
        await anext(events)
    assert w.notices.watcher_count(w.user.user_id) == 0


async def test_an_expired_token_ends_the_stream_at_the_next_check() -> None:
    w = await make_world(recheck_ms=10)
    session = w.session(token=await w.token())

    async def expire() -> None:
        w.clock.advance(hours=1)

    reason = await revoked_by(w, session, expire)
    assert reason.message == "Token expired"


async def test_storage_trouble_is_not_a_revocation(caplog: pytest.LogCaptureFixture) -> None:
    w = await make_world(recheck_ms=10)
    calls: list[int] = []

    async def flaky(_: Principal) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        if len(calls) == 4:
            raise NotFound("gone")

    async def nothing() -> None:
        return None

    with caplog.at_level(logging.WARNING, logger="domain.sessions"):
        reason = await revoked_by(w, w.session(api_key=w.user_key), nothing, flaky)
    assert isinstance(reason, NotFound) and len(calls) == 4
    assert "re-checking a live session failed" in caplog.text


async def test_a_caller_deleted_after_it_was_resolved_cannot_create_an_instance(
    world: World,
) -> None:
    w = world
    await w.c.accounts.delete_user(w.admin, w.user.user_id)
    with pytest.raises(Unauthorized):
        await w.c.instances.create(w.user, NewInstance(name="orphan"))
    assert await w.c.instances.list(w.admin) == []


def _webhook_change() -> InstanceChanges:
    return InstanceChanges(webhook=WebhookSettingsInput(retry_interval=100_001))
