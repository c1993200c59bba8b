"""The collections (named after the SQL tables) and the indexes behind every query."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]

# Only unread received messages are in it: marking a chat read finds them without walking
# the chat's history. Queries repeat this condition to use it.
UNREAD = {"from_me": False, "status": "received"}

# Ascending keys where a query has a time range: read backwards for newest-first pages, and
# kept clear of SecantusDB's bound handling on descending keys (README: "SecantusDB").
INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        IndexModel([("email", ASCENDING)], unique=True, name="uq_users_email"),
        IndexModel([("api_key_hash", ASCENDING)], unique=True, name="uq_users_api_key_hash"),
        IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="ix_users_created"),
    ],
    "instances": [
        IndexModel(
            [("user_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
            name="ix_instances_user_created",
        ),
        IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)], name="ix_instances_created"),
    ],
    "activity_logs": [
        IndexModel(
            [("instance_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
            name="ix_activity_logs_instance_created",
        ),
    ],
    "events": [
        IndexModel([("seq", ASCENDING)], unique=True, name="uq_events_seq"),
        IndexModel(
            [("instance_id", ASCENDING), ("timestamp_ms", ASCENDING), ("seq", ASCENDING)],
            name="ix_events_instance_ts",
        ),
    ],
    "messages": [
        IndexModel(
            [("instance_id", ASCENDING), ("message_id", ASCENDING)],
            unique=True,
            name="uq_messages_instance_message",
        ),
        IndexModel(
            [
                ("instance_id", ASCENDING),
                ("remote_jid", ASCENDING),
                ("created_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="ix_messages_chat_created",
        ),
        IndexModel(
            [("instance_id", ASCENDING), ("created_at", ASCENDING)],
            name="ix_messages_instance_created",
        ),
        IndexModel(
            [
                ("instance_id", ASCENDING),
                ("remote_jid", ASCENDING),
                ("created_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="ix_messages_unread",
            partialFilterExpression=UNREAD,
        ),
        # A live switch's catch-up finds what changed since its snapshot by `updated_at`.
        IndexModel([("updated_at", ASCENDING)], name="ix_messages_updated"),
    ],
    "chat_summaries": [
        IndexModel(
            [("instance_id", ASCENDING), ("last_at", DESCENDING), ("remote_jid", ASCENDING)],
            name="ix_chat_summaries_recent",
        ),
    ],
    "contacts": [
        IndexModel(
            [("instance_id", ASCENDING), ("remote_jid", ASCENDING)],
            unique=True,
            name="uq_contacts_instance_jid",
        ),
        IndexModel(
            [("instance_id", ASCENDING), ("number", ASCENDING)], name="ix_contacts_instance_number"
        ),
        IndexModel([("updated_at", ASCENDING)], name="ix_contacts_updated"),
    ],
    "media": [IndexModel([("instance_id", ASCENDING)], name="ix_media_instance")],
    "webhook_deliveries": [
        IndexModel([("seq", ASCENDING)], unique=True, name="uq_webhook_deliveries_seq"),
        IndexModel(
            [("status", ASCENDING), ("instance_id", ASCENDING), ("seq", ASCENDING)],
            name="ix_webhook_deliveries_pending",
        ),
        IndexModel(
            [("instance_id", ASCENDING), ("seq", ASCENDING)],
            name="ix_webhook_deliveries_instance",
        ),
        IndexModel([("updated_at", ASCENDING)], name="ix_webhook_deliveries_updated"),
    ],
    "usage_daily": [
        IndexModel([("instance_id", ASCENDING), ("day", ASCENDING)], name="ix_usage_instance_day"),
        IndexModel([("day", ASCENDING)], name="ix_usage_day"),
    ],
    "limit_notices": [IndexModel([("instance_id", ASCENDING)], name="ix_limit_notices_instance")],
}

# Every collection that holds an instance's records: removing the instance empties them.
OWNED_BY_INSTANCE = (
    "chat_summaries",
    "chat_counts",
    "messages",
    "contacts",
    "media",
    "webhook_deliveries",
    "usage_daily",
    "limit_notices",
    "events",
    "activity_logs",
)


class Collections:
    """The database's collections by name; `counters` holds the sequences (events' and the
    outbox's `seq`), `chat_counts` each instance's number of chats (chats.py), `meta` the
    schema version. The last three have no SQL table."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.users = db["users"]
        self.instances = db["instances"]
        self.activity_logs = db["activity_logs"]
        self.events = db["events"]
        self.messages = db["messages"]
        self.chat_summaries = db["chat_summaries"]
        self.chat_counts = db["chat_counts"]
        self.contacts = db["contacts"]
        self.media = db["media"]
        self.webhook_deliveries = db["webhook_deliveries"]
        self.usage_daily = db["usage_daily"]
        self.limit_notices = db["limit_notices"]
        self.counters = db["counters"]
        self.meta = db["meta"]

    def named(self, name: str) -> AsyncCollection[Doc]:
        return self.db[name]

    async def create_indexes(self) -> None:
        """Idempotent: an index that exists with the same keys and options is left alone."""
        existing = set(await self.db.list_collection_names())
        for name in (*INDEXES, "counters", "chat_counts", "meta"):
            if name not in existing:
                await self.db.create_collection(name)  # never inside a transaction
        for name, models in INDEXES.items():
            await self.db[name].create_indexes(models)
