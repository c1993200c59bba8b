"""chat marked unread: WhatsApp's "mark as unread" flag on a conversation's summary

Revision ID: 0007_chat_marked_unread
Revises: 0006_chat_summaries

A flag on the chat, not a change to its messages: the phone shows a badge until a message
arrives or is sent in the chat, or the chat is marked read. Existing chats start unmarked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_chat_marked_unread"
down_revision = "0006_chat_summaries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `false` is a literal both SQLite (>= 3.23) and PostgreSQL accept for a boolean default.
    op.add_column(
        "chat_summaries",
        sa.Column("marked_unread", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )


def downgrade() -> None:
    # A plain ALTER TABLE (SQLite >= 3.35), as 0005 does.
    op.drop_column("chat_summaries", "marked_unread")
