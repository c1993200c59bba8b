"""The fake MessageRepository, with the per-chat summaries it keeps as the SQL one does."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.entities import ChatSummary, Message, MessageStatus, behind_outgoing
from tests.fakes.storage.state import ChatRow, require_instance, utc


def _newest_first(found: list[Message]) -> list[Message]:
    return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)


def _unread(m: Message) -> bool:
    return not m.from_me and m.status is MessageStatus.RECEIVED


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
        key = (message.instance_id, message.remote_jid)
        row = self.t["chats"].get(key)
        if row is None:
            row = self.t["chats"][key] = ChatRow(*key, message.id, message.created_at, 0, 0)
        row.message_count += 1
        row.unread_count += _unread(message)
        row.marked_unread = False  # a message in the chat clears the mark
        if (utc(message.created_at), message.id) > (utc(row.last_at), row.last_message_id):
            row.last_message_id, row.last_at = message.id, message.created_at

    def _rebuild(self, instance_id: str, remote_jid: str) -> None:
        found = [m for m in self._rows(instance_id) if m.remote_jid == remote_jid]
        old = self.t["chats"].pop((instance_id, remote_jid), None)
        if found:
            last = _newest_first(found)[0]
            unread = sum(1 for m in found if _unread(m))
            marked = old is not None and old.marked_unread
            self.t["chats"][(instance_id, remote_jid)] = ChatRow(
                instance_id, remote_jid, last.id, last.created_at, len(found), unread, marked
            )

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        found = (m for m in self._rows(instance_id) if m.message_id == message_id)
        return copy.deepcopy(next(found, None))

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        wanted = set(keys)
        return {
            (m.instance_id, m.message_id): copy.deepcopy(m)
            for m in self.t["messages"].values()
            if (m.instance_id, m.message_id) in wanted
        }

    async def latest(
        self,
        chats: Sequence[tuple[str, str]],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[tuple[str, str], list[Message]]:
        found: dict[tuple[str, str], list[Message]] = {}
        for instance_id, remote_jid in chats:
            rows = [m for m in self._rows(instance_id) if m.remote_jid == remote_jid]
            if before is not None:
                edge = (utc(before[0]), before[1])
                rows = [m for m in rows if (utc(m.created_at), m.id) < edge]
            found[(instance_id, remote_jid)] = copy.deepcopy(_newest_first(rows)[:limit])
        return found

    async def recent_chats(
        self,
        instance_ids: Sequence[str],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, list[ChatSummary]]:
        found: dict[str, list[ChatSummary]] = {}
        for instance_id in instance_ids:
            rows = [r for r in self.t["chats"].values() if r.instance_id == instance_id]
            rows.sort(key=lambda r: r.remote_jid)
            rows.sort(key=lambda r: utc(r.last_at), reverse=True)
            if before is not None:
                at, jid = utc(before[0]), before[1]
                rows = [
                    r
                    for r in rows
                    if utc(r.last_at) < at or (utc(r.last_at) == at and r.remote_jid > jid)
                ]
            found[instance_id] = [
                ChatSummary(
                    remote_jid=r.remote_jid,
                    last_message=copy.deepcopy(self.t["messages"][r.last_message_id]),
                    unread_count=r.unread_count,
                    message_count=r.message_count,
                    marked_unread=r.marked_unread,
                )
                for r in rows[:limit]
            ]
        return found

    async def update(self, message: Message) -> None:
        before = self.t["messages"].get(message.id)
        if before is None:
            return
        self.t["messages"][message.id] = copy.deepcopy(message)
        self._rebuild(before.instance_id, before.remote_jid)
        self._rebuild(message.instance_id, message.remote_jid)

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
        rows = [r for r in self.t["chats"].values() if r.instance_id == instance_id]
        # Most recent first, then by JID: two sorts, the second one stable.
        rows.sort(key=lambda r: r.remote_jid)
        rows.sort(key=lambda r: utc(r.last_at), reverse=True)
        return [
            ChatSummary(
                remote_jid=r.remote_jid,
                last_message=copy.deepcopy(self.t["messages"][r.last_message_id]),
                unread_count=r.unread_count,
                message_count=r.message_count,
                marked_unread=r.marked_unread,
            )
            for r in rows[skip : skip + limit]
        ], len(rows)

    async def chats_by_jid(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChatSummary]:
        wanted = set(keys)
        return {
            (r.instance_id, r.remote_jid): ChatSummary(
                remote_jid=r.remote_jid,
                last_message=copy.deepcopy(self.t["messages"][r.last_message_id]),
                unread_count=r.unread_count,
                message_count=r.message_count,
                marked_unread=r.marked_unread,
            )
            for r in self.t["chats"].values()
            if (r.instance_id, r.remote_jid) in wanted
        }

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        found = [
            m
            for m in self._rows(instance_id)
            if m.remote_jid == remote_jid and not m.from_me and m.status is MessageStatus.RECEIVED
        ]
        return copy.deepcopy(sorted(found, key=lambda m: (m.created_at, m.id)))

    async def set_marked_unread(
        self, instance_id: str, remote_jid: str, marked: bool
    ) -> bool | None:
        row = self.t["chats"].get((instance_id, remote_jid))
        if row is None:
            return None
        was, row.marked_unread = row.marked_unread, marked
        return was

    async def advance_outgoing(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> list[tuple[str, str]]:
        behind = set(behind_outgoing(status))
        mine = {m.message_id: m for m in self._rows(instance_id)}
        moved = []
        for message_id in dict.fromkeys(message_ids):
            m = mine.get(message_id)
            if m is not None and m.from_me and m.status in behind:
                m.status = status
                m.status_updated_at = m.updated_at = at
                moved.append((m.message_id, m.remote_jid))
        return moved

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None:
        for m in self._rows(instance_id):
            if m.message_id in message_ids:
                delta = (status is MessageStatus.RECEIVED and not m.from_me) - _unread(m)
                m.status = status
                m.status_updated_at = m.updated_at = at
                self.t["chats"][(instance_id, m.remote_jid)].unread_count += delta
