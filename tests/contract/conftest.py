"""Every storage backend, behind the same fixture: the contract suite runs on each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.security import FernetBox
from adapters.storage.sql.uow import SqlStorage
from tests.fakes import MemoryStorage
from tests.services import postgres

BACKENDS = ["sqlite", "memory", "postgresql", "mongodb"]


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    if request.param == "mongodb":
        from adapters.storage.mongo.uow import MongoStorage
        from tests.services.mongo import fresh_url

        mongo = MongoStorage(await fresh_url(), FernetBox("contract"))
        await mongo.migrate()
        yield mongo
        await mongo.client.drop_database(mongo.database)
        await mongo.close()
        return
    if request.param == "postgresql":
        # With the instance cache, as a server runs it: the contract holds through it.
        async with postgres.fresh_storage(FernetBox("contract"), instance_cache_ttl_s=60) as pg:
            yield pg
        return
    sql = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}", FernetBox("contract"))
    await sql.migrate()
    yield sql
    await sql.close()
