"""Alembic migrations for the SQL backends, applied on start (or by `wamux migrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade_connection(connection: Any, secret_box: Any = None) -> None:
    """Runs `alembic upgrade head` on an open (sync-facing) connection.

    `secret_box` (a domain.ports.SecretBox) lets migrations seal existing secrets."""
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["secret_box"] = secret_box
    command.upgrade(config, "head")
