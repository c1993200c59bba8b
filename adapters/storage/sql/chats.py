"""The per-conversation summary rows (`chat_summaries`) the message repository keeps current.

Every message write goes through `SqlMessages`, which calls these in the same transaction:
an added message bumps its chat's counts and, if it is the newest by (created_at, id), becomes
the chat's last message; a status change moves the unread count. Unread means what the chat
list has always answered: a received message (not from me) whose status is still `received`.
Apart from that count, `marked_unread` is WhatsApp's "mark as unread" flag on the chat: set by
`set_marked_unread`, cleared by it and by every message added to the chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from adapters.storage.sql.prepared import PREFIX, Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import chat_summaries, messages
from domain.entities import Message, MessageStatus

RECEIVED = MessageStatus.RECEIVED.value


def is_unread(m: Message) -> bool:
    return not m.from_me and m.status is MessageStatus.RECEIVED


def unread_condition(dialect: str) -> ColumnElement[bool]:
    """The partial index `ix_messages_unread`'s own condition, written as the index writes it:
    SQLite uses a partial index only when the query repeats its terms (bound parameters do
    not count), so this is literal SQL rather than `status == :param`."""
    if dialect == "postgresql":
        return text("NOT messages.from_me AND messages.status = 'received'")  # type: ignore[return-value]
    return text("messages.from_me = 0 AND messages.status = 'received'")  # type: ignore[return-value]


def _build_added(dialect: str) -> Any:
    t = chat_summaries
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    stmt = insert(t).values({name: bindparam(PREFIX + name) for name in _ADDED_COLUMNS})
    new = stmt.excluded
    newer = or_(
        new.last_at > t.c.last_at,
        and_(new.last_at == t.c.last_at, new.last_message_id > t.c.last_message_id),
    )
    return stmt.on_conflict_do_update(
        index_elements=[t.c.instance_id, t.c.remote_jid],
        set_={
            "message_count": t.c.message_count + literal_column("1"),
            "unread_count": t.c.unread_count + new.unread_count,
            "last_message_id": case((newer, new.last_message_id), else_=t.c.last_message_id),
            "last_at": case((newer, new.last_at), else_=t.c.last_at),
            "marked_unread": false(),  # a message sent or received in the chat clears the mark
        },
    )


_ADDED_COLUMNS = (
    "instance_id", "remote_jid", "last_message_id", "last_at", "message_count", "unread_count",
)  # fmt: skip
# Built and compiled once per dialect (it runs with every message added).
_ADDED = Prepared(_build_added, {name: chat_summaries.c[name].type for name in _ADDED_COLUMNS})


class SqlChatSummaries:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    @property
    def dialect(self) -> str:
        return self._s.bind.dialect.name if self._s.bind is not None else "sqlite"

    async def added(self, m: Message) -> None:
        """One upsert: counts up, and the message becomes the last one if it is the newest."""
        await self._s.write(
            _ADDED,
            {
                "instance_id": m.instance_id,
                "remote_jid": m.remote_jid,
                "last_message_id": m.id,
                "last_at": m.created_at,
                "message_count": 1,
                "unread_count": 1 if is_unread(m) else 0,
            },
        )

    async def unread_moved(self, instance_id: str, by_chat: Mapping[str, int]) -> None:
        t = chat_summaries
        for remote_jid, delta in by_chat.items():
            if delta:
                await self._s.execute(
                    update(t)
                    .where(t.c.instance_id == instance_id, t.c.remote_jid == remote_jid)
                    .values(unread_count=t.c.unread_count + delta)
                )

    async def set_marked_unread(
        self, instance_id: str, remote_jid: str, marked: bool
    ) -> bool | None:
        """Sets the chat's unread mark; answers what it was (None: no such chat)."""
        t = chat_summaries
        mine = and_(t.c.instance_id == instance_id, t.c.remote_jid == remote_jid)
        was = (await self._s.execute(select(t.c.marked_unread).where(mine))).scalar_one_or_none()
        if was is not None and bool(was) != marked:
            await self._s.execute(update(t).where(mine).values(marked_unread=marked))
        return None if was is None else bool(was)

    async def rebuild(self, instance_id: str, remote_jid: str) -> None:
        """Recounts one chat from its messages: for the rare write that moves a message to
        another chat or time, where counting deltas would be guesswork. The unread mark is
        the chat's, not its messages': it stays."""
        t = chat_summaries
        mine = and_(messages.c.instance_id == instance_id, messages.c.remote_jid == remote_jid)
        marked = (
            await self._s.execute(
                select(t.c.marked_unread).where(
                    t.c.instance_id == instance_id, t.c.remote_jid == remote_jid
                )
            )
        ).scalar_one_or_none()
        await self._s.execute(
            delete(t).where(t.c.instance_id == instance_id, t.c.remote_jid == remote_jid)
        )
        last = (
            await self._s.execute(
                select(messages.c.id, messages.c.created_at)
                .where(mine)
                .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                .limit(1)
            )
        ).first()
        if last is None:
            return
        unread = func.sum(
            case(
                (and_(messages.c.from_me == false(), messages.c.status == RECEIVED), 1),
                else_=0,
            )
        )
        counts = (await self._s.execute(select(func.count(), unread).where(mine))).one()
        await self._s.execute(
            t.insert().values(
                instance_id=instance_id,
                remote_jid=remote_jid,
                last_message_id=last.id,
                last_at=last.created_at,
                message_count=int(counts[0]),
                unread_count=int(counts[1] or 0),
                marked_unread=bool(marked),
            )
        )

    def message_count_of(self, instance_id: str, remote_jid: str) -> ScalarSelect[Any]:
        """A chat's message count, as a scalar subquery (NULL when the chat has none)."""
        t = chat_summaries
        return (
            select(t.c.message_count)
            .where(t.c.instance_id == instance_id, t.c.remote_jid == remote_jid)
            .scalar_subquery()
        )

    async def page(self, instance_id: str, *, limit: int, skip: int) -> tuple[list[Any], int]:
        """(summary + last message) rows, the most recently active chat first, and the count.

        Reads `ix_chat_summaries_recent` in order and one message per row by primary key;
        the count rides along in the same statement. Each row is a `fetch` row: the
        `messages` columns, then the chat's message count, unread count, unread mark and the
        total."""
        values = {"instance_id": instance_id, "limit": limit, "skip": skip}
        rows = await self._s.fetch(_PAGE, values)
        if rows:
            return rows, int(rows[0][-1])
        return [], int((await self._s.fetch(_COUNT, {"instance_id": instance_id}))[0][0])


def _count(_dialect: str) -> Any:
    t = chat_summaries
    mine = t.c.instance_id == bindparam(PREFIX + "instance_id")
    return select(func.count()).select_from(t).where(mine)


def _page(dialect: str) -> Any:
    t = chat_summaries
    mine = t.c.instance_id == bindparam(PREFIX + "instance_id")
    return (
        select(
            messages,
            t.c.message_count.label("chat_message_count"),
            t.c.unread_count.label("chat_unread_count"),
            t.c.marked_unread.label("chat_marked_unread"),
            _count(dialect).scalar_subquery().label("page_total"),
        )
        .select_from(t.join(messages, messages.c.id == t.c.last_message_id))
        .where(mine)
        .order_by(t.c.last_at.desc(), t.c.remote_jid)
        .limit(bindparam(PREFIX + "limit"))
        .offset(bindparam(PREFIX + "skip"))
    )


# Prepared (built and compiled once): building this select cost more than SQLite reading it.
_PAGE_TYPES = {
    "instance_id": chat_summaries.c.instance_id.type,
    "limit": Integer(),
    "skip": Integer(),
}
_PAGE = Prepared(_page, _PAGE_TYPES)
_COUNT = Prepared(_count, {"instance_id": chat_summaries.c.instance_id.type})
