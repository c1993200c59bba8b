"""The in-memory "database": tables as dicts, copied into and out of each unit of work."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.entities import ActivityLog, Contact, Event, Instance, Media, Message, User
from domain.webhooks import WebhookDelivery

TABLES = (
    "users", "instances", "activity", "events", "messages", "contacts", "media",
    "webhooks", "usage", "notices", "chats",
)  # fmt: skip

# The tables that hold an instance's messaging data; deleting the instance empties them.
MESSAGING_TABLES = ("messages", "contacts", "media", "webhooks", "usage", "notices", "chats")


class MemoryState:
    """Tables as dicts; a unit of work works on a deep copy and writes it back on commit."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.instances: dict[str, Instance] = {}
        self.activity: dict[str, ActivityLog] = {}
        self.events: list[Event] = []
        self.messages: dict[str, Message] = {}
        self.contacts: dict[str, Contact] = {}
        self.media: dict[str, Media] = {}
        self.webhooks: dict[str, WebhookDelivery] = {}
        self.usage: dict[str, UsageRow] = {}
        self.notices: dict[str, UsageRow] = {}
        self.chats: dict[tuple[str, str], ChatRow] = {}

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({name: getattr(self, name) for name in TABLES})


@dataclass
class UsageRow:
    """One (instance, day) row of counters, or one limit notice (counters empty)."""

    instance_id: str
    day: str
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class ChatRow:
    """One conversation's summary, as the SQL `chat_summaries` table keeps it."""

    instance_id: str
    remote_jid: str
    last_message_id: str
    last_at: datetime
    message_count: int
    unread_count: int
    marked_unread: bool = False


def require_instance(t: dict[str, Any], instance_id: str) -> None:
    # The SQL tables reference instances.id (foreign keys are on in SQLite).
    if instance_id not in t["instances"]:
        raise ValueError(f"foreign key: no instance {instance_id}")


def utc(moment: datetime) -> datetime:
    """SQL stores naive datetimes as UTC; the fake compares them the same way."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
