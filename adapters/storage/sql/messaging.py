"""SQL repositories for messages, contacts and media metadata."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.storage.sql.tables import (
    contacts,
    limit_notices,
    media,
    messages,
    usage_daily,
    webhook_deliveries,
)
from domain.entities import ChatSummary, Contact, Media, Message, MessageStatus

_MESSAGE_FIELDS = (
    "id", "instance_id", "remote_jid", "from_me", "message_type", "content", "message_id",
    "has_media", "media_id", "media_url", "caption", "mime_type", "file_name", "media_size",
    "quoted_message_id", "created_at", "updated_at", "status_updated_at",
)  # fmt: skip


def _message(row: Any) -> Message:
    values = {name: getattr(row, name) for name in _MESSAGE_FIELDS}
    return Message(status=MessageStatus(row.status), metadata=dict(row.metadata or {}), **values)


def _message_values(m: Message) -> dict[str, Any]:
    values = {name: getattr(m, name) for name in _MESSAGE_FIELDS}
    values.update(status=m.status.value, metadata=m.metadata)
    return values


class SqlMessages:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, message: Message) -> None:
        await self._s.execute(insert(messages).values(**_message_values(message)))

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        query = select(messages).where(
            messages.c.instance_id == instance_id, messages.c.message_id == message_id
        )
        row = (await self._s.execute(query)).first()
        return _message(row) if row else None

    async def update(self, message: Message) -> None:
        values = _message_values(message)
        values.pop("id")
        await self._s.execute(update(messages).where(messages.c.id == message.id).values(**values))

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


_CONTACT_FIELDS = (
    "id", "instance_id", "number", "remote_jid", "is_group", "name", "push_name",
    "profile_picture", "about", "last_activity", "created_at", "updated_at",
)  # fmt: skip


def _contact(row: Any) -> Contact:
    return Contact(**{name: getattr(row, name) for name in _CONTACT_FIELDS})


class SqlContacts:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, instance_id: str, remote_jid: str) -> Contact | None:
        query = select(contacts).where(
            contacts.c.instance_id == instance_id, contacts.c.remote_jid == remote_jid
        )
        row = (await self._s.execute(query)).first()
        return _contact(row) if row else None

    async def upsert(self, contact: Contact) -> None:
        values = {name: getattr(contact, name) for name in _CONTACT_FIELDS}
        existing = await self.get(contact.instance_id, contact.remote_jid)
        if existing is None:
            await self._s.execute(insert(contacts).values(**values))
            return
        for key in ("id", "instance_id", "remote_jid", "created_at"):
            values.pop(key)
        await self._s.execute(update(contacts).where(contacts.c.id == existing.id).values(**values))

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]:
        where = [contacts.c.instance_id == instance_id]
        if only_groups:
            where.append(contacts.c.is_group.is_(True))
        if search:
            term = search.casefold()
            where.append(
                or_(
                    func.lower(contacts.c.name).contains(term, autoescape=True),
                    func.lower(contacts.c.push_name).contains(term, autoescape=True),
                    contacts.c.number.contains(term, autoescape=True),
                )
            )
        condition = and_(*where)
        total = (
            await self._s.execute(select(func.count()).select_from(contacts).where(condition))
        ).scalar_one()
        rows = await self._s.execute(
            select(contacts)
            .where(condition)
            .order_by(
                func.coalesce(contacts.c.name, contacts.c.push_name, contacts.c.number),
                contacts.c.id,
            )
            .limit(limit)
            .offset(skip)
        )
        return [_contact(r) for r in rows], total


class SqlMedia:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, item: Media) -> None:
        await self._s.execute(insert(media).values(**vars(item)))

    async def get(self, media_id: str) -> Media | None:
        row = (await self._s.execute(select(media).where(media.c.id == media_id))).first()
        return Media(**row._mapping) if row else None


async def delete_instance_messaging(session: AsyncSession, instance_id: str) -> None:
    for table in (messages, contacts, media, webhook_deliveries, usage_daily, limit_notices):
        await session.execute(delete(table).where(table.c.instance_id == instance_id))
