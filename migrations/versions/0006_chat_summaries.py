"""chat summaries: one row per conversation; history and unread indexes

Revision ID: 0006_chat_summaries
Revises: 0005_token_version
Create Date: 2026-11-29

The conversation list used to group an instance's whole history on every call. It now reads
`chat_summaries`, which the message repository keeps in the same transaction as each write;
this migration fills it from the messages already stored. The history index gains `id` (the
page's tie-break) so a page is read in index order, and a partial index holds only unread
received messages, so a read mark does not walk the chat.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.storage.sql.tables import UTCDateTime

revision = "0006_chat_summaries"
down_revision = "0005_token_version"
branch_labels = None
depends_on = None


# The last message is the newest by (created_at, id), as the history page orders them;
# the correlated lookup reads one entry of ix_messages_chat_created per conversation.
# (bench/reads.py builds its seeded summaries with this same statement.)
BACKFILL = """
    INSERT INTO chat_summaries
        (instance_id, remote_jid, last_message_id, last_at, message_count, unread_count)
    SELECT g.instance_id, g.remote_jid,
        (SELECT m.id FROM messages m
          WHERE m.instance_id = g.instance_id AND m.remote_jid = g.remote_jid
          ORDER BY m.created_at DESC, m.id DESC LIMIT 1),
        g.last_at, g.message_count, g.unread_count
    FROM (
        SELECT instance_id, remote_jid, MAX(created_at) AS last_at,
               COUNT(*) AS message_count,
               SUM(CASE WHEN NOT from_me AND status = 'received' THEN 1 ELSE 0 END)
                   AS unread_count
        FROM messages
        GROUP BY instance_id, remote_jid
    ) g
    """


def upgrade() -> None:
    op.drop_index("ix_messages_chat_created", table_name="messages")
    op.create_index(
        "ix_messages_chat_created", "messages", ["instance_id", "remote_jid", "created_at", "id"]
    )
    op.create_index(
        "ix_messages_unread",
        "messages",
        ["instance_id", "remote_jid", "created_at", "id"],
        sqlite_where=sa.text("from_me = 0 AND status = 'received'"),
        postgresql_where=sa.text("NOT from_me AND status = 'received'"),
    )
    op.create_table(
        "chat_summaries",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("remote_jid", sa.String(length=128), nullable=False),
        sa.Column("last_message_id", sa.String(length=36), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.Column("unread_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_chat_summaries_instance_id_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", "remote_jid", name=op.f("pk_chat_summaries")),
    )
    op.create_index(
        "ix_chat_summaries_recent",
        "chat_summaries",
        ["instance_id", sa.text("last_at DESC"), "remote_jid"],
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_chat_summaries_recent", table_name="chat_summaries")
    op.drop_table("chat_summaries")
    op.drop_index("ix_messages_unread", table_name="messages")
    op.drop_index("ix_messages_chat_created", table_name="messages")
    op.create_index(
        "ix_messages_chat_created", "messages", ["instance_id", "remote_jid", "created_at"]
    )
