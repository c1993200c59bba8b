"""SQL repository of messages and the chat list built from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select, update

from adapters.storage.sql.prepared import PREFIX, Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import messages
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

    async def add(self, message: Message) -> None:
        await self._s.write(_ADD, _message_values(message))

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        values = {"instance_id": instance_id, "message_id": message_id}
        row = (await self._s.execute(_GET, Prepared.bind(values))).first()
        return _message(row) if row else None

    async def update(self, message: Message) -> None:
        await self._s.write(_UPDATE, _message_values(message))

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
        total = (
            await self._s.execute(select(func.count()).select_from(messages).where(condition))
        ).scalar_one()
        rows = await self._s.execute(
            select(messages)
            .where(condition)
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(limit)
            .offset(skip)
        )
        return [_message(r) for r in rows], total

    async def chats(
        self, instance_id: str, *, limit: int, skip: int
    ) -> tuple[list[ChatSummary], int]:
        mine = messages.c.instance_id == instance_id
        total = (
            await self._s.execute(
                select(func.count(func.distinct(messages.c.remote_jid))).where(mine)
            )
        ).scalar_one()
        unread = func.sum(
            case(
                (
                    and_(
                        messages.c.from_me.is_(False),
                        messages.c.status == MessageStatus.RECEIVED.value,
                    ),
                    1,
                ),
                else_=0,
            )
        )
        grouped = await self._s.execute(
            select(
                messages.c.remote_jid,
                func.max(messages.c.created_at).label("last_at"),
                func.count().label("message_count"),
                unread.label("unread"),
            )
            .where(mine)
            .group_by(messages.c.remote_jid)
            .order_by(func.max(messages.c.created_at).desc(), messages.c.remote_jid)
            .limit(limit)
            .offset(skip)
        )
        summaries: list[ChatSummary] = []
        for row in grouped.all():
            last = (
                await self._s.execute(
                    select(messages)
                    .where(mine, messages.c.remote_jid == row.remote_jid)
                    .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                    .limit(1)
                )
            ).first()
            summaries.append(
                ChatSummary(
                    remote_jid=row.remote_jid,
                    last_message=_message(last),
                    unread_count=int(row.unread or 0),
                    message_count=int(row.message_count),
                )
            )
        return summaries, total

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        rows = await self._s.execute(
            select(messages)
            .where(
                messages.c.instance_id == instance_id,
                messages.c.remote_jid == remote_jid,
                messages.c.from_me.is_(False),
                messages.c.status == MessageStatus.RECEIVED.value,
            )
            .order_by(messages.c.created_at, messages.c.id)
        )
        return [_message(r) for r in rows]

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None:
        await self._s.execute(
            update(messages)
            .where(
                messages.c.instance_id == instance_id, messages.c.message_id.in_(list(message_ids))
            )
            .values(status=status.value, status_updated_at=at, updated_at=at)
        )
