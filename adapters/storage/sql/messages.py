"""SQL repository of messages, and the chat list read from the summaries it keeps.

Reads do not grow with history: a history page walks `ix_messages_chat_created` in its own
order and stops; its total comes from the chat's summary row; the conversation list reads one
page of `chat_summaries` (see `chats.py`, kept in the same transaction as every write here).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    union_all,
    update,
)

from adapters.storage.sql.chats import SqlChatSummaries, is_unread, unread_condition
from adapters.storage.sql.prepared import PREFIX, Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import chat_summaries, messages
from domain.entities import ChatSummary, Message, MessageStatus

_MESSAGE_FIELDS = (
    "id", "instance_id", "remote_jid", "from_me", "message_type", "content", "message_id",
    "has_media", "media_id", "media_url", "caption", "mime_type", "file_name", "media_size",
    "quoted_message_id", "created_at", "updated_at", "status_updated_at",
)  # fmt: skip


_COLUMNS = (*_MESSAGE_FIELDS, "status", "metadata")
_ADD = Prepared.insert(messages, _COLUMNS)
_UPDATE = Prepared.update_by_id(messages, [c for c in _COLUMNS if c != "id"])
_GET = select(messages).where(
    messages.c.instance_id == bindparam(PREFIX + "instance_id"),
    messages.c.message_id == bindparam(PREFIX + "message_id"),
)


# SQLite refuses a compound SELECT of more than 500 parts (SQLITE_MAX_COMPOUND_SELECT).
_UNION_CHUNK = 400


def _chunks(keys: Sequence[Any]) -> list[Sequence[Any]]:
    return [keys[i : i + _UNION_CHUNK] for i in range(0, len(keys), _UNION_CHUNK)]


def _older_than(created: Any, row_id: Any, before: tuple[datetime, str]) -> ColumnElement[bool]:
    """Strictly before (created_at, id) in newest-first order: the keyset of a page."""
    at, last_id = before
    return or_(created < at, and_(created == at, row_id < last_id))


def _union_pages(parts: list[Select[Any]]) -> Select[Any]:
    """One statement of several LIMITed pages, each walking its own index range."""
    if len(parts) == 1:
        return parts[0]
    subqueries = [select(part.subquery()) for part in parts]
    return select(union_all(*subqueries).subquery())


def _message(row: Any) -> Message:
    values = {name: getattr(row, name) for name in _MESSAGE_FIELDS}
    return Message(status=MessageStatus(row.status), metadata=dict(row.metadata or {}), **values)


def _message_values(m: Message) -> dict[str, Any]:
    values = {name: getattr(m, name) for name in _MESSAGE_FIELDS}
    values.update(status=m.status.value, metadata=m.metadata)
    return values


class SqlMessages:
    def __init__(self, session: SqlSession) -> None:
        self._s = session
        self._chats = SqlChatSummaries(session)

    async def add(self, message: Message) -> None:
        await self._s.write(_ADD, _message_values(message))
        await self._chats.added(message)

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        values = {"instance_id": instance_id, "message_id": message_id}
        row = (await self._s.execute(_GET, Prepared.bind(values))).first()
        return _message(row) if row else None

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        rows = await self._s.execute(
            select(messages).where(
                tuple_(messages.c.instance_id, messages.c.message_id).in_(wanted)
            )
        )
        return {(r.instance_id, r.message_id): _message(r) for r in rows}

    async def latest(
        self,
        chats: Sequence[tuple[str, str]],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[tuple[str, str], list[Message]]:
        wanted = list(dict.fromkeys(chats))
        found: dict[tuple[str, str], list[Message]] = {key: [] for key in wanted}
        for chunk in _chunks(wanted):
            parts = []
            for instance_id, remote_jid in chunk:
                where = [messages.c.instance_id == instance_id, messages.c.remote_jid == remote_jid]
                if before is not None:
                    where.append(_older_than(messages.c.created_at, messages.c.id, before))
                parts.append(
                    select(messages)
                    .where(*where)
                    .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                    .limit(limit)
                )
            for row in await self._s.execute(_union_pages(parts)):
                found[(row.instance_id, row.remote_jid)].append(_message(row))
        for page in found.values():  # a union keeps no order
            page.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return found

    async def recent_chats(
        self,
        instance_ids: Sequence[str],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, list[ChatSummary]]:
        t = chat_summaries
        wanted = list(dict.fromkeys(instance_ids))
        found: dict[str, list[tuple[Any, ChatSummary]]] = {key: [] for key in wanted}
        for chunk in _chunks(wanted):
            parts = []
            for instance_id in chunk:
                where = [t.c.instance_id == instance_id]
                if before is not None:  # most recent first, then by JID (ascending)
                    at, jid = before
                    where.append(
                        or_(t.c.last_at < at, and_(t.c.last_at == at, t.c.remote_jid > jid))
                    )
                parts.append(
                    select(
                        messages,
                        t.c.last_at.label("chat_last_at"),
                        t.c.message_count.label("chat_message_count"),
                        t.c.unread_count.label("chat_unread_count"),
                    )
                    .select_from(t.join(messages, messages.c.id == t.c.last_message_id))
                    .where(*where)
                    .order_by(t.c.last_at.desc(), t.c.remote_jid)
                    .limit(limit)
                )
            for row in await self._s.execute(_union_pages(parts)):
                summary = ChatSummary(
                    remote_jid=row.remote_jid,
                    last_message=_message(row),
                    unread_count=int(row.chat_unread_count),
                    message_count=int(row.chat_message_count),
                )
                found[row.instance_id].append((row.chat_last_at, summary))
        result: dict[str, list[ChatSummary]] = {}
        for instance_id, rows in found.items():
            rows.sort(key=lambda r: r[1].remote_jid)
            rows.sort(key=lambda r: r[0], reverse=True)
            result[instance_id] = [summary for _, summary in rows]
        return result

    async def update(self, message: Message) -> None:
        before = (
            await self._s.execute(
                select(
                    messages.c.instance_id,
                    messages.c.remote_jid,
                    messages.c.created_at,
                    messages.c.from_me,
                    messages.c.status,
                ).where(messages.c.id == message.id)
            )
        ).first()
        await self._s.write(_UPDATE, _message_values(message))
        if before is None:
            return
        moved = (before.instance_id, before.remote_jid, before.created_at) != (
            message.instance_id,
            message.remote_jid,
            message.created_at,
        )
        if moved or before.from_me != message.from_me:
            await self._chats.rebuild(before.instance_id, before.remote_jid)
            await self._chats.rebuild(message.instance_id, message.remote_jid)
            return
        was = not before.from_me and before.status == MessageStatus.RECEIVED.value
        delta = int(is_unread(message)) - int(was)
        await self._chats.unread_moved(message.instance_id, {message.remote_jid: delta})

    async def list_chat(
        self,
        instance_id: str,
        remote_jid: str,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[Message], int]:
        where = [messages.c.instance_id == instance_id, messages.c.remote_jid == remote_jid]
        if start is not None:
            where.append(messages.c.created_at >= start)
        if end is not None:
            where.append(messages.c.created_at <= end)
        condition = and_(*where)
        if start is None and end is None:
            total = self._chats.message_count_of(instance_id, remote_jid)
        else:  # counted within the index range of those dates
            total = select(func.count()).select_from(messages).where(condition).scalar_subquery()
        # One statement: the page, each row carrying the total (read once by SQLite).
        rows = (
            await self._s.execute(
                select(messages, total.label("page_total"))
                .where(condition)
                .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                .limit(limit)
                .offset(skip)
            )
        ).all()
        if rows:
            return [_message(r) for r in rows], int(rows[0].page_total)
        return [], int((await self._s.execute(select(total))).scalar() or 0)

    async def chats(
        self, instance_id: str, *, limit: int, skip: int
    ) -> tuple[list[ChatSummary], int]:
        rows, total = await self._chats.page(instance_id, limit=limit, skip=skip)
        return [
            ChatSummary(
                remote_jid=row.remote_jid,
                last_message=_message(row),
                unread_count=int(row.chat_unread_count),
                message_count=int(row.chat_message_count),
            )
            for row in rows
        ], total

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        rows = await self._s.execute(
            select(messages)
            .where(
                messages.c.instance_id == instance_id,
                messages.c.remote_jid == remote_jid,
                unread_condition(self._chats.dialect),
            )
            .order_by(messages.c.created_at, messages.c.id)
        )
        return [_message(r) for r in rows]

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None:
        ids = list(message_ids)
        mine = and_(messages.c.instance_id == instance_id, messages.c.message_id.in_(ids))
        # Which chats gain or lose unread messages, counted before the change.
        flipping = and_(
            messages.c.from_me.is_(False),
            messages.c.status != MessageStatus.RECEIVED.value
            if status is MessageStatus.RECEIVED
            else messages.c.status == MessageStatus.RECEIVED.value,
        )
        counted = await self._s.execute(
            select(messages.c.remote_jid, func.count())
            .where(mine, flipping)
            .group_by(messages.c.remote_jid)
        )
        sign = 1 if status is MessageStatus.RECEIVED else -1
        deltas = {jid: sign * int(n) for jid, n in counted}
        await self._s.execute(
            update(messages)
            .where(mine)
            .values(status=status.value, status_updated_at=at, updated_at=at)
        )
        await self._chats.unread_moved(instance_id, deltas)
