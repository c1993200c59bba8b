"""Webhook secrets and custom headers at rest: sealed in the database file, in the clear for
the owner and the deliveries; migration 0004 seals rows older releases wrote in the clear."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine

from adapters.security import FernetBox
from adapters.storage.sql.uow import SqlStorage
from domain.webhooks import TEST_EVENT
from migrations import alembic_config
from tests.conftest import Api
from tests.contract.test_storage_contract import instance, user
from tests.webhook_receiver import WebhookReceiver

SECRET = "hook-secret-9f8e7d"
TOKEN = "Bearer receiver-token-5a4b3c"


def _raw_webhook(db: Path, instance_id: str) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT webhook FROM instances WHERE id = ?", (instance_id,)).fetchone()
    finally:
        conn.close()
    return dict(json.loads(row[0]))


def _dump(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


async def _storage_with_instance(db: Path, box: FernetBox) -> SqlStorage:
    storage = SqlStorage(f"sqlite+aiosqlite:///{db}", box)
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        inst = instance(1)
        inst.webhook.secret = SECRET
        inst.webhook.headers = {"Authorization": TOKEN, "X-Trace": "t"}
        await uow.instances.add(inst)
        await uow.commit()
    return storage


async def test_the_database_row_holds_only_a_sealed_token(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    storage = await _storage_with_instance(db, FernetBox("server-secret"))
    async with storage.unit_of_work() as uow:
        got = await uow.instances.get("i1")
    await storage.close()
    assert got is not None and got.webhook.secret == SECRET
    assert got.webhook.headers == {"Authorization": TOKEN, "X-Trace": "t"}
    raw = _raw_webhook(db, "i1")
    assert "secret" not in raw and "headers" not in raw and raw["sealed"]
    assert raw["notify_received"] is True  # the rest stays readable (and queryable)
    dump = _dump(db)
    assert SECRET not in dump and "receiver-token" not in dump and "X-Trace" not in dump

    # Another server secret opens nothing, and reading does not fail.
    other = SqlStorage(f"sqlite+aiosqlite:///{db}", FernetBox("another-secret"))
    async with other.unit_of_work() as uow:
        lost = await uow.instances.get("i1")
    await other.close()
    assert lost is not None and lost.webhook.secret is None and lost.webhook.headers == {}


async def test_migration_seals_rows_written_in_the_clear(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    box = FernetBox("server-secret")
    storage = await _storage_with_instance(db, box)
    await storage.close()

    # Back to the schema of the release before: its rows hold the values in the clear.
    def downgrade(connection: Any) -> None:
        config = alembic_config()
        config.attributes.update(connection=connection, secret_box=box)
        command.downgrade(config, "0003")

    old = create_engine(f"sqlite:///{db}")  # the server's pooled connections only read
    with old.begin() as conn:
        downgrade(conn)
    old.dispose()
    plain = _raw_webhook(db, "i1")
    assert plain["secret"] == SECRET and plain["headers"]["Authorization"] == TOKEN
    assert "sealed" not in plain

    # Without the server secret the migration refuses rather than leave them readable.
    blind = SqlStorage(f"sqlite+aiosqlite:///{db}", box)
    blind._box = None  # type: ignore[assignment]  # what a bare `alembic upgrade` would do
    with pytest.raises(RuntimeError, match="wamux migrate"):
        await blind.migrate()
    await blind.close()
    assert _raw_webhook(db, "i1")["secret"] == SECRET  # nothing half-done

    again = SqlStorage(f"sqlite+aiosqlite:///{db}", box)
    await again.migrate()
    async with again.unit_of_work() as uow:
        got = await uow.instances.get("i1")
    await again.close()
    sealed = _raw_webhook(db, "i1")
    assert "secret" not in sealed and "headers" not in sealed and sealed["sealed"]
    assert SECRET not in _dump(db)
    assert got is not None and got.webhook.secret == SECRET
    assert got.webhook.headers["Authorization"] == TOKEN


async def test_api_answers_and_deliveries_are_unchanged(api: Api, tmp_path: Path) -> None:
    rx = WebhookReceiver(port=0)
    await rx.start()
    try:
        h = await api.admin()
        inst = await api.new_instance(
            h,
            webhookUrl=rx.url,
            webhookEnabled=True,
            webhookSecret=SECRET,
            headers={"Authorization": TOKEN},
        )
        shown = (await api.client.get(f"/api/instances/{inst['id']}", headers=h)).json()
        assert shown["webhookSettings"]["secret"] == SECRET
        assert shown["webhookSettings"]["headers"] == {"Authorization": TOKEN}
        r = await api.client.post(f"/api/instances/{inst['id']}/webhooks/test", headers=h)
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        test = rx.of_event(TEST_EVENT)[-1]
        assert test.headers["Authorization"] == TOKEN
        expected = hmac.new(SECRET.encode(), test.body, hashlib.sha256).hexdigest()
        assert test.headers["X-Webhook-Signature"] == expected
    finally:
        await rx.stop()
    dump = _dump(tmp_path / "whatsapp-api.db")
    assert inst["id"] in dump  # the right file
    assert SECRET not in dump and "receiver-token" not in dump
