"""Use cases wired to in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from domain.connection import ConnectionEvents
from domain.entities import Principal
from domain.instances import Instances
from domain.recorder import Recorder
from domain.users import Accounts, NewUser
from tests.fakes import (
    FakeClock,
    FakeConnections,
    FakeTokens,
    MemoryMediaStore,
    MemoryStorage,
    PlainBox,
    PlainHasher,
    RecordingBus,
    SequentialIds,
)


@dataclass
class Core:
    storage: MemoryStorage
    clock: FakeClock
    bus: RecordingBus
    connections: FakeConnections
    recorder: Recorder
    accounts: Accounts
    instances: Instances
    listener: ConnectionEvents

    async def principal(self, email: str, role: str = "user") -> Principal:
        user, _ = await self.accounts.register(
            NewUser(email, "password-123", role=role), check_password=True
        )
        return Principal(user)


@pytest.fixture
def core() -> Core:
    storage, clock, bus, ids = MemoryStorage(), FakeClock(), RecordingBus(), SequentialIds()
    connections = FakeConnections()
    recorder = Recorder(storage.unit_of_work, bus, clock, ids)
    media_store = MemoryMediaStore()
    accounts = Accounts(
        storage.unit_of_work,
        PlainHasher(),
        FakeTokens(),
        PlainBox(),
        clock,
        ids,
        connections,
        media_store,
    )
    instances = Instances(
        storage.unit_of_work, recorder, connections, bus, clock, ids, "sandbox", media_store
    )
    return Core(
        storage,
        clock,
        bus,
        connections,
        recorder,
        accounts,
        instances,
        ConnectionEvents(recorder, clock),
    )
