"""Every setting of the server, read from the environment (and a `.env` file)."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from adapters.security.files import create_private_file, private_dir, tighten

log = logging.getLogger(__name__)

DEFAULT_ADMIN_PASSWORD = "admin123"
# The `ms` package's grammar (what jsonwebtoken's `expiresIn` reads a string with): a number,
# optional spaces, an optional case-insensitive unit; a year is 365.25 days, as in `ms`.
_DURATION = re.compile(
    r"^(?P<n>-?(?:\d+)?\.?\d+) *(?P<unit>milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m"
    r"|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365.25 * 86400,
}


def parse_duration(value: str) -> timedelta:
    """JWT_EXPIRATION as jsonwebtoken's `expiresIn` reads it -> timedelta.

    A bare number is seconds (an environment variable is always text, so a number there is
    jsonwebtoken's numeric `expiresIn`); anything else is the `ms` package's format: "2 days",
    "1.5h", "24H", "7d", "1y", "100ms", "2.5 hrs". Zero or negative lifetimes are refused.
    """
    text = value.strip()
    match = _DURATION.match(text) if len(text) <= 100 else None
    if match is None:
        raise ValueError(
            f"JWT_EXPIRATION must be a number of seconds or a duration such as 24h, 2 days, "
            f"1.5h or 7d (units ms, s, m, h, d, w, y), not {value!r}"
        )
    unit = (match.group("unit") or "s").lower()
    # "msecs", "milliseconds" -> "ms"; every other long name starts with its unit's letter
    key = "ms" if unit.startswith(("ms", "milli")) else unit[0]
    seconds = float(match.group("n")) * _UNIT_SECONDS[key]
    if seconds <= 0:
        raise ValueError(f"JWT_EXPIRATION must be a positive duration, not {value!r}")
    return timedelta(seconds=seconds)


def mask_password(url: str) -> str:
    """The URL with the password of its user info (`user:password@`) shown as `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hosts}{slash}{path}"


_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def postgres_url(value: str | None) -> URL:
    """POSTGRES_DATABASE_URL (`postgresql://` or `postgres://`) as an asyncpg SQLAlchemy URL.

    libpq's `sslmode` is asyncpg's `ssl` (SQLAlchemy's asyncpg dialect passes that one on)."""
    if not value or not value.strip():
        raise ValueError(
            "POSTGRES_DATABASE_URL is required with DATABASE_PROVIDER=postgresql "
            "(postgresql://user:password@host:5432/database)"
        )
    try:
        url = make_url(value.strip())
    except ArgumentError:
        url = None
    if url is None or url.drivername not in _POSTGRES_SCHEMES or not url.database:
        raise ValueError(
            "POSTGRES_DATABASE_URL must look like postgresql://user:password@host:5432/database "
            "(postgres:// is accepted too)"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError("POSTGRES_DATABASE_URL has an invalid port")
    query = dict(url.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    return url.set(drivername="postgresql+asyncpg", query=query)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    host: str = "0.0.0.0"
    port: int = 3000
    data_dir: Path = Path("./data")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["text", "json"] = "text"
    # /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` when it is set.
    metrics_token: str | None = None
    # SIGTERM: in-flight requests, then the flushes and engines, all within this many seconds.
    shutdown_timeout: float = Field(30.0, gt=0, le=3600)

    database_provider: Literal["sqlite", "mongodb", "postgresql"] = "sqlite"
    sqlite_database_url: str | None = None
    database_url: str | None = None
    postgres_database_url: str | None = None
    # PostgreSQL: connections kept open, and how many more may be opened at a peak.
    postgres_pool_size: int = Field(10, ge=1, le=1_000)
    postgres_max_overflow: int = Field(10, ge=0, le=1_000)
    # PostgreSQL: how long an instance read is remembered, 0: off (storage/sql/cache.py)
    instance_cache_ttl_ms: int = Field(2_000, ge=0)
    # SQLite's one writer: a group commit holds at most this many units, waits at most this
    sqlite_writer_batch: int = Field(200, ge=1, le=10_000)
    sqlite_writer_delay_ms: float = Field(5, ge=0, le=1_000)
    # API calls are counted in memory and written this often (a crash loses at most this)
    api_calls_flush_interval_ms: int = Field(200, ge=1, le=60_000)

    jwt_secret: str | None = None
    jwt_expiration: str = "24h"
    auth_cache_ttl_ms: int = Field(2_000, ge=0)
    # A running GraphQL subscription re-checks its caller this often (and at its token's
    # expiry); changes made on this server reach it at once.
    auth_recheck_interval_ms: int = Field(60_000, ge=10)
    # Login throttling (README: "Login throttling"); 0 attempts turns that key kind off.
    login_throttle_account_attempts: int = Field(5, ge=0)
    login_throttle_address_attempts: int = Field(20, ge=0)
    login_throttle_base_delay_ms: int = Field(1_000, ge=1)
    login_throttle_max_delay_ms: int = Field(900_000, ge=1)
    login_throttle_window_ms: int = Field(900_000, ge=1)

    admin_email: str = "admin@example.com"
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    admin_first_name: str = "Admin"
    admin_last_name: str = "User"

    whatsapp_engine: Literal["neonize", "sandbox"] = "neonize"
    sandbox_qr_delay_ms: int = Field(500, ge=0)
    sandbox_qr_interval_ms: int = Field(20_000, ge=10)
    sandbox_reconnect_delay_ms: int = Field(1_000, ge=0)
    sandbox_receipt_delay_ms: int = Field(300, ge=0)

    uploads_dir: Path | None = None
    media_max_bytes: int = Field(64 * 1024 * 1024, ge=1)
    media_fetch_timeout_s: float = Field(30.0, gt=0)
    media_allow_private_urls: bool = False
    # A message deleted for everyone keeps its text/caption in the history (marked revoked).
    keep_revoked_content: bool = False

    webhook_timeout_ms: int = Field(10_000, ge=100)
    # Loopback/private/link-local/shared webhook targets: only on admins' instances (admin),
    # for everyone (allow) or for no one (deny). The server's own HOST:PORT: never.
    webhook_private_urls: Literal["admin", "allow", "deny"] = "admin"
    webhook_poll_interval_ms: int = Field(1_000, ge=10)

    # How many instances come back at once after a start (domain/restore.py).
    restore_concurrency: int = Field(200, ge=1, le=10_000)

    # The neonize engine's worker processes (README: "Engine workers").
    engine_worker_instances: int = Field(50, ge=1, le=1000)
    engine_call_timeout_s: float = Field(60.0, gt=0)
    engine_restart_delay_ms: int = Field(1_000, ge=10)
    engine_restart_max_delay_ms: int = Field(60_000, ge=10)
    engine_proxy_url: str | None = None  # http://, https:// or socks5:// for WhatsApp traffic

    # The edge (README: "Limits at the edge"): every request body is capped before it is read;
    # uploads (multipart) may carry one file of MEDIA_MAX_BYTES.
    json_body_max_bytes: int = Field(1024 * 1024, ge=1024)
    # A GraphQL document is measured before it is validated or run: its size and tokens
    # (before parsing), then its depth, aliases and estimated cost (before validation).
    graphql_max_query_bytes: int = Field(16 * 1024, ge=256)
    graphql_max_tokens: int = Field(2_000, ge=50)
    graphql_max_depth: int = Field(20, ge=2)
    graphql_max_aliases: int = Field(30, ge=0)
    graphql_max_cost: int = Field(100_000, ge=100)
    graphql_max_subscriptions_per_user: int = Field(20, ge=1)
    graphql_introspection: bool = True
    # Origins allowed to call the API from a browser (comma-separated, or *); empty: CORS off.
    cors_origins: str = ""

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("jwt_expiration")
    @classmethod
    def _check_expiration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def token_lifetime(self) -> timedelta:
        return parse_duration(self.jwt_expiration)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def media_dir(self) -> Path:
        return self.uploads_dir or self.data_dir / "uploads"

    @property
    def instances_dir(self) -> Path:
        return self.data_dir / "instances"

    def sqlite_path(self) -> Path:
        """SQLITE_DATABASE_URL as the spec writes it (`file:./data/x.db`) or a SQLAlchemy URL."""
        url = self.sqlite_database_url
        if not url:
            return self.data_dir / "whatsapp-api.db"
        for prefix in ("sqlite+aiosqlite:///", "sqlite:///", "file:"):
            if url.startswith(prefix):
                return Path(url[len(prefix) :])
        return Path(url)

    def sql_url(self) -> str:
        """The SQLAlchemy URL of the SQL provider; a provider or URL that cannot work is
        refused here, naming the variable, before anything starts."""
        if self.database_provider == "sqlite":
            return f"sqlite+aiosqlite:///{self.sqlite_path().resolve()}"
        if self.database_provider == "postgresql":
            return postgres_url(self.postgres_database_url).render_as_string(hide_password=False)
        raise ValueError(
            f"DATABASE_PROVIDER={self.database_provider} is not supported by this release yet; "
            "use sqlite or postgresql"
        )

    def storage_url(self) -> str:
        """The URL of DATABASE_PROVIDER's database; a ValueError naming the variable when it
        is missing or invalid (said before anything starts)."""
        if self.database_provider == "mongodb":
            return self.mongo_url()
        return self.sql_url()

    def mongo_url(self) -> str:
        url = (self.database_url or "").strip()
        if not url:
            raise ValueError(
                "DATABASE_PROVIDER=mongodb needs DATABASE_URL, e.g. mongodb://127.0.0.1:27017/wamux"
            )
        from adapters.storage.mongo.uow import database_name

        database_name(url)  # a ValueError that names DATABASE_URL
        return url

    def display_url(self) -> str:
        if self.database_provider == "sqlite":
            return self.sqlite_database_url or f"file:{self.sqlite_path()}"
        if self.database_provider == "mongodb" and self.database_url:
            return mask_password(self.database_url)
        if self.database_provider == "postgresql":
            try:
                url = postgres_url(self.postgres_database_url)
            except ValueError:
                return "(invalid)"
            shown = url.set(drivername="postgresql")
            return shown.render_as_string(hide_password=True)
        return "(hidden)"

    def resolve_jwt_secret(self) -> str:
        """JWT_SECRET, or one generated once and kept in the data dir (with a warning)."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        if path.exists():
            secret = path.read_text("utf-8").strip()
            if secret:
                tighten(path)
                return secret
            path.unlink()  # empty: a crash before it was written
        private_dir(path.parent)
        secret = secrets.token_urlsafe(48)
        try:
            create_private_file(path, secret.encode("utf-8"))  # 0600 before a byte is in it
        except FileExistsError:  # another process made it since: use that one
            theirs = path.read_text("utf-8").strip()
            if not theirs:
                raise ValueError(f"{path} is being written by another process") from None
            return theirs
        log.warning(
            "JWT_SECRET is not set: generated one and stored it in %s. Set JWT_SECRET to "
            "share it between servers.",
            path,
        )
        return secret
