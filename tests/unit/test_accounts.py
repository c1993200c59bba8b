"""Account use cases on fakes."""

from __future__ import annotations

import pytest

from domain.entities import Principal
from domain.errors import Conflict, Forbidden, Unauthorized
from domain.users import NewUser, UserChanges
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
        await core.accounts.principal_from_token("token-for-" + user.user_id)
    assert isinstance(admin, Principal)
