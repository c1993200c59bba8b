"""A backup moves between providers: SQLite -> `wamux import` into MongoDB -> `wamux export`
there gives back every record exactly as SQLite gave it, and importing that into SQLite
again gives the same tables."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.bootstrap import build
from api.cli import main
from tests.cli.test_backup import _dump, _in, _populate, _running
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, make_settings
from tests.fakes.webhooks import StaticResolver
from tests.services.mongo import SERVICE


def _records(backup: Path) -> dict[str, list[dict[str, Any]]]:
    """Kind -> its records in file order (the header and the end line checked apart)."""
    lines = [json.loads(line) for line in backup.read_text("utf-8").splitlines()]
    assert lines[0]["format"] == "wamux-backup" and lines[-1]["end"] is True
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines[1:-1]:
        found[line["kind"]].append(line["record"])
    return dict(found)


def _on_mongo(env: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    env.setenv("DATABASE_PROVIDER", "mongodb")
    env.setenv("DATABASE_URL", url)
    _in(env, data_dir)


def _on_sqlite(env: pytest.MonkeyPatch, data_dir: Path) -> None:
    env.delenv("DATABASE_PROVIDER", raising=False)
    env.delenv("DATABASE_URL", raising=False)
    _in(env, data_dir)


def test_sqlite_backup_through_mongodb_and_back_loses_nothing(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    ids = asyncio.run(_running(source, _populate))
    before = _dump(source / "whatsapp-api.db")
    assert all(before.values()), "every table holds something to compare"

    _on_sqlite(env, source)
    from_sqlite = tmp_path / "from-sqlite.jsonl"
    assert main(["export", str(from_sqlite)]) == 0

    url = SERVICE.fresh_url()
    _on_mongo(env, url, tmp_path / "mongo")
    assert main(["import", str(from_sqlite)]) == 0
    assert main(["db", "status"]) == 0
    status = capsys.readouterr().out
    assert "provider: mongodb" in status and "current" in status
    from_mongo = tmp_path / "from-mongo.jsonl"
    assert main(["export", str(from_mongo)]) == 0

    sqlite_records, mongo_records = _records(from_sqlite), _records(from_mongo)
    assert list(mongo_records) == list(sqlite_records)  # the same kinds, in the same order
    for kind, records in sqlite_records.items():
        assert mongo_records[kind] == records, kind  # every record, field for field

    # The MongoDB copy works: the admin logs in, the user's API key opens its instance.
    async def use() -> None:
        settings = make_settings(tmp_path / "mongo", database_provider="mongodb", database_url=url)
        app = create_app(settings, build(settings, resolver=StaticResolver()))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            api = Api(client, app)
            await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            r = await client.get(
                f"/api/instances/{ids['instance']}", headers={"x-api-key": ids["x-api-key"]}
            )
            assert r.status_code == 200, r.text
            r = await client.get(
                f"/api/instances/{ids['instance']}/chats", headers={"x-api-key": ids["x-api-key"]}
            )
            assert r.status_code == 200 and r.json()["chats"], r.text

    asyncio.run(use())

    # And back: MongoDB's export imported into an empty SQLite database gives the tables.
    back = tmp_path / "back"
    _on_sqlite(env, back)
    assert main(["import", str(from_mongo)]) == 0
    assert _dump(back / "whatsapp-api.db") == before
