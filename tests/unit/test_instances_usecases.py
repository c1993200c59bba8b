"""Instance use cases on fakes: ownership, validation, state changes and their events."""

from __future__ import annotations

import pytest

from domain.entities import EventType, InstanceStatus
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.instances import InstanceChanges, NewInstance, WebhookSettingsInput
from tests.unit.conftest import Core


async def test_create_logs_activity_and_starts_the_connection(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="  Shop  ", description=""))
    assert inst.name == "Shop" and inst.description is None
    assert inst.status is InstanceStatus.CONNECTING
    assert core.connections.calls == [("start", inst.id)]
    logs, page = await core.instances.activity(owner, inst.id)
    assert [log.action for log in logs] == ["created"] and page.total == 1


async def test_foreign_instance_is_not_found(core: Core) -> None:
    alice = await core.principal("alice@example.com")
    bob = await core.principal("bob@example.com")
    inst = await core.instances.create(alice, NewInstance(name="a"))
    for call in (
        core.instances.get(bob, inst.id),
        core.instances.update(bob, inst.id, InstanceChanges(name="b")),
        core.instances.delete(bob, inst.id),
        core.instances.reconnect(bob, inst.id),
        core.instances.logout(bob, inst.id),
        core.instances.qr(bob, inst.id),
        core.instances.events(bob, inst.id),
        core.instances.activity(bob, inst.id),
    ):
        with pytest.raises(NotFound):
            await call
    assert core.connections.calls == [("start", inst.id)]


async def test_admin_reaches_any_instance(core: Core) -> None:
    alice = await core.principal("alice@example.com")
    admin = await core.principal("root@example.com", role="admin")
    inst = await core.instances.create(alice, NewInstance(name="a"))
    assert (await core.instances.get(admin, inst.id)).id == inst.id
    assert [i.id for i in await core.instances.list(admin)] == [inst.id]
    assert await core.instances.list(await core.principal("c@example.com")) == []


async def test_webhook_change_emits_webhook_updated_once(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    same = InstanceChanges(webhook=WebhookSettingsInput(max_retries=3))  # the default already
    await core.instances.update(owner, inst.id, same)
    assert core.bus.published == []
    await core.instances.update(owner, inst.id, InstanceChanges(webhook_url="https://h.example/x"))
    assert [e.type for e in core.bus.published] == [EventType.WEBHOOK_UPDATED]
    assert core.bus.published[0].data["timestamp"] == "2023-01-01T12:00:00.000Z"


async def test_invalid_update_changes_nothing(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    bad = InstanceChanges(name="b", webhook=WebhookSettingsInput(retry_interval=1))
    with pytest.raises(ValidationFailed) as err:
        await core.instances.update(owner, inst.id, bad)
    assert err.value.details["field"] == "retryInterval"
    assert (await core.instances.get(owner, inst.id)).name == "a"


async def test_qr_answers_follow_the_status(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    assert (await core.instances.qr(owner, inst.id)).generating
    await core.listener.on_qr(inst.id, "2@abc")
    assert (await core.instances.qr(owner, inst.id)).qr_code == "2@abc"
    await core.listener.on_connected(inst.id, "15550001111", "Shop")
    with pytest.raises(Conflict):
        await core.instances.qr(owner, inst.id)
    await core.listener.on_disconnected(inst.id, "network", True)
    assert (await core.instances.qr(owner, inst.id)).generating
    await core.listener.on_disconnected(inst.id, "engine_unavailable", False)
    with pytest.raises(Conflict):
        await core.instances.qr(owner, inst.id)


async def test_logged_out_instance_logout_is_a_no_op(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    await core.listener.on_logged_out(inst.id, "from phone")
    await core.instances.logout(owner, inst.id)
    assert ("logout", inst.id) not in core.connections.calls
    state = await core.instances.get(owner, inst.id)
    assert state.status is InstanceStatus.LOGGED_OUT and state.phone is None


async def test_reports_for_a_deleted_instance_are_ignored(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    await core.instances.delete(owner, inst.id)
    await core.listener.on_connected(inst.id, "1555", None)
    assert core.bus.published == []
    assert core.storage.state.instances == {}


async def test_event_types_are_checked(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    with pytest.raises(ValidationFailed):
        await core.instances.events(owner, inst.id, types=["connected", "nope"])
