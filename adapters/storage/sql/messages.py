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
    Integer,
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
from adapters.storage.sql.prepared import (
    PREFIX,
    TEXT_LIST,
    Prepared,
    json_value,
    one_of,
    shown_moment,
)
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import chat_summaries, messages
from domain.entities import ChatSummary, Message, MessageStatus, behind_outgoing

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


def _build_advance(dialect: str) -> Any:
    """One statement per receipt: forward only, never from failed, RETURNING what the
    events need. The id lists are bound as one list each (`one_of`), so one compiled
    statement serves any number of ids."""
    instance_id = messages.c.instance_id == bindparam(PREFIX + "instance_id")
    return (
        update(messages)
        .where(
            instance_id,
            one_of(messages.c.message_id, PREFIX + "ids", dialect),
            messages.c.from_me.is_(True),
            one_of(messages.c.status, PREFIX + "behind", dialect),
        )
        .values(
            status=bindparam(PREFIX + "status"),
            status_updated_at=bindparam(PREFIX + "at"),
            updated_at=bindparam(PREFIX + "at"),
        )
        .returning(messages.c.message_id, messages.c.remote_jid)
    )


_ADVANCE = Prepared(
    _build_advance,
    {
        "instance_id": messages.c.instance_id.type,
        "ids": TEXT_LIST,
        "behind": TEXT_LIST,
        "status": messages.c.status.type,
        "at": messages.c.updated_at.type,
    },
)


_TABLE_ORDER = tuple(c.name for c in messages.columns)


def _history(_dialect: str) -> Any:
    """A chat's page of history, newest first, each row carrying the chat's message count.
    Prepared: building and compiling the select for every page cost more CPU than SQLite
    reading it."""
    instance_id: Any = bindparam(PREFIX + "instance_id")
    chat: Any = bindparam(PREFIX + "remote_jid")
    total = (
        select(chat_summaries.c.message_count)
        .where(chat_summaries.c.instance_id == instance_id, chat_summaries.c.remote_jid == chat)
        .scalar_subquery()
    )
    return (
        select(messages, total.label("page_total"))
        .where(messages.c.instance_id == instance_id, messages.c.remote_jid == chat)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(bindparam(PREFIX + "limit"))
        .offset(bindparam(PREFIX + "skip"))
    )


_HISTORY = Prepared(
    _history,
    {
        "instance_id": messages.c.instance_id.type,
        "remote_jid": messages.c.remote_jid.type,
        "limit": Integer(),
        "skip": Integer(),
    },
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
    """From a row that starts with the `messages` columns (`select(messages, ...)`); by
    position, which costs a fraction of reading 20 attributes of a Row by name."""
    values = dict(zip(_TABLE_ORDER, row, strict=False))
    values["status"] = MessageStatus(values["status"])
    values["metadata"] = dict(values["metadata"] or {})
    return Message(**values)


_STATUSES = {s.value: s for s in MessageStatus}
_AT = {name: _TABLE_ORDER.index(name) for name in _TABLE_ORDER}


def message_from_raw(row: Any, at: dict[str, int] = _AT) -> Message:
    """From a `fetch` row (raw driver values) that starts with the `messages` columns. Pages
    of 50 build 50 of these per request: one constructor call, no intermediate dict."""
    metadata = row[at["metadata"]]
    # A message's three times are often one stored value (a received message's, until it
    # is read): one immutable datetime serves them all.
    created, updated, moved = (
        row[at["created_at"]],
        row[at["updated_at"]],
        row[at["status_updated_at"]],
    )
    created_at = shown_moment(created)
    updated_at = created_at if updated == created else shown_moment(updated)
    moved_at = updated_at if moved == updated else shown_moment(moved)
    return Message(
        id=row[at["id"]],
        instance_id=row[at["instance_id"]],
        remote_jid=row[at["remote_jid"]],
        from_me=bool(row[at["from_me"]]),
        message_type=row[at["message_type"]],
        content=row[at["content"]],
        message_id=row[at["message_id"]],
        status=_STATUSES[row[at["status"]]],
        created_at=created_at,  # type: ignore[arg-type]
        updated_at=updated_at,  # type: ignore[arg-type]
        has_media=bool(row[at["has_media"]]),
        media_id=row[at["media_id"]],
        media_url=row[at["media_url"]],
        caption=row[at["caption"]],
        mime_type=row[at["mime_type"]],
        file_name=row[at["file_name"]],
        media_size=row[at["media_size"]],
        quoted_message_id=row[at["quoted_message_id"]],
        metadata={} if metadata == "{}" else dict(json_value(metadata) or {}),
        status_updated_at=moved_at,
    )


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
                        t.c.marked_unread.label("chat_marked_unread"),
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
                    marked_unread=bool(row.chat_marked_unread),
                )
                found[row.instance_id].append((row.chat_last_at, summary))
        result: dict[str, list[ChatSummary]] = {}
        for instance_id, rows in found.items():
            rows.sort(key=lambda r: r[1].remote_jid)
            rows.sort(key=lambda r: r[0], reverse=True)
            result[instance_id] = [summary for _, summary in rows]
        return result

    async def chats_by_jid(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChatSummary]:
        t = chat_summaries
        found: dict[tuple[str, str], ChatSummary] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            query = (
                select(
                    messages,
                    t.c.message_count.label("chat_message_count"),
                    t.c.unread_count.label("chat_unread_count"),
                    t.c.marked_unread.label("chat_marked_unread"),
                )
                .select_from(t.join(messages, messages.c.id == t.c.last_message_id))
                # OR of equalities rather than a row-value IN: SQLite searches the primary
                # key for each pair (for an IN of pairs it walks the table).
                .where(or_(*(and_(t.c.instance_id == i, t.c.remote_jid == j) for i, j in chunk)))
            )
            for row in await self._s.execute(query):
                found[(row.instance_id, row.remote_jid)] = ChatSummary(
                    remote_jid=row.remote_jid,
                    last_message=_message(row),
                    unread_count=int(row.chat_unread_count),
                    message_count=int(row.chat_message_count),
                    marked_unread=bool(row.chat_marked_unread),
                )
        return found

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
        if start is None and end is None:  # the common page: one prepared statement
            values = {"instance_id": instance_id, "remote_jid": remote_jid}
            found = await self._s.fetch(_HISTORY, {**values, "limit": limit, "skip": skip})
            if found:
                return [message_from_raw(r) for r in found], int(found[0][-1])
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
        found = []
        for row in rows:
            last = message_from_raw(row)
            found.append(
                ChatSummary(
                    remote_jid=last.remote_jid,
                    last_message=last,
                    message_count=int(row[-4]),
                    unread_count=int(row[-3]),
                    marked_unread=bool(row[-2]),
                )
            )
        return found, total

    async def set_marked_unread(
        self, instance_id: str, remote_jid: str, marked: bool
    ) -> bool | None:
        return await self._chats.set_marked_unread(instance_id, remote_jid, marked)

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

    async def advance_outgoing(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> list[tuple[str, str]]:
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return []
        # Our own messages only: they are never unread, so no chat summary changes.
        rows = await self._s.fetch(
            _ADVANCE,
            {
                "instance_id": instance_id,
                "ids": ids,
                "behind": [s.value for s in behind_outgoing(status)],
                "status": status.value,
                "at": at,
            },
        )
        moved = dict(rows)
        return [(message_id, moved[message_id]) for message_id in ids if message_id in moved]

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
