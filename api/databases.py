"""Which database each provider is (from the settings), and the provider a switch chose.

The choice is kept in `<DATA_DIR>/database.json` (0600): `{"provider": "postgresql"}`. At
start it wins over DATABASE_PROVIDER, with a log line saying so; the URLs still come from
the settings (SQLITE_DATABASE_URL, POSTGRES_DATABASE_URL, DATABASE_URL)."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.metrics.prometheus import Metrics
from adapters.security.files import create_private_file, private_dir
from adapters.storage.sql.inventory import SqlInventory
from adapters.storage.sql.uow import SqlStorage
from api.settings import Settings, postgres_url
from domain.database import PROVIDERS
from domain.ports import Backend, SecretBox

log = logging.getLogger(__name__)

CHOICE_FILE = "database.json"


def choice_path(settings: Settings) -> Path:
    return settings.data_dir / CHOICE_FILE


def postgres_async_url(url: str) -> str:
    """`postgresql://...` (or `postgres://`) as SQLAlchemy's asyncpg dialect names it."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url[len(scheme) :]
    return url


def provider_url(settings: Settings, provider: str) -> str | None:
    """The URL a provider's storage connects to, None when it is not configured."""
    if provider == "sqlite":
        return f"sqlite+aiosqlite:///{settings.sqlite_path().resolve()}"
    if provider == "postgresql":
        url = settings.postgres_database_url
        if not url:
            return None
        try:  # sslmode -> ssl, postgres:// -> asyncpg; a malformed one is refused at start
            return postgres_url(url).render_as_string(hide_password=False)
        except ValueError:
            return postgres_async_url(url)
    if provider == "mongodb":
        return settings.database_url or None
    return None


def check_provider(settings: Settings) -> None:
    """Raises ValueError when the provider in use has no URL (said before anything starts)."""
    provider = settings.database_provider
    if provider == "mongodb":
        settings.mongo_url()  # missing or malformed: said by name
        return
    if provider == "postgresql":
        postgres_url(settings.postgres_database_url)  # missing or malformed: said by name
    if provider_url(settings, provider) is None:
        raise ValueError(f"DATABASE_PROVIDER={provider} needs POSTGRES_DATABASE_URL")


def display_url(settings: Settings, provider: str) -> str | None:
    """The provider's URL as shown to people: the password masked."""
    if provider == "sqlite":
        return settings.sqlite_database_url or f"file:{settings.sqlite_path()}"
    raw = {"postgresql": settings.postgres_database_url, "mongodb": settings.database_url}.get(
        provider
    )
    if not raw:
        return None
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads (mongodb+srv://...): mask by hand
        head, at, tail = raw.rpartition("@")
        if not at:
            return raw
        scheme, _, credentials = head.partition("://")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{tail}"


class ConfiguredBackends:
    """Opens the configured database of each provider (SQL ones, and MongoDB)."""

    def __init__(self, settings: Settings, box: SecretBox, metrics: Metrics) -> None:
        self._settings = settings
        self._box = box
        self._metrics = metrics

    def configured(self, provider: str) -> str | None:
        if provider_url(self._settings, provider) is None:
            return None
        return display_url(self._settings, provider)

    def open(self, provider: str) -> Backend:
        url = provider_url(self._settings, provider)
        if url is None:
            raise ValueError(f"no URL is configured for {provider}")
        s = self._settings
        if provider == "mongodb":
            from adapters.storage.mongo.inventory import MongoInventory
            from adapters.storage.mongo.uow import MongoStorage

            mongo = MongoStorage(s.mongo_url(), self._box, telemetry=self._metrics)
            shown = display_url(s, provider) or provider
            return Backend(provider, shown, mongo, MongoInventory(mongo))
        sql = SqlStorage(
            url,
            self._box,
            writer_batch=s.sqlite_writer_batch,
            writer_delay_ms=s.sqlite_writer_delay_ms,
            pool_size=s.postgres_pool_size,
            max_overflow=s.postgres_max_overflow,
            telemetry=self._metrics,
            instance_cache_ttl_s=s.instance_cache_ttl_ms / 1000,
        )
        return Backend(provider, display_url(s, provider) or provider, sql, SqlInventory(sql))


class ChoiceFile:
    """The provider chosen by the last switch, kept in the data dir."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def save(self, provider: str) -> None:
        private_dir(self._path.parent)
        partial = self._path.with_name(f".{self._path.name}.{secrets.token_hex(4)}")
        create_private_file(partial, json.dumps({"provider": provider}).encode("utf-8"))
        os.replace(partial, self._path)  # whole or not at all

    def load(self) -> str | None:
        try:
            value = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("%s cannot be read (%s): DATABASE_PROVIDER applies", self._path, exc)
            return None
        provider = value.get("provider") if isinstance(value, dict) else None
        if provider not in PROVIDERS:
            log.warning("%s names no known provider: DATABASE_PROVIDER applies", self._path)
            return None
        return str(provider)


def with_persisted_choice(settings: Settings) -> Settings:
    """The settings with the provider a switch chose, when one did."""
    path = choice_path(settings)
    chosen = ChoiceFile(path).load()
    if chosen is None:
        return settings
    if chosen != settings.database_provider:
        log.warning(
            "using the %s database chosen by a switch (%s) instead of DATABASE_PROVIDER=%s",
            chosen,
            path,
            settings.database_provider,
        )
    else:
        log.info("using the %s database chosen by a switch (%s)", chosen, path)
    return settings.model_copy(update={"database_provider": chosen})
