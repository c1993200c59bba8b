"""The composition root: every port replaceable by keyword; fakes in, nothing on disk."""

from __future__ import annotations

from pathlib import Path

from api.bootstrap import build
from api.settings import Settings
from domain.users import NewUser
from tests.fakes import (
    FakeClock,
    FakeConnections,
    FakeFetcher,
    FakeTokens,
    MemoryMediaStore,
    MemoryStorage,
    PlainBox,
    PlainHasher,
    RecordingBus,
    RecordingTransport,
    SequentialIds,
)


async def test_building_on_fakes_touches_no_disk(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = MemoryStorage()
    container = build(
        Settings(_env_file=None, data_dir=data_dir, whatsapp_engine="sandbox"),
        clock=FakeClock(),
        ids=SequentialIds(),
        storage=storage,
        bus=RecordingBus(),
        connections=FakeConnections(),
        password_hasher=PlainHasher(),
        token_service=FakeTokens(),
        secret_box=PlainBox(),
        media_store=MemoryMediaStore(),
        media_fetcher=FakeFetcher(),
        webhook_transport=RecordingTransport(),
    )
    user, api_key = await container.accounts.register(
        NewUser("a@example.com", "password-123"), check_password=True
    )
    # The fakes given by keyword are the ones the use cases use...
    assert storage.state.users[user.id].api_key_sealed == "sealed:" + api_key
    login = await container.accounts.login("a@example.com", "password-123")
    assert login.token == f"token-for-{user.id}.v0"
    # ...and no real adapter was built beside them: no JWT secret file, no database file.
    assert not data_dir.exists()
