"""Seal webhook secrets and custom headers that earlier releases stored in the clear.

Revision ID: 0004_sealed_webhook_secrets
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from adapters.storage.sql.sealing import has_plaintext, open_webhook, seal_webhook

revision = "0004_sealed_webhook_secrets"
down_revision = "0003"
branch_labels = None
depends_on = None

_instances = sa.table("instances", sa.column("id", sa.String), sa.column("webhook", sa.JSON))


def _box() -> Any:
    box = context.config.attributes.get("secret_box")
    if box is None:
        raise RuntimeError(
            "webhook secrets need the server secret to be sealed: run `wamux migrate` "
            "(or start the server) with the same JWT_SECRET / data dir instead of alembic"
        )
    return box


def upgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(_instances.c.id, _instances.c.webhook)).all():
        if row.webhook and has_plaintext(row.webhook):
            sealed = seal_webhook(row.webhook, _box())
            bind.execute(
                sa.update(_instances).where(_instances.c.id == row.id).values(webhook=sealed)
            )


def downgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(_instances.c.id, _instances.c.webhook)).all():
        if row.webhook and "sealed" in row.webhook:
            plain = open_webhook(row.webhook, _box())
            bind.execute(
                sa.update(_instances).where(_instances.c.id == row.id).values(webhook=plain)
            )
