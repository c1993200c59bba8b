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

BACKENDS = ["sqlite", "memory", "postgresql"]


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    if request.param == "postgresql":
        async with postgres.fresh_storage(FernetBox("contract")) as pg:
            yield pg
        return
    sql = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}", FernetBox("contract"))
    await sql.migrate()
    yield sql
    await sql.close()
