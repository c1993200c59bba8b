"""The fake MessageRepository, chat list included."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.entities import ChatSummary, Message, MessageStatus
from tests.fakes.storage.state import require_instance, utc


def _newest_first(found: list[Message]) -> list[Message]:
    return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)


class MemoryMessages:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    def _rows(self, instance_id: str) -> list[Message]:
        return [m for m in self.t["messages"].values() if m.instance_id == instance_id]

    async def add(self, message: Message) -> None:
        require_instance(self.t, message.instance_id)
        if message.id in self.t["messages"]:
            raise ValueError("unique id")
        if any(m.message_id == message.message_id for m in self._rows(message.instance_id)):
            raise ValueError("unique (instance_id, message_id)")
        self.t["messages"][message.id] = copy.deepcopy(message)

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        found = (m for m in self._rows(instance_id) if m.message_id == message_id)
        return copy.deepcopy(next(found, None))

    async def update(self, message: Message) -> None:
        if message.id in self.t["messages"]:
            self.t["messages"][message.id] = copy.deepcopy(message)

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
        found = [
            m
            for m in self._rows(instance_id)
            if m.remote_jid == remote_jid
            and (start is None or m.created_at >= utc(start))
            and (end is None or m.created_at <= utc(end))
        ]
        return copy.deepcopy(_newest_first(found)[skip : skip + limit]), len(found)

    async def chats(
        self, instance_id: str, *, limit: int, skip: int
    ) -> tuple[list[ChatSummary], int]:
        by_chat: dict[str, list[Message]] = {}
        for m in self._rows(instance_id):
            by_chat.setdefault(m.remote_jid, []).append(m)
        summaries = [
            ChatSummary(
                remote_jid=jid,
                last_message=copy.deepcopy(_newest_first(found)[0]),
                unread_count=sum(
                    1 for m in found if not m.from_me and m.status is MessageStatus.RECEIVED
                ),
                message_count=len(found),
            )
            for jid, found in by_chat.items()
        ]
        # Most recent first, then by JID: two sorts, the second one stable.
        summaries.sort(key=lambda c: c.remote_jid)
        summaries.sort(key=lambda c: c.last_message.created_at, reverse=True)
        return summaries[skip : skip + limit], len(summaries)

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        found = [
            m
            for m in self._rows(instance_id)
            if m.remote_jid == remote_jid and not m.from_me and m.status is MessageStatus.RECEIVED
        ]
        return copy.deepcopy(sorted(found, key=lambda m: (m.created_at, m.id)))

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None:
        for m in self._rows(instance_id):
            if m.message_id in message_ids:
                m.status = status
                m.status_updated_at = m.updated_at = at
