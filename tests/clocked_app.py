"""The real app on a real SQLite file, with the clock injected through bootstrap.build()."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.bootstrap import build
from tests.backends import storage_overrides
from tests.conftest import Api, make_settings
from tests.fakes import FakeClock


def clock_at(moment: datetime | None = None) -> FakeClock:
    """A settable clock, by default at the current second (JWTs are checked on real time)."""
    return FakeClock(moment or datetime.now(UTC).replace(microsecond=0))


@asynccontextmanager
async def clocked_api(data_dir: Path, clock: FakeClock, **overrides: Any) -> AsyncIterator[Api]:
    storage = await storage_overrides(data_dir)
    settings = make_settings(data_dir, **{**storage, **overrides})
    app = create_app(settings, build(settings, clock=clock))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    try:
        yield Api(client, app)
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def admin_key(api: Api) -> dict[str, str]:
    """The admin's x-api-key headers (a JWT would be checked against the real time)."""
    return {"x-api-key": str((await api.login())["user"]["apiKey"])}
