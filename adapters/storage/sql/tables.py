"""Table definitions; Alembic migrations in `migrations/` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, so SQLite and PostgreSQL behave the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("first_name", String(100), nullable=False, default=""),
    Column("last_name", String(100), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("api_key_sealed", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
    Column("token_version", Integer, nullable=False, server_default="0"),
)

instances = Table(
    "instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "user_id",
        String(36),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=True),
    Column("engine", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("will_reconnect", Boolean, nullable=False, default=True),
    Column("qr_code", Text, nullable=True),
    Column("qr_attempt", Integer, nullable=False, default=0),
    Column("phone", String(32), nullable=True),
    Column("push_name", String(100), nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_enabled", Boolean, nullable=False, default=False),
    Column("webhook", JSON, nullable=False),
    Column("options", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_activity_at", UTCDateTime, nullable=True),
    Column("limits", JSON, nullable=False, server_default="{}"),
)

activity_logs = Table(
    "activity_logs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
    Column("action", String(64), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_activity_logs_instance_created", "instance_id", "created_at"),
)

events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
    Column("type", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Index("ix_events_instance_ts", "instance_id", "timestamp_ms"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
    Column("remote_jid", String(128), nullable=False),
    Column("from_me", Boolean, nullable=False),
    Column("message_type", String(16), nullable=False),
    Column("content", Text, nullable=True),
    Column("message_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("has_media", Boolean, nullable=False, default=False),
    Column("media_id", String(36), nullable=True),
    Column("media_url", Text, nullable=True),
    Column("caption", Text, nullable=True),
    Column("mime_type", String(255), nullable=True),
    Column("file_name", String(255), nullable=True),
    Column("media_size", BigInteger, nullable=True),
    Column("quoted_message_id", String(128), nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("status_updated_at", UTCDateTime, nullable=True),
    UniqueConstraint("instance_id", "message_id", name="uq_messages_instance_message"),
    # The history page's order (created_at, id) is the index's own: a page reads its rows
    # and stops, whatever the chat's length.
    Index("ix_messages_chat_created", "instance_id", "remote_jid", "created_at", "id"),
    Index("ix_messages_instance_created", "instance_id", "created_at"),
    # A live switch's catch-up reads what changed since its snapshot by `updated_at`, with
    # writes held: found through this index, not a scan of every message.
    Index("ix_messages_updated", "updated_at"),
    # Only unread received messages are in it, so marking a chat read finds them without
    # walking the chat's history. Queries must repeat this condition literally to use it.
    Index(
        "ix_messages_unread",
        "instance_id",
        "remote_jid",
        "created_at",
        "id",
        sqlite_where=text("from_me = 0 AND status = 'received'"),
        postgresql_where=text("NOT from_me AND status = 'received'"),
    ),
)

# One row per conversation, kept in the same transaction as every message write (add, status
# change, read mark), so the conversation list reads one indexed page instead of grouping the
# instance's whole history. The last message is read through `last_message_id` (messages.id).
chat_summaries = Table(
    "chat_summaries",
    metadata,
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("remote_jid", String(128), primary_key=True),
    Column("last_message_id", String(36), nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("message_count", BigInteger, nullable=False),
    Column("unread_count", BigInteger, nullable=False),
    # "Mark as unread" (WhatsApp's badge on the chat, kept apart from its messages' status);
    # a new message in the chat or a read mark clears it.
    Column("marked_unread", Boolean, nullable=False, server_default=text("false")),
    Index("ix_chat_summaries_recent", "instance_id", text("last_at DESC"), "remote_jid"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
    Column("number", String(64), nullable=False),
    Column("remote_jid", String(128), nullable=False),
    Column("is_group", Boolean, nullable=False, default=False),
    Column("name", String(200), nullable=True),
    Column("push_name", String(200), nullable=True),
    Column("profile_picture", Text, nullable=True),
    Column("about", Text, nullable=True),
    Column("last_activity", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("instance_id", "remote_jid", name="uq_contacts_instance_jid"),
    Index("ix_contacts_updated", "updated_at"),  # a switch's catch-up (see messages)
)

media = Table(
    "media",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "instance_id",
        String(36),
        ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("mime_type", String(255), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
    Column("event_id", String(36), nullable=True),
    Column("event", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("retry_interval_ms", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_duration_ms", Integer, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_deliveries_pending", "status", "instance_id", "seq"),
    Index("ix_webhook_deliveries_instance", "instance_id", "seq"),
    Index("ix_webhook_deliveries_updated", "updated_at"),  # a switch's catch-up (see messages)
)

usage_daily = Table(
    "usage_daily",
    metadata,
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("messages_sent", BigInteger, nullable=False, default=0),
    Column("messages_received", BigInteger, nullable=False, default=0),
    Column("media_sent", BigInteger, nullable=False, default=0),
    Column("media_received", BigInteger, nullable=False, default=0),
    Column("media_bytes", BigInteger, nullable=False, default=0),
    Column("api_calls", BigInteger, nullable=False, default=0),
    Column("webhook_sent", BigInteger, nullable=False, default=0),
)

limit_notices = Table(
    "limit_notices",
    metadata,
    Column(
        "instance_id", String(36), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("day", String(10), primary_key=True),
    Column("limit_name", String(32), primary_key=True),
)
