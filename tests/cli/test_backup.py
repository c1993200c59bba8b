"""`wamux export` -> `wamux import` into an empty database: every record comes back."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.bootstrap import build
from api.cli import main
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, make_settings
from tests.fakes.webhooks import StaticResolver
from tests.webhook_receiver import WebhookReceiver

OUTSIDE = "79001234567"


async def _running(data_dir: Path, body: Any) -> Any:
    settings = make_settings(data_dir, webhook_poll_interval_ms=50, sandbox_receipt_delay_ms=20)
    app = create_app(settings, build(settings, resolver=StaticResolver()))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        return await body(Api(client, app))


async def _populate(api: Api) -> dict[str, str]:
    """Something in every table: users, instances, activity, events, messages, chats,
    contacts, media, webhook deliveries, usage, limit notices."""
    h = await api.new_user("owner@example.com")
    async with WebhookReceiver() as rx:
        inst = await api.paired_instance(
            h,
            webhookUrl=rx.url,
            webhookEnabled=True,
            webhookSecret="whsec-backup",
            limits={"maxMessagesSent": 2},
        )
        iid = inst["id"]
        send = f"/api/whatsapp/{iid}/send"
        for text in ("один", "two"):
            r = await api.client.post(send, json={"phone": OUTSIDE, "message": text}, headers=h)
            assert r.status_code == 200, r.text
        r = await api.client.post(send, json={"phone": OUTSIDE, "message": "3"}, headers=h)
        assert r.status_code == 429  # a limit notice
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming", json={"from": OUTSIDE, "body": "hi 😀"}, headers=h
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/whatsapp/{iid}/contacts/add", json={"phone": OUTSIDE, "name": "张三"}, headers=h
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming",
            json={
                "from": OUTSIDE,
                "body": "",
                "media": {"base64": "aGVsbG8=", "mimeType": "text/plain"},
            },
            headers=h,
        )
        await rx.wait_for(lambda rs: any(x.event == "message_received" for x in rs))
    return {"instance": iid, **h}


def _dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " AND name != 'alembic_version' ORDER BY name"
            )
        ]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
        }
    finally:
        conn.close()


def _in(env: pytest.MonkeyPatch, data_dir: Path) -> None:
    env.setenv("DATA_DIR", str(data_dir))


def test_export_then_import_gives_back_every_record(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    ids = asyncio.run(_running(source, _populate))
    before = _dump(source / "whatsapp-api.db")
    empty = [t for t, rows in before.items() if not rows]
    assert not empty, f"the fixture leaves {empty} empty: nothing would be compared there"

    _in(env, source)
    backup = tmp_path / "backup.jsonl.gz"
    assert main(["export", str(backup)]) == 0
    out = capsys.readouterr().out
    total = sum(len(rows) for rows in before.values())
    assert f"exported {total} records to {backup}" in out
    assert backup.stat().st_mode & 0o077 == 0  # password hashes and sealed keys inside
    with gzip.open(backup, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
    assert header["format"] == "wamux-backup" and sum(header["counts"].values()) == total

    _in(env, target)
    assert main(["import", str(backup)]) == 0
    assert f"imported {total} records" in capsys.readouterr().out
    assert _dump(target / "whatsapp-api.db") == before

    # The copy works: the admin logs in, the user's API key still opens its instance.
    async def use(api: Api) -> None:
        await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        h = {"x-api-key": ids["x-api-key"]}
        r = await api.client.get(f"/api/instances/{ids['instance']}", headers=h)
        assert r.status_code == 200, r.text

    asyncio.run(_running(target, use))


def test_import_refuses_what_it_cannot_take_back_whole(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    asyncio.run(_running(source, lambda api: api.new_user("u@example.com")))
    _in(env, source)
    backup = tmp_path / "b.jsonl"
    assert main(["export", str(backup)]) == 0
    capsys.readouterr()

    def fails(argv: list[str], message: str, code: int = 1) -> None:
        assert main(argv) == code
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], captured.err

    fails(["export", str(backup)], "exists; pass --force")
    fails(["import", str(backup)], "the target database is not empty (users: 2")

    _in(env, tmp_path / "cut")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(backup.read_text().splitlines(keepends=True)[:-1]))
    fails(["import", str(cut)], "cut short")

    _in(env, tmp_path / "other")
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    fails(["import", str(other)], "not a wamux-backup version 1 file")
    fails(["import", str(tmp_path / "missing.jsonl")], "No such file")
    old = tmp_path / "old.jsonl"
    lines = backup.read_text().splitlines(keepends=True)
    old.write_text(
        json.dumps({**json.loads(lines[0]), "schema": "0001"}) + "\n" + "".join(lines[1:])
    )
    fails(["import", str(old)], "the backup has schema 0001")
    # Nothing of the refused files was written.
    assert main(["db", "status"]) == 0
    assert "0 record(s)" in capsys.readouterr().out
