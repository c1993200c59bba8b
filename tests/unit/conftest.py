"""Use cases built by `api.bootstrap.build()` on in-memory fakes: the same wiring as the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from api.bootstrap import build
from api.settings import Settings
from domain.connection import EngineEvents
from domain.contacts import Contacts
from domain.entities import Principal
from domain.instances import Instances
from domain.messages import Messaging
from domain.recorder import Recorder
from domain.usage import Usage
from domain.users import Accounts, NewUser
from domain.webhook_delivery import Webhooks
from domain.webhook_dispatcher import WebhookDispatcher
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
    RecordingTransport,
    SequentialIds,
    StaticResolver,
)

MAX_MEDIA_BYTES = 1024

# A directory that does not exist and cannot be created: an adapter that touched the disk
# while the unit tests build on fakes would fail loudly instead of writing somewhere.
NO_DISK = Path("/nonexistent/wamux-unit-tests")


def unit_settings() -> Settings:
    return Settings(
        _env_file=None,
        data_dir=NO_DISK,
        jwt_secret="unit-test-secret",
        whatsapp_engine="sandbox",
        media_max_bytes=MAX_MEDIA_BYTES,
        auth_cache_ttl_ms=0,
        # The target policy has tests of its own (test_webhook_targets.py).
        webhook_private_urls="allow",
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
    listener: EngineEvents
    media_store: MemoryMediaStore
    fetcher: FakeFetcher
    messaging: Messaging
    contacts: Contacts
    usage: Usage
    webhooks: Webhooks
    dispatcher: WebhookDispatcher
    transport: RecordingTransport

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
    storage, clock, bus = MemoryStorage(), FakeClock(), RecordingBus()
    connections, media_store, fetcher = FakeConnections(), MemoryMediaStore(), FakeFetcher()
    transport = RecordingTransport()
    c = build(
        unit_settings(),
        clock=clock,
        ids=SequentialIds(),
        message_ids=SequentialIds("3EB0"),
        storage=storage,
        bus=bus,
        connections=connections,
        password_hasher=PlainHasher(),
        token_service=FakeTokens(),
        secret_box=PlainBox(),
        media_store=media_store,
        media_fetcher=fetcher,
        webhook_transport=transport,
        resolver=StaticResolver(),
    )
    return Core(
        storage=storage,
        clock=clock,
        bus=bus,
        connections=connections,
        recorder=c.recorder,
        accounts=c.accounts,
        instances=c.instances,
        listener=c.listener,
        media_store=media_store,
        fetcher=fetcher,
        messaging=c.messaging,
        contacts=c.contacts,
        usage=c.usage,
        webhooks=c.webhooks,
        dispatcher=c.dispatcher,
        transport=transport,
    )
