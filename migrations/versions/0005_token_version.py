"""token version: a per-user counter written into JWTs, raised to revoke them

Revision ID: 0005_token_version
Revises: 0004_sealed_webhook_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_token_version"
down_revision = "0004_sealed_webhook_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing users start at 0, the version that tokens issued before this column carry.
    op.add_column(
        "users", sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # A plain ALTER TABLE (SQLite >= 3.35): a batch copy would drop and re-create `users`,
    # which cascades to every instance.
    op.drop_column("users", "token_version")
