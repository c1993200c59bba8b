"""Use cases wired to in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from domain.connection import EngineEvents
from domain.contacts import Contacts
from domain.entities import Principal
from domain.instances import Instances
from domain.media import MediaLibrary
from domain.messages import Messaging
from domain.recorder import Recorder
from domain.usage import Usage
from domain.users import Accounts, NewUser
from tests.fakes import (
    FakeClock,
    FakeConnections,
    FakeEngine,
    FakeFetcher,
    FakeTokens,
    MemoryMediaStore,
    MemoryStorage,
    PlainBox,
    PlainHasher,
    RecordingBus,
    SequentialIds,
)

MAX_MEDIA_BYTES = 1024


@dataclass
class Core:
    storage: MemoryStorage
    clock: FakeClock
    bus: RecordingBus
    connections: FakeConnections
    recorder: Recorder
    accounts: Accounts
    instances: Instances
    listener: EngineEvents
    media_store: MemoryMediaStore
    fetcher: FakeFetcher
    messaging: Messaging
    contacts: Contacts

    @property
    def engine(self) -> FakeEngine:
        return self.connections.whatsapp

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
    library = MediaLibrary(storage.unit_of_work, media_store, clock, ids)
    fetcher = FakeFetcher()
    usage = Usage(storage.unit_of_work, recorder, instances, clock)
    messaging = Messaging(
        storage.unit_of_work,
        recorder,
        instances,
        connections,
        library,
        fetcher,
        clock,
        ids,
        MAX_MEDIA_BYTES,
        usage,
        message_ids=SequentialIds("3EB0"),
    )
    return Core(
        storage,
        clock,
        bus,
        connections,
        recorder,
        accounts,
        instances,
        EngineEvents(recorder, clock, library, ids),
        media_store,
        fetcher,
        messaging,
        Contacts(storage.unit_of_work, instances, connections, clock, ids),
    )
