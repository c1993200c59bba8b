"""Account use cases on fakes."""

from __future__ import annotations

import pytest

from adapters.bus.notices import InMemoryAccountNotices
from domain.entities import Principal
from domain.errors import Conflict, Forbidden, NotFound, Unauthorized
from domain.users import NewUser, UserChanges
from tests.fakes import FakeTokens, MemoryMediaStore, PlainBox, PlainHasher
from tests.unit.conftest import Core


async def test_login_checks_password_and_reveals_the_api_key(core: Core) -> None:
    user, api_key = await core.accounts.register(
        NewUser("A@Example.com", "password-123"), check_password=True
    )
    result = await core.accounts.login("a@example.com", "password-123")
    assert result.user.id == user.id and result.api_key == api_key
    assert result.user.last_login_at == core.clock.now()
    with pytest.raises(Unauthorized):
        await core.accounts.login("a@example.com", "wrong-password")
    with pytest.raises(Unauthorized):
        await core.accounts.login("b@example.com", "password-123")


async def test_api_key_is_stored_only_as_hash_and_sealed(core: Core) -> None:
    user, api_key = await core.accounts.register(
        NewUser("a@example.com", "password-123"), check_password=True
    )
    stored = core.storage.state.users[user.id]
    assert api_key not in (stored.api_key_hash, stored.password_hash)
    assert (await core.accounts.principal_from_api_key(api_key)).user_id == user.id


async def test_ensure_admin_runs_once(core: Core) -> None:
    assert await core.accounts.ensure_admin("root@example.com", "pw", "R", "T") is True
    assert await core.accounts.ensure_admin("root@example.com", "other", "R", "T") is False
    assert len(core.storage.state.users) == 1


async def test_last_admin_cannot_be_demoted(core: Core) -> None:
    root = await core.principal("root@example.com", role="admin")
    other = await core.principal("other@example.com", role="admin")
    await core.accounts.update_user(other, root.user_id, UserChanges(role="user"))
    with pytest.raises(Conflict):
        await core.accounts.update_user(root, other.user_id, UserChanges(is_active=False))


async def test_users_cannot_administer(core: Core) -> None:
    plain = await core.principal("u@example.com")
    with pytest.raises(Forbidden):
        await core.accounts.list_users(plain, None, None)
    with pytest.raises(Forbidden):
        await core.accounts.create_user(plain, NewUser("x@example.com", "password-123"))


async def test_deleting_a_user_destroys_their_instances(core: Core) -> None:
    from domain.instances import NewInstance

    admin = await core.principal("root@example.com", role="admin")
    user = await core.principal("u@example.com")
    inst = await core.instances.create(user, NewInstance(name="x"))
    await core.accounts.delete_user(admin, user.user_id)
    assert ("destroy", inst.id) in core.connections.calls
    assert core.storage.state.instances == {}
    with pytest.raises(Unauthorized):
        await core.accounts.principal_from_token(f"token-for-{user.user_id}.v0")
    assert isinstance(admin, Principal)


def test_principal_cache_expires_and_can_be_off() -> None:
    from domain.sessions import PrincipalCache

    now = [100.0]
    cache = PrincipalCache(2.0, now=lambda: now[0])
    who = Principal.__new__(Principal)
    assert cache.put("key:a", who, cache.generation) is who and cache.get("key:a") is who
    now[0] += 2.5
    assert cache.get("key:a") is None
    cache.put("key:a", who, cache.generation)
    cache.clear()
    assert cache.get("key:a") is None
    off = PrincipalCache(0.0, now=lambda: now[0])
    off.put("key:a", who, off.generation)
    assert off.get("key:a") is None


def test_a_lookup_that_started_before_a_clear_is_not_cached() -> None:
    from domain.sessions import PrincipalCache

    cache = PrincipalCache(60.0)
    who = Principal.__new__(Principal)
    before = cache.generation  # a lookup reads the user...
    cache.clear()  # ...the account changes meanwhile...
    assert cache.put("key:a", who, before) is who  # ...its answer is used once, not kept
    assert cache.get("key:a") is None
    cache.put("key:a", who, cache.generation)
    assert cache.get("key:a") is who


async def test_cached_key_stops_working_as_soon_as_it_is_rotated(core: Core) -> None:
    from domain.users import Accounts

    _, api_key = await core.accounts.register(
        NewUser("c@example.com", "password-123"), check_password=True
    )
    cached = Accounts(
        uow=core.storage.unit_of_work,
        hasher=PlainHasher(),
        tokens=FakeTokens(),
        box=PlainBox(),
        clock=core.clock,
        ids=lambda: "id-x",
        connections=core.connections,
        media_store=MemoryMediaStore(),
        notices=InMemoryAccountNotices(),
        principal_ttl_s=60.0,
    )
    principal = await cached.principal_from_api_key(api_key)
    assert (await cached.principal_from_api_key(api_key)).user_id == principal.user_id
    await cached.rotate_api_key(principal)
    with pytest.raises(Unauthorized):
        await cached.principal_from_api_key(api_key)


async def test_an_admin_rotates_another_users_key_and_the_cached_one_stops(core: Core) -> None:
    from domain.users import Accounts

    admin = await core.principal("root@example.com", role="admin")
    _, api_key = await core.accounts.register(
        NewUser("d@example.com", "password-123"), check_password=True
    )
    cached = Accounts(
        uow=core.storage.unit_of_work,
        hasher=PlainHasher(),
        tokens=FakeTokens(),
        box=PlainBox(),
        clock=core.clock,
        ids=lambda: "id-y",
        connections=core.connections,
        media_store=MemoryMediaStore(),
        notices=InMemoryAccountNotices(),
        principal_ttl_s=60.0,
    )
    victim = await cached.principal_from_api_key(api_key)
    with pytest.raises(Forbidden):
        await cached.rotate_user_api_key(victim, victim.user_id)
    user, new_key = await cached.rotate_user_api_key(admin, victim.user_id)
    assert user.id == victim.user_id and new_key != api_key
    with pytest.raises(Unauthorized):
        await cached.principal_from_api_key(api_key)
    assert (await cached.principal_from_api_key(new_key)).user_id == victim.user_id
    with pytest.raises(NotFound):
        await cached.rotate_user_api_key(admin, "no-such-user")
