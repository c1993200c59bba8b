"""SQLite answers the hot reads from indexes, whatever the history's length.

The statements checked are the ones the repositories really send (recorded on the engine),
explained with SQLite's EXPLAIN QUERY PLAN: a machine-independent check that no read walks
an instance's messages. Also: the 0006 migration fills the summaries from existing messages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, event, insert

from adapters.security import FernetBox
from adapters.storage.sql.messages import _message_values
from adapters.storage.sql.prepared import _Compiled
from adapters.storage.sql.tables import instances, messages, users
from adapters.storage.sql.uow import SqlStorage
from migrations import alembic_config
from tests.contract.test_messaging_contract import ALICE, BOB, CAROL, message
from tests.contract.test_storage_contract import instance, user


@pytest.fixture
async def sql(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}", FernetBox("plans"))
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        for n in range(1, 61):
            await uow.messages.add(message(n, (ALICE, BOB, CAROL)[n % 3], minute=n))
        await uow.commit()
    yield storage
    await storage.close()


async def _plans(storage: SqlStorage, read: Callable[[Any], Awaitable[Any]]) -> list[str]:
    """The query plan of every statement `read(uow)` sends, one line per step."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    # Prepared statements run on the DB-API connection, past the engine's events: every
    # one of them binds its values through `_Compiled.parameters` first.
    bind_values = _Compiled.parameters

    def parameters(compiled: _Compiled, values: dict[str, Any]) -> tuple[Any, ...]:
        bound = bind_values(compiled, values)
        sent.append((compiled.sql, bound))
        return bound

    # Reads may go to the pooled readers or, inside a writing unit, to the one writer:
    # the same read runs in both.
    engines = [storage.engine.sync_engine]
    if storage.reader is not None:
        engines.append(storage.reader.engine)
    if storage.writer is not None:
        engines.append(storage.writer.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    _Compiled.parameters = parameters  # type: ignore[method-assign]
    try:
        for read_only in (False, True):
            async with storage.unit_of_work(read_only=read_only) as uow:
                await read(uow)
    finally:
        _Compiled.parameters = bind_values  # type: ignore[method-assign]
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    path = storage.url.split("///", 1)[1]
    plans: list[str] = []
    with sqlite3.connect(path) as db:
        for statement, params in sent:
            if statement.lstrip().upper().startswith("SELECT"):
                steps = db.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
                plans.append(" | ".join(str(step[3]) for step in steps))
    assert plans, "the read sent no SELECT"
    return plans


def _no_scan(plans: list[str]) -> None:
    for plan in plans:
        assert "SCAN" not in plan, plan  # SEARCH = an index range; SCAN = every row
        assert "TEMP B-TREE" not in plan, plan  # no sort: rows come in index order


async def test_a_history_page_is_an_index_range_read_in_order(sql: SqlStorage) -> None:
    async def page(uow: Any) -> None:
        found, total = await uow.messages.list_chat(
            "i1", ALICE, start=None, end=None, limit=5, skip=5
        )
        assert total == 20 and len(found) == 5

    plans = await _plans(sql, page)
    _no_scan(plans)
    assert any("USING INDEX ix_messages_chat_created" in p for p in plans), plans


async def test_a_history_page_between_dates_counts_in_the_index(sql: SqlStorage) -> None:
    from tests.contract.test_storage_contract import T0

    async def page(uow: Any) -> None:
        found, total = await uow.messages.list_chat(
            "i1", ALICE, start=T0, end=T0.replace(hour=12, minute=30), limit=5, skip=0
        )
        assert total == 10 and len(found) == 5

    plans = await _plans(sql, page)
    _no_scan(plans)
    assert all("ix_messages_chat_created" in p for p in plans), plans
    assert any("COVERING INDEX" in p for p in plans), plans  # the count reads no rows


async def test_the_conversation_list_reads_one_page_of_summaries(sql: SqlStorage) -> None:
    async def chats(uow: Any) -> None:
        found, total = await uow.messages.chats("i1", limit=2, skip=0)
        assert total == 3 and [c.remote_jid for c in found] == [ALICE, CAROL]

    plans = await _plans(sql, chats)
    _no_scan(plans)
    joined = " || ".join(plans)
    assert "ix_chat_summaries_recent" in joined and "messages" in joined, plans


async def test_marking_read_finds_unread_messages_without_walking_the_chat(
    sql: SqlStorage,
) -> None:
    async def unread(uow: Any) -> None:
        assert len(await uow.messages.unread("i1", ALICE)) == 20

    plans = await _plans(sql, unread)
    _no_scan(plans)
    assert all("ix_messages_unread" in p for p in plans), plans


async def test_the_migration_fills_summaries_from_stored_messages(tmp_path: Path) -> None:
    storage = SqlStorage(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", FernetBox("plans"))
    config = alembic_config()

    def to(revision: str) -> Callable[[Any], None]:
        def run(connection: Any) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    stored = [
        message(1, ALICE, minute=1),
        message(2, ALICE, minute=3, from_me=True),
        message(3, ALICE, minute=2),
        message(5, BOB, minute=3),
        message(4, BOB, minute=3),  # same minute: the higher row id is the last message
        message(6, CAROL, minute=4, from_me=True),
    ]
    # Written directly (the server's pooled connections only read; its writer would migrate).
    direct = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with direct.begin() as conn:
        to("0005_token_version")(conn)  # the schema before summaries existed
        conn.execute(insert(users).values(**_row(user(1))))
        conn.execute(insert(instances).values(**_instance_row(instance(1))))
        for item in stored:
            conn.execute(insert(messages).values(**_message_values(item)))
    with direct.begin() as conn:
        to("head")(conn)
    direct.dispose()
    async with storage.unit_of_work() as uow:
        chats, total = await uow.messages.chats("i1", limit=10, skip=0)
        _, alice_total = await uow.messages.list_chat(
            "i1", ALICE, start=None, end=None, limit=1, skip=0
        )
    await storage.close()
    assert total == 3 and alice_total == 3
    assert [(c.remote_jid, c.last_message.id, c.message_count, c.unread_count) for c in chats] == [
        (CAROL, "i1-m06", 1, 0),
        (ALICE, "i1-m02", 3, 2),  # ties with Bob's last message: ordered by JID
        (BOB, "i1-m05", 2, 2),
    ]


def _row(u: Any) -> dict[str, Any]:
    values = dict(vars(u))
    values["role"] = u.role.value
    return values


def _instance_row(i: Any) -> dict[str, Any]:
    from adapters.storage.sql.instances import _instance_values

    return _instance_values(i, FernetBox("plans"))


async def test_the_list_s_contacts_and_the_stats_days_are_index_searches(
    sql: SqlStorage,
) -> None:
    async def contacts(uow: Any) -> None:
        assert await uow.contacts.get_many("i1", [ALICE, BOB]) == {}

    plans = await _plans(sql, contacts)
    # The JIDs come as one JSON array: SQLite walks that array (a virtual table), never the
    # instance's contacts.
    assert all("SEARCH contacts USING INDEX" in p for p in plans), plans
    assert not any("SCAN contacts" in p for p in plans), plans

    async def days(uow: Any) -> None:
        assert await uow.usage.daily("i1", None) == []

    plans = await _plans(sql, days)
    _no_scan(plans)
    assert all("usage_daily" in p for p in plans), plans


async def test_the_graph_s_batched_keyset_pages_search_each_instance_s_index(
    sql: SqlStorage,
) -> None:
    """One statement for many instances (a UNION ALL of one LIMITed page each): every page
    is an index range of its instance, never a walk of the table."""
    from tests.contract.test_storage_contract import T0

    two = ["i1", "i9"]

    async def reads(uow: Any) -> None:
        await uow.activity.latest(
            two, actions=None, start=None, end=None, before=(T0, "a9"), limit=3
        )
        await uow.webhooks.latest(two, status=None, event=None, before_seq=10, limit=3)
        await uow.events.since_many([("i1", None), ("i9", None)], since_ms=5, limit=3)
        await uow.messages.chats_by_jid([("i1", ALICE), ("i9", BOB)])
        await uow.contacts.page(two, search=None, only_groups=False, after=None, limit=3)

    plans = await _plans(sql, reads)
    joined = " || ".join(plans)
    for index in (
        "ix_activity_logs_instance_created",
        "ix_webhook_deliveries_instance",
        "ix_events_instance_ts",
    ):
        assert index in joined, plans
    for table in ("activity_logs", "webhook_deliveries", "events", "chat_summaries", "contacts"):
        assert f"SCAN {table}" not in joined, plans
