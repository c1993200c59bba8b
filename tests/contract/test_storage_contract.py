"""The storage contract: what every backend (and the unit tests' fake) must do alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.entities import (
    ActivityLog,
    Engine,
    Event,
    EventType,
    Instance,
    InstanceStatus,
    Role,
    User,
    WebhookSettings,
)

T0 = datetime(2023, 1, 1, 12, 0, tzinfo=UTC)


def user(n: int, role: Role = Role.USER) -> User:
    return User(
        id=f"u{n}",
        email=f"u{n}@example.com",
        first_name="F",
        last_name="L",
        role=role,
        password_hash="$argon2id$x",
        api_key_hash=f"hash{n}",
        api_key_sealed="sealed",
        is_active=True,
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0,
    )


def instance(n: int, user_id: str = "u1") -> Instance:
    return Instance(
        id=f"i{n}",
        user_id=user_id,
        name=f"instance {n} 中文",
        description=None,
        engine=Engine.SANDBOX,
        status=InstanceStatus.CONNECTING,
        webhook_url="https://example.com/hook",
        webhook_enabled=True,
        webhook=WebhookSettings(secret="s", headers={"X-A": "b"}),
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0,
        options={"sandbox": {"autoReceipts": False}},
    )


async def test_commit_persists_and_leaving_without_commit_rolls_back(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(2))
        # no commit
    async with storage.unit_of_work() as uow:
        assert (await uow.users.get("u1")) is not None
        assert (await uow.users.get("u2")) is None


async def test_explicit_rollback_discards_changes(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.rollback()
        await uow.users.add(user(3))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.users.get("u1") is None
        assert await uow.users.get("u3") is not None


async def test_users_round_trip_and_lookups(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        for n in (1, 2, 3):
            await uow.users.add(user(n, Role.ADMIN if n == 1 else Role.USER))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.users.get("u2")
        assert got == user(2)
        assert (await uow.users.get_by_email("u3@example.com")).id == "u3"
        assert (await uow.users.get_by_api_key_hash("hash1")).id == "u1"
        assert await uow.users.get_by_email("nobody@example.com") is None
        page, total = await uow.users.list(limit=2, skip=1)
        assert total == 3 and [u.id for u in page] == ["u2", "u3"]
        assert await uow.users.count_active_admins() == 1
        got.first_name = "Changed"
        got.token_version = 3
        await uow.users.update(got)
        await uow.users.record_login("u1", T0 + timedelta(days=1))
        await uow.users.delete("u3")
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert (await uow.users.get("u2")).first_name == "Changed"
        assert (await uow.users.get("u2")).token_version == 3
        first = await uow.users.get("u1")
        assert first.token_version == 0 and first.last_login_at == T0 + timedelta(days=1)
        assert first == replace(user(1, Role.ADMIN), last_login_at=T0 + timedelta(days=1))
        assert await uow.users.get("u3") is None


async def test_instances_round_trip_with_nested_settings(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.users.add(user(2))
        await uow.instances.add(instance(1))
        await uow.instances.add(instance(2, "u2"))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.instances.get("i1")
        assert got == instance(1)
        assert got.created_at.tzinfo is not None
        assert [i.id for i in await uow.instances.list()] == ["i1", "i2"]
        assert [i.id for i in await uow.instances.list(user_id="u2")] == ["i2"]
        got.status = InstanceStatus.CONNECTED
        got.webhook.headers = {"Y": "z"}
        await uow.instances.update(got)
        await uow.commit()
    async with storage.unit_of_work() as uow:
        again = await uow.instances.get("i1")
        assert again.status is InstanceStatus.CONNECTED and again.webhook.headers == {"Y": "z"}


async def test_deleting_an_instance_removes_its_activity_and_events(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.instances.add(instance(2))
        for iid in ("i1", "i2"):
            await uow.activity.add(ActivityLog(f"a-{iid}", iid, "created", {}, T0))
            await uow.events.add(Event(f"e-{iid}", iid, EventType.CONNECTED, {}, 1000))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.instances.get("i1") is None
        assert (
            await uow.activity.list("i1", actions=None, start=None, end=None, limit=10, skip=0)
        )[1] == 0
        assert (await uow.events.list_since("i1", since_ms=None, types=None, limit=10))[0] == []
        assert (
            await uow.activity.list("i2", actions=None, start=None, end=None, limit=10, skip=0)
        )[1] == 1


async def test_activity_filters_newest_first(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        for n, action in enumerate(
            ["created", "qr_received", "connected", "disconnected", "connected"]
        ):
            details = {"n": n, "text": "中文"}
            await uow.activity.add(
                ActivityLog(f"a{n}", "i1", action, details, T0 + timedelta(minutes=n))
            )
        await uow.commit()
    async with storage.unit_of_work() as uow:
        logs, total = await uow.activity.list(
            "i1", actions=None, start=None, end=None, limit=2, skip=0
        )
        assert total == 5 and [x.id for x in logs] == ["a4", "a3"]
        logs, total = await uow.activity.list(
            "i1", actions=["connected"], start=None, end=None, limit=10, skip=0
        )
        assert total == 2 and [x.id for x in logs] == ["a4", "a2"]
        logs, total = await uow.activity.list(
            "i1",
            actions=None,
            start=T0 + timedelta(minutes=1),
            end=T0 + timedelta(minutes=3),
            limit=10,
            skip=0,
        )
        assert [x.id for x in logs] == ["a3", "a2", "a1"]
        assert logs[0].details == {"n": 3, "text": "中文"}


async def test_events_cursor(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        assert await uow.events.last_timestamp_ms("i1") is None
        kinds = [
            EventType.QR_RECEIVED,
            EventType.CONNECTED,
            EventType.DISCONNECTED,
            EventType.CONNECTED,
        ]
        for n, kind in enumerate(kinds):
            await uow.events.add(Event(f"e{n}", "i1", kind, {"n": n}, 1000 + n))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        assert await uow.events.last_timestamp_ms("i1") == 1003
        found, more = await uow.events.list_since("i1", since_ms=None, types=None, limit=2)
        assert [e.id for e in found] == ["e0", "e1"] and more is True
        found, more = await uow.events.list_since("i1", since_ms=1001, types=None, limit=2)
        assert [e.id for e in found] == ["e2", "e3"] and more is False
        found, _ = await uow.events.list_since(
            "i1", since_ms=None, types=[EventType.CONNECTED], limit=9
        )
        assert [e.id for e in found] == ["e1", "e3"] and found[0].data == {"n": 1}


async def test_datetimes_come_back_aware_utc(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.commit()
    async with storage.unit_of_work() as uow:
        got = await uow.users.get("u1")
        assert got.created_at == T0 + timedelta(seconds=1)
        assert got.created_at.utcoffset() == timedelta(0)


async def test_instances_and_last_timestamps_read_for_a_batch(storage: Any) -> None:
    """What a batch of connection reports reads in one statement each."""
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        for n in (1, 2, 3):
            await uow.instances.add(instance(n))
        await uow.events.add(Event("e1", "i1", EventType.CONNECTED, {}, 1500))
        await uow.events.add(Event("e2", "i1", EventType.QR_RECEIVED, {}, 1700))
        await uow.events.add(Event("e3", "i3", EventType.CONNECTED, {}, 900))
        await uow.commit()
    async with storage.unit_of_work(read_only=True) as uow:
        found = await uow.instances.get_many(["i3", "missing", "i1", "i3"])
        assert sorted(found) == ["i1", "i3"]
        assert found["i1"].webhook == WebhookSettings(secret="s", headers={"X-A": "b"})
        assert found["i3"].name == "instance 3 中文"
        assert await uow.instances.get_many([]) == {}
        stamps = await uow.events.last_timestamps_ms(["i1", "i2", "i3", "missing"])
        assert stamps == {"i1": 1700, "i3": 900}
    async with storage.unit_of_work() as uow:  # a unit's own writes are what it reads
        changed = replace(instance(2), status=InstanceStatus.CONNECTED, phone="155")
        await uow.instances.update(changed)
        await uow.instances.delete("i3")
        found = await uow.instances.get_many(["i1", "i2", "i3"])
        assert sorted(found) == ["i1", "i2"]
        assert found["i2"].status is InstanceStatus.CONNECTED and found["i2"].phone == "155"
        await uow.commit()
    async with storage.unit_of_work(read_only=True) as uow:
        found = await uow.instances.get_many(["i2", "i3"])
        assert list(found) == ["i2"] and found["i2"].phone == "155"
