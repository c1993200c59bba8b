"""In-memory storage: a unit of work and one fake repository per port, as in storage/sql/."""

from __future__ import annotations

from tests.fakes.storage.activity import MemoryActivity
from tests.fakes.storage.contacts import MemoryContacts
from tests.fakes.storage.events import MemoryEvents
from tests.fakes.storage.instances import MemoryInstances
from tests.fakes.storage.media import MemoryMedia
from tests.fakes.storage.messages import MemoryMessages
from tests.fakes.storage.state import TABLES, MemoryState, UsageRow
from tests.fakes.storage.usage import MemoryUsage
from tests.fakes.storage.users import MemoryUsers
from tests.fakes.storage.webhooks import MemoryWebhooks

__all__ = ["MemoryState", "MemoryStorage", "MemoryUnitOfWork", "UsageRow"]


class MemoryUnitOfWork:
    def __init__(self, state: MemoryState, read_only: bool = False) -> None:
        self._state = state
        self._read_only = read_only

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._tables = self._state.snapshot()
        self.users = MemoryUsers(self._tables)
        self.instances = MemoryInstances(self._tables)
        self.activity = MemoryActivity(self._tables)
        self.events = MemoryEvents(self._tables)
        self.messages = MemoryMessages(self._tables)
        self.contacts = MemoryContacts(self._tables)
        self.media = MemoryMedia(self._tables)
        self.webhooks = MemoryWebhooks(self._tables)
        self.usage = MemoryUsage(self._tables)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._tables = {}

    async def commit(self) -> None:
        if self._read_only:
            # As on SQLite, where a read-only unit runs on a connection that cannot write.
            raise RuntimeError("a read-only unit of work cannot commit")
        for name in TABLES:
            setattr(self._state, name, self._tables[name])
        self._tables = self._state.snapshot()
        for repo in (
            self.users,
            self.instances,
            self.activity,
            self.events,
            self.messages,
            self.contacts,
            self.media,
            self.webhooks,
            self.usage,
        ):
            repo.t = self._tables

    async def rollback(self) -> None:
        self._tables.update(self._state.snapshot())


class MemoryStorage:
    def __init__(self) -> None:
        self.state = MemoryState()

    def unit_of_work(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state, read_only)

    async def migrate(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
