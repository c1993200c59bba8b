"""The MongoDB unit of work and storage: the client, the indexes made on start, the ping."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from pymongo import AsyncMongoClient

from adapters.storage.mongo import chats as chat_counts
from adapters.storage.mongo.activity import MongoActivity
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.contacts import MongoContacts
from adapters.storage.mongo.events import MongoEvents
from adapters.storage.mongo.instances import MongoInstances
from adapters.storage.mongo.media import MongoMedia
from adapters.storage.mongo.messages import MongoMessages
from adapters.storage.mongo.unit import MongoUnit, WriteTurn
from adapters.storage.mongo.usage import MongoUsage
from adapters.storage.mongo.users import MongoUsers
from adapters.storage.mongo.webhooks import MongoWebhooks
from adapters.storage.mongo.windows import ListEdges
from domain.ports import (
    ActivityRepository,
    ContactRepository,
    EventRepository,
    InstanceRepository,
    MediaRepository,
    MessageRepository,
    NoStorageTelemetry,
    SecretBox,
    StorageTelemetry,
    UsageRepository,
    UserRepository,
    WebhookRepository,
)

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "wamux"
# The schema this release's documents have: the SQL schema's revision (same columns).
SCHEMA_KEY = "schema"


class MongoUnitOfWork:
    # Typed as the ports, so mypy checks every Mongo repository against its Protocol.
    users: UserRepository
    instances: InstanceRepository
    activity: ActivityRepository
    events: EventRepository
    messages: MessageRepository
    contacts: ContactRepository
    media: MediaRepository
    webhooks: WebhookRepository
    usage: UsageRepository

    def __init__(self, storage: MongoStorage, read_only: bool) -> None:
        self._storage = storage
        self._read_only = read_only

    async def __aenter__(self) -> MongoUnitOfWork:
        storage = self._storage
        self._unit = unit = MongoUnit(
            storage.client, storage.turn, self._read_only, storage.telemetry
        )
        db, box = storage.collections, storage.box
        self.users = MongoUsers(unit, db)
        self.instances = MongoInstances(unit, db, box)
        self.activity = MongoActivity(unit, db)
        self.events = MongoEvents(unit, db)
        self.messages = MongoMessages(unit, db, storage.chat_edges)
        self.contacts = MongoContacts(unit, db)
        self.media = MongoMedia(unit, db)
        self.webhooks = MongoWebhooks(unit, db)
        self.usage = MongoUsage(unit, db)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._unit.close()

    async def commit(self) -> None:
        await self._unit.commit()

    async def rollback(self) -> None:
        await self._unit.rollback()


class MongoStorage:
    """Owns the client; hands out units of work (unit.py: a transaction per writing unit).

    Needs a server with transactions: a replica set (one node is enough) or a sharded
    cluster; `migrate()` refuses a standalone mongod with a message saying so."""

    def __init__(
        self,
        url: str,
        box: SecretBox,
        *,
        telemetry: StorageTelemetry | None = None,
        **client_options: Any,
    ) -> None:
        self.url = url
        self.box = box
        self.telemetry: StorageTelemetry = telemetry or NoStorageTelemetry()
        options: dict[str, Any] = {"tz_aware": True, "serverSelectionTimeoutMS": 5000}
        options.update(client_options)
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, **options)
        self.database = database_name(url)
        self.collections = Collections(self.client[self.database])
        self.turn = WriteTurn()
        self.chat_edges = ListEdges()  # the conversation lists' bounds (windows.py)

    def unit_of_work(self, *, read_only: bool = False) -> MongoUnitOfWork:
        return MongoUnitOfWork(self, read_only)

    async def migrate(self) -> None:
        await self._require_transactions()
        await self.collections.create_indexes()
        made = await chat_counts.make_counts(self.collections)
        if made:
            log.info("counted the chats of %d instances (conversation list totals)", made)
        from adapters.storage.mongo.inventory import schema_head

        await self.collections.meta.update_one(
            {"_id": SCHEMA_KEY}, {"$set": {"version": schema_head()}}, upsert=True
        )

    async def _require_transactions(self) -> None:
        hello = await self.client.admin.command("hello")
        if hello.get("setName") or hello.get("msg") == "isdbgrid":
            return
        raise RuntimeError(
            "DATABASE_URL points at a standalone MongoDB server, which has no transactions: "
            "run it as a replica set (one node is enough: mongod --replSet rs0, then "
            "rs.initiate()), as docker-compose.yml does"
        )

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()


def database_name(url: str) -> str:
    """The database the URL names (`mongodb://host/wamux`), or `wamux` when it names none.

    Read from the text, not with pymongo's parse_uri: for `mongodb+srv://` that looks the
    host up in DNS, which settings validation must not do."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        raise ValueError("DATABASE_URL must start with mongodb:// or mongodb+srv://")
    _hosts, slash, path = rest.partition("/")
    name = unquote(path.split("?", 1)[0]) if slash else ""
    if any(c in name for c in '/\\. "$'):
        raise ValueError(f"DATABASE_URL names an invalid database {name!r}")
    return name or DEFAULT_DATABASE
