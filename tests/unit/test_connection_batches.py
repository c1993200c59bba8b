"""Connection reports that arrive together are written in one unit of work, and each still
gets its state, its event (with a timestamp of its own instance's sequence) and its webhook;
a report that fails in a batch fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.entities import EventType, Instance, InstanceStatus
from domain.instances import NewInstance
from domain.recorder import InstanceTransaction
from tests.unit.conftest import Core


def count_units(core: Core) -> list[int]:
    """Counts the units of work the recorder opens from now on."""
    opened = [0]
    factory = core.recorder.uow_factory

    def counting(*, read_only: bool = False) -> Any:
        opened[0] += 1
        return factory(read_only=read_only)

    core.recorder.uow_factory = counting
    return opened


async def test_reports_arriving_together_share_one_unit_of_work(core: Core) -> None:
    owner = await core.principal("a@example.com")
    ids = [
        (
            await core.instances.create(
                owner,
                NewInstance(
                    name=f"i{n}", webhook_url="https://example.com/hook", webhook_enabled=True
                ),
            )
        ).id
        for n in range(30)
    ]
    core.bus.published.clear()
    units = count_units(core)
    await asyncio.gather(
        *(core.listener.on_connecting(i) for i in ids),
        *(core.listener.on_connected(i, f"1555000{n:04d}", f"P{n}") for n, i in enumerate(ids)),
    )
    assert units[0] <= 2  # 60 reports: one unit per batch, not one per report
    async with core.storage.unit_of_work(read_only=True) as uow:
        stored = await uow.instances.get_many(ids)
        pending = await uow.webhooks.list(ids[0], status=None, event=None, limit=10, skip=0)
    for n, iid in enumerate(ids):
        assert stored[iid].status is InstanceStatus.CONNECTED
        assert stored[iid].phone == f"1555000{n:04d}" and stored[iid].push_name == f"P{n}"
    connected = [e for e in core.bus.published if e.type is EventType.CONNECTED]
    assert sorted(e.instance_id for e in connected) == sorted(ids)
    assert [d.event for d in pending[0]] == ["connected"]


async def test_a_report_failing_in_a_batch_fails_alone(core: Core) -> None:
    owner = await core.principal("a@example.com")
    ids = [(await core.instances.create(owner, NewInstance(name=f"i{n}"))).id for n in range(3)]

    async def broken(instance: Instance, txn: InstanceTransaction) -> None:
        await txn.emit(EventType.CONNECTED, {}, instance)
        raise RuntimeError("this report cannot be applied")

    results = await asyncio.gather(
        core.listener.on_connected(ids[0], "15550000001", None),
        core.listener._apply(ids[1], broken),
        core.listener.on_connected(ids[2], "15550000003", None),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError)
    async with core.storage.unit_of_work(read_only=True) as uow:
        stored = await uow.instances.get_many(ids)
    assert stored[ids[0]].status is InstanceStatus.CONNECTED
    assert stored[ids[1]].status is not InstanceStatus.CONNECTED
    assert stored[ids[2]].status is InstanceStatus.CONNECTED
    connected = {e.instance_id for e in core.bus.published if e.type is EventType.CONNECTED}
    assert connected == {ids[0], ids[2]}  # the failed report's event was rolled back


async def test_a_report_whose_caller_went_away_before_its_batch_is_left_out(core: Core) -> None:
    owner = await core.principal("a@example.com")
    first, second = [
        (await core.instances.create(owner, NewInstance(name=f"i{n}"))).id for n in range(2)
    ]
    running = asyncio.create_task(core.listener.on_connected(first, "15550000001", None))
    gone = asyncio.create_task(core.listener.on_connected(second, "15550000002", None))
    await asyncio.sleep(0)  # both queued; the batch has not started
    gone.cancel()
    await running
    with pytest.raises(asyncio.CancelledError):
        await gone
    async with core.storage.unit_of_work(read_only=True) as uow:
        stored = await uow.instances.get_many([first, second])
    assert stored[first].status is InstanceStatus.CONNECTED
    assert stored[second].status is not InstanceStatus.CONNECTED
