"""catch-up indexes: what changed since a moment, found by `updated_at`

Revision ID: 0008_catch_up_indexes
Revises: 0007_chat_marked_unread

A live database switch copies in bulk while writes go on, then holds writes for a catch-up
that reads the messages, contacts and webhook deliveries changed since its snapshot began
(`updated_at >= watermark`). Without an index that read scans every message while writes
wait (0.8 s per 200,000 messages on SQLite here).
"""

from __future__ import annotations

from alembic import op

revision = "0008_catch_up_indexes"
down_revision = "0007_chat_marked_unread"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_messages_updated": "messages",
    "ix_contacts_updated": "contacts",
    "ix_webhook_deliveries_updated": "webhook_deliveries",
}


def upgrade() -> None:
    for name, table in INDEXES.items():
        op.create_index(name, table, ["updated_at"])


def downgrade() -> None:
    for name, table in INDEXES.items():
        op.drop_index(name, table_name=table)
