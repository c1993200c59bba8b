"""Rules both APIs share, written once in the domain: API-call counting, user-stats totals,
the events cursor, the upload size cap and the "instance must be connected" check."""

from __future__ import annotations

import pytest

from domain.entities import Event, EventType, InstanceStatus
from domain.errors import Conflict, ValidationFailed
from domain.event_log import latest_timestamp_ms
from domain.instances import NewInstance
from domain.media import read_capped
from tests.unit.conftest import MAX_MEDIA_BYTES, Core


async def test_management_calls_are_not_counted_but_every_other_call_is(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a", limits={"maxApiCalls": 2}))
    await core.usage.api_call(owner, inst.id, "send_text")
    await core.usage.api_call(owner, inst.id, "instance_status")
    # The cap is used up, yet the owner can still change (raise it) or delete the instance.
    await core.usage.api_call(owner, inst.id, "update_instance")
    await core.usage.api_call(owner, inst.id, "delete_instance")
    total, _ = await core.usage.for_instance(owner, inst.id, "today")
    assert total["api_calls"] == 2


async def test_user_stats_total_sums_the_users_instances(core: Core) -> None:
    owner = await core.principal("a@example.com")
    stranger = await core.principal("b@example.com")
    one = await core.instances.create(owner, NewInstance(name="one"))
    two = await core.instances.create(owner, NewInstance(name="two"))
    other = await core.instances.create(stranger, NewInstance(name="other"))
    await core.usage.count(one.id, {"messages_sent": 2, "media_bytes": 10})
    await core.usage.count(two.id, {"messages_sent": 3})
    await core.usage.count(other.id, {"messages_sent": 100})
    usage = await core.usage.for_user(owner, "week")
    assert [r.instance.name for r in usage.instances] == ["one", "two"]
    assert usage.total["messages_sent"] == 5 and usage.total["media_bytes"] == 10
    assert usage.total["api_calls"] == 0


def test_events_cursor_is_the_last_event_or_else_since_to_the_millisecond() -> None:
    events = [Event(f"e{n}", "i", EventType.CONNECTED, {}, 1_672_574_400_000 + n) for n in (1, 2)]
    assert latest_timestamp_ms(events, "2000-01-01T00:00:00Z") == 1_672_574_400_002
    assert latest_timestamp_ms([], "2023-01-01T12:00:00.123456Z") == 1_672_574_400_123
    assert latest_timestamp_ms([], None) is None


async def test_an_upload_is_read_no_further_than_the_cap() -> None:
    asked: list[int] = []

    async def read(n: int) -> bytes:
        asked.append(n)
        return b"x" * min(n, MAX_MEDIA_BYTES + 500)

    with pytest.raises(ValidationFailed, match=f"larger than the {MAX_MEDIA_BYTES} bytes"):
        await read_capped(read, None, MAX_MEDIA_BYTES)
    assert asked == [MAX_MEDIA_BYTES + 1]
    with pytest.raises(ValidationFailed):  # a declared size over the cap: nothing is read
        await read_capped(read, MAX_MEDIA_BYTES + 1, MAX_MEDIA_BYTES)
    assert asked == [MAX_MEDIA_BYTES + 1]
    assert await read_capped(read, None, MAX_MEDIA_BYTES + 500) == b"x" * (MAX_MEDIA_BYTES + 500)


async def test_sending_and_the_address_book_need_a_connected_instance(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="a"))
    for call in (
        core.messaging.send_text(owner, inst.id, "15550001111", "hi"),
        core.contacts.from_whatsapp(owner, inst.id),
    ):
        with pytest.raises(Conflict) as refused:
            await call
        assert refused.value.details == {"instanceStatus": InstanceStatus.CONNECTING.value}
        assert "is not connected (status: connecting)" in str(refused.value)
    assert core.engine.sent == []
