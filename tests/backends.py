"""Which storage backend the app-level tests run on, and the end-to-end subset run on each.

`WAMUX_TEST_BACKEND` is `sqlite` (the default: the whole suite), `postgresql` or `mongodb`.
On the latter two only the files of `SUBSET` are collected (see tests/conftest.py), and every
app a test starts gets a fresh, empty database of that backend, kept for its data dir, so a
test that restarts an app on the same data dir finds its records again. `make test` runs the
whole suite on SQLite, then the subset once per other backend.
"""

from __future__ import annotations

import os
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
)

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


async def _fresh(backend: str) -> dict[str, Any]:
    if backend == "mongodb":
        from tests.services.mongo import fresh_url

        return {"database_provider": "mongodb", "database_url": await fresh_url()}
    raise NotImplementedError(f"no test service for {backend} yet")


async def stored_text(data_dir: Path) -> str:
    """Everything the database of the app started on `data_dir` holds, as text (what a thief
    of the database would read)."""
    if BACKEND == "sqlite":
        import sqlite3

        conn = sqlite3.connect(data_dir / "whatsapp-api.db")
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    if BACKEND == "mongodb":
        from bson import json_util
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            (await storage_overrides(data_dir))["database_url"]
        )
        try:
            db = client.get_default_database()
            lines = []
            for name in await db.list_collection_names():
                async for doc in db[name].find({}):
                    lines.append(json_util.dumps(doc, ensure_ascii=False))
            return "\n".join(lines)
        finally:
            await client.close()
    raise NotImplementedError(f"no dump of {BACKEND} yet")
