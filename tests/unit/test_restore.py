"""Start-up restore on fakes: every instance not logged out comes back, a bounded number at once.

The engine here reports nothing by itself: the test settles instances one by one (publishing
their `connected` event on the real in-process bus), and looks at which ones were started."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapters.bus.memory import InMemoryEventBus
from domain.entities import Event, EventType, Instance
from domain.instances import NewInstance
from domain.restore import Restore
from tests.fakes import FakeConnections
from tests.unit.conftest import Core


class Starts(list[str]):
    """The ids started so far; `until` waits for the list to reach a state."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def add(self, instance_id: str) -> None:
        self.append(instance_id)
        self.changed.set()

    async def until(self, condition: Callable[[list[str]], bool]) -> None:
        while not condition(self):
            self.changed.clear()
            await self.changed.wait()


class ReportingConnections(FakeConnections):
    """Records starts, and tells the test about each one."""

    def __init__(self, on_start: Callable[[str], None]) -> None:
        super().__init__()
        self._on_start = on_start

    async def start(self, instance: Instance) -> None:
        await super().start(instance)
        self._on_start(instance.id)


async def _settle(bus: InMemoryEventBus, instance_id: str, type_: EventType) -> None:
    await bus.publish(Event(f"ev-{instance_id}", instance_id, type_, {}, 1))


async def test_at_most_n_instances_come_back_at_once(core: Core) -> None:
    owner = await core.principal("a@example.com")
    ids = [(await core.instances.create(owner, NewInstance(name=f"i{n}"))).id for n in range(5)]
    out = await core.instances.create(owner, NewInstance(name="out"))
    await core.listener.on_logged_out(out.id, "x")
    bus = InMemoryEventBus()
    started = Starts()
    connections = ReportingConnections(started.add)
    restore = Restore(
        uow=core.storage.unit_of_work, connections=connections, bus=bus, concurrency=2
    )
    running = asyncio.create_task(restore.run())
    await started.until(lambda s: len(s) == 2)
    for _ in range(20):  # nothing else starts while both slots are taken
        await asyncio.sleep(0)
    assert started == ids[:2]
    await _settle(bus, ids[0], EventType.QR_RECEIVED)  # a QR to scan: settled too
    await started.until(lambda s: len(s) == 3)
    await _settle(bus, ids[1], EventType.MESSAGE_RECEIVED)  # not a connection report
    for _ in range(20):
        await asyncio.sleep(0)
    assert started == ids[:3]
    await _settle(bus, ids[1], EventType.CONNECTED)
    await _settle(bus, ids[2], EventType.DISCONNECTED)
    await started.until(lambda s: len(s) == 5)
    for instance_id in ids[3:]:
        await _settle(bus, instance_id, EventType.CONNECTED)
    assert await running == 5
    assert started == ids and out.id not in started


async def test_an_instance_that_never_reports_frees_its_slot_after_the_timeout(
    core: Core,
) -> None:
    owner = await core.principal("a@example.com")
    ids = [(await core.instances.create(owner, NewInstance(name=f"i{n}"))).id for n in range(3)]
    started = Starts()
    restore = Restore(
        uow=core.storage.unit_of_work,
        connections=ReportingConnections(started.add),
        bus=InMemoryEventBus(),
        concurrency=1,
        settle_timeout_s=0.01,
    )
    assert await restore.run() == 3
    assert started == ids


async def test_an_instance_deleted_before_its_turn_is_not_started(core: Core) -> None:
    owner = await core.principal("a@example.com")
    first = await core.instances.create(owner, NewInstance(name="first"))
    gone = await core.instances.create(owner, NewInstance(name="gone"))
    bus = InMemoryEventBus()
    started = Starts()
    restore = Restore(
        uow=core.storage.unit_of_work,
        connections=ReportingConnections(started.add),
        bus=bus,
        concurrency=1,
    )
    running = asyncio.create_task(restore.run())
    await started.until(lambda s: s == [first.id])
    await core.instances.delete(owner, gone.id)
    await _settle(bus, first.id, EventType.CONNECTED)
    assert await running == 1
    assert started == [first.id]
