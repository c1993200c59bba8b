"""Which storage backend the app-level tests run on, and the end-to-end subset run on each.

`WAMUX_TEST_BACKEND` is `sqlite` (the default: the whole suite), `postgresql` or `mongodb`.
On the latter two only the files of `SUBSET` are collected (see tests/conftest.py), and every
app a test starts gets a fresh, empty database of that backend, kept for its data dir, so a
test that restarts an app on the same data dir finds its records again. `make test` runs the
whole suite on SQLite, then the subset once per other backend.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

BACKEND = os.environ.get("WAMUX_TEST_BACKEND", "sqlite")
BACKENDS = ("sqlite", "postgresql", "mongodb")

# Auth, instances, send and receive, history, webhooks, stats: the same tests, another backend.
SUBSET = (
    "tests/api/test_rest_auth_users.py",
    "tests/api/test_rest_instances.py",
    "tests/api/test_rest_messaging.py",
    "tests/api/test_rest_activity_events.py",
    "tests/api/test_rest_contacts.py",
    "tests/api/test_webhooks.py",
    "tests/api/test_stats_limits.py",
) + {
    # The lean send and read paths and the paging run as ordinary statements there: proved.
    "postgresql": (
        "tests/api/test_fast_send.py",
        "tests/api/test_fast_reads.py",
        "tests/api/test_chat_unread.py",
        "tests/api/test_rest_paging.py",
    ),
}.get(BACKEND, ())

_databases: dict[Path, dict[str, Any]] = {}


async def storage_overrides(data_dir: Path) -> dict[str, Any]:
    """The settings that put an app started on `data_dir` on BACKEND (none for SQLite, whose
    file lives in the data dir already)."""
    if BACKEND == "sqlite":
        return {}
    if BACKEND not in BACKENDS:
        raise RuntimeError(f"WAMUX_TEST_BACKEND={BACKEND!r}: use one of {', '.join(BACKENDS)}")
    key = data_dir  # tmp_path and its children: absolute already
    if key not in _databases:
        _databases[key] = await _fresh(BACKEND)
    return _databases[key]


async def database_dump(data_dir: Path) -> str:
    """Every stored row of the app started on `data_dir`, as text: what a thief of the
    database (the SQLite file, or a dump of the PostgreSQL or MongoDB database) would read."""
    found = _databases.get(data_dir)
    if found is not None and found.get("database_provider") == "mongodb":
        from tests.services import mongo

        return await mongo.dump(found["database_url"])
    if found is None or found.get("database_provider") != "postgresql":
        db = sqlite3.connect(data_dir / "whatsapp-api.db")
        try:
            return "\n".join(db.iterdump())
        finally:
            db.close()
    from tests.services import postgres

    return await postgres.dump(found["postgres_database_url"])


async def _fresh(backend: str) -> dict[str, Any]:
    if backend == "mongodb":
        from tests.services.mongo import fresh_url

        return {"database_provider": "mongodb", "database_url": await fresh_url()}
    if backend == "postgresql":
        from tests.services import postgres

        return {
            "database_provider": "postgresql",
            "postgres_database_url": await postgres.fresh_database(),
        }
    raise NotImplementedError(f"no test service for {backend} yet")
