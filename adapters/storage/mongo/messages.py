"""MongoDB repository of messages, keeping the per-chat summaries (chats.py) in the same
transaction as every message write."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.storage.mongo import chats as summaries
from adapters.storage.mongo.codec import at as stored_at
from adapters.storage.mongo.codec import from_doc, through, to_doc
from adapters.storage.mongo.collections import UNREAD, Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from adapters.storage.mongo.windows import ListEdges, Pace, at_or_after, newest, top
from domain.entities import ChatSummary, Message, MessageStatus, behind_outgoing


def _message(doc: dict[str, Any]) -> Message:
    return from_doc(Message, doc)


class MongoMessages:
    def __init__(self, unit: MongoUnit, db: Collections, edges: ListEdges) -> None:
        self._u = unit
        self._db = db
        self._c = db.messages
        self._edges = edges  # the storage's: outlives the unit of work

    async def add(self, message: Message) -> None:
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, message.instance_id, s)
            await self._c.insert_one({"_id": message.id, **to_doc(message)}, session=s)
            await summaries.added(self._db, message, s)

    async def get(self, instance_id: str, message_id: str) -> Message | None:
        async with self._u.op() as s:
            query = {"instance_id": instance_id, "message_id": message_id}
            doc = await self._c.find_one(query, session=s)
        return _message(doc) if doc else None

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        by_instance: dict[str, set[str]] = defaultdict(set)
        for instance_id, message_id in keys:
            by_instance[instance_id].add(message_id)
        if not by_instance:
            return {}
        docs: list[dict[str, Any]] = []
        async with self._u.op() as s:
            for instance_id, ids in by_instance.items():  # no `$or`: SecantusDB scans for one
                query = {"instance_id": instance_id, "message_id": {"$in": list(ids)}}
                docs += await self._c.find(query, session=s).to_list()
        return {(d["instance_id"], d["message_id"]): _message(d) for d in docs}

    async def update(self, message: Message) -> None:
        async with self._u.op(write=True) as s:
            before = await self._c.find_one(
                {"_id": message.id}, {"instance_id": 1, "remote_jid": 1}, session=s
            )
            if before is None:
                return
            values = to_doc(message, skip=("id",))
            await self._c.update_one({"_id": message.id}, {"$set": values}, session=s)
            old_chat = (before["instance_id"], before["remote_jid"])
            await summaries.recount(self._db, *old_chat, s)
            if old_chat != (message.instance_id, message.remote_jid):
                await summaries.recount(self._db, message.instance_id, message.remote_jid, s)

    async def latest(
        self,
        chats: Sequence[tuple[str, str]],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[tuple[str, str], list[Message]]:
        found: dict[tuple[str, str], list[Message]] = {}
        wanted = list(dict.fromkeys(chats))
        async with self._u.op() as s:
            ids = [summaries.chat_key(i, j) for i, j in wanted]
            fields = {"message_count": 1, "first_at": 1, "last_at": 1}
            paces = {
                d["_id"]: Pace.of(d)
                for d in await self._db.chat_summaries.find(
                    {"_id": {"$in": ids}}, fields, session=s
                ).to_list()
            }
            for instance_id, remote_jid in wanted:
                docs = await self._older(instance_id, remote_jid, before, limit, paces, s)
                found[(instance_id, remote_jid)] = [_message(d) for d in docs]
        return found

    async def _older(
        self,
        instance_id: str,
        remote_jid: str,
        before: tuple[datetime, str] | None,
        limit: int,
        paces: dict[str, Pace],
        s: Any,
    ) -> list[dict[str, Any]]:
        """The chat's newest `limit` messages older than `before` (created_at, row id): the
        ones at `before`'s moment with a lower row id, then the older moments' (two bounded
        ranges where an `$or` would scan on SecantusDB)."""
        if limit <= 0:
            return []
        chat = {"instance_id": instance_id, "remote_jid": remote_jid}
        docs: list[dict[str, Any]] = []
        upper: dict[str, str] = {}
        if before is not None:
            edge = stored_at(before[0])
            same = {**chat, "created_at": edge, "_id": {"$lt": before[1]}}
            docs = await self._c.find(same, session=s).sort("_id", -1).limit(limit).to_list()
            upper = {"$lt": edge}
        if len(docs) < limit:
            docs += await newest(
                self._c,
                chat,
                start=None,
                upper=upper,
                end=None if before is None else before[0],
                wanted=limit - len(docs),
                pace=paces.get(summaries.chat_key(instance_id, remote_jid), Pace.of(None)),
                session=s,
            )
        return docs

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
        chat = {"instance_id": instance_id, "remote_jid": remote_jid}
        window: dict[str, str] = {}
        if start is not None:
            window["$gte"] = stored_at(start)
        upper = through(stored_at(end)) if end is not None else {}
        window.update(upper)
        async with self._u.op() as s:
            summary = await self._db.chat_summaries.find_one(
                {"_id": summaries.chat_key(instance_id, remote_jid)},
                {"message_count": 1, "first_at": 1, "last_at": 1},
                session=s,
            )
            if window:  # counted within the index range of those dates
                total = await self._c.count_documents({**chat, "created_at": window}, session=s)
            else:  # the chat's summary has it: no walk of the chat's whole history
                total = int(summary["message_count"]) if summary else 0
            if limit <= 0:
                return [], total
            # A deep page: its keys first (on MongoDB the index alone answers them), then
            # only the page's documents.
            keys_only = {"_id": 1, "created_at": 1} if skip else None
            docs = await newest(
                self._c,
                chat,
                start=start,
                upper=upper,
                end=end,
                wanted=skip + limit,
                pace=Pace.of(summary),
                projection=keys_only,
                session=s,
            )
            docs = docs[skip:]
            if keys_only is not None and docs:
                wanted = [d["_id"] for d in docs]
                found = await self._c.find({"_id": {"$in": wanted}}, session=s).to_list()
                by_id = {d["_id"]: d for d in found}
                docs = [by_id[i] for i in wanted if i in by_id]
        return [_message(d) for d in docs], total

    async def _summaries(self, rows: list[dict[str, Any]], s: Any) -> list[ChatSummary]:
        ids = [r["last_message_id"] for r in rows]
        last = {}
        if ids:
            docs = await self._c.find({"_id": {"$in": ids}}, session=s).to_list()
            last = {d["_id"]: _message(d) for d in docs}
        return [
            ChatSummary(
                remote_jid=r["remote_jid"],
                last_message=last[r["last_message_id"]],
                unread_count=int(r["unread_count"]),
                message_count=int(r["message_count"]),
                marked_unread=bool(r.get("marked_unread")),
            )
            for r in rows
        ]

    async def chats(
        self, instance_id: str, *, limit: int, skip: int
    ) -> tuple[list[ChatSummary], int]:
        async with self._u.op() as s:
            total = await summaries.chat_count(self._db, instance_id, s)
            if limit <= 0:
                return [], total
            rows = await self._most_recent(instance_id, skip + limit, s)
            return await self._summaries(rows[skip:], s), total

    async def _most_recent(self, instance_id: str, wanted: int, s: Any) -> list[dict[str, Any]]:
        """The instance's `wanted` most recently active chats' summaries, in the list's order."""
        mine: dict[str, Any] = {"instance_id": instance_id}
        rows: list[dict[str, Any]] = []
        edge = self._edges.get(instance_id, wanted)
        if edge is not None:  # at least `wanted` chats were that recent at the last read
            rows = await self._recent({**mine, "last_at": at_or_after(edge)}, wanted, s)
        if len(rows) < wanted:  # no edge yet, or fewer chats are that recent now
            rows = await self._recent(mine, wanted, s)
        if len(rows) == wanted:
            self._edges.learn(instance_id, wanted, rows[-1]["last_at"])
        return rows

    async def _recent(self, query: dict[str, Any], limit: int, s: Any) -> list[dict[str, Any]]:
        """The most recently active chats first, ties by jid."""
        c = self._db.chat_summaries
        return await top(c, query, by="last_at", then=("remote_jid", 1), limit=limit, session=s)

    async def recent_chats(
        self,
        instance_ids: Sequence[str],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, list[ChatSummary]]:
        found: dict[str, list[ChatSummary]] = {}
        async with self._u.op() as s:
            for instance_id in dict.fromkeys(instance_ids):
                if limit <= 0:
                    found[instance_id] = []
                elif before is None:
                    found[instance_id] = await self._summaries(
                        await self._most_recent(instance_id, limit, s), s
                    )
                else:
                    rows = await self._recent_after(instance_id, before, limit, s)
                    found[instance_id] = await self._summaries(rows, s)
        return found

    async def _recent_after(
        self, instance_id: str, before: tuple[datetime, str], limit: int, s: Any
    ) -> list[dict[str, Any]]:
        """The chats after `before` (last_at, jid) in the list's order: the ones at its
        moment with a later jid, then the older moments' (no `$or`, which SecantusDB scans)."""
        edge = stored_at(before[0])
        same = {"instance_id": instance_id, "last_at": edge, "remote_jid": {"$gt": before[1]}}
        c = self._db.chat_summaries
        rows = await c.find(same, session=s).sort("remote_jid", 1).limit(limit).to_list()
        if len(rows) < limit:
            older = {"instance_id": instance_id, "last_at": {"$lt": edge}}
            rows += await self._recent(older, limit - len(rows), s)
        return rows

    async def chats_by_jid(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChatSummary]:
        ids = [summaries.chat_key(i, j) for i, j in dict.fromkeys(keys)]
        if not ids:
            return {}
        async with self._u.op() as s:
            rows = await self._db.chat_summaries.find({"_id": {"$in": ids}}, session=s).to_list()
            found = await self._summaries(rows, s)
        return {(r["instance_id"], r["remote_jid"]): c for r, c in zip(rows, found, strict=True)}

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        query = {"instance_id": instance_id, "remote_jid": remote_jid, **UNREAD}
        async with self._u.op() as s:
            cursor = self._c.find(query, session=s).sort([("created_at", 1), ("_id", 1)])
            return [_message(d) for d in await cursor.to_list()]

    async def set_marked_unread(
        self, instance_id: str, remote_jid: str, marked: bool
    ) -> bool | None:
        async with self._u.op(write=True) as s:
            before = await self._db.chat_summaries.find_one_and_update(
                {"_id": summaries.chat_key(instance_id, remote_jid)},
                {"$set": {"marked_unread": marked}},
                projection={"marked_unread": 1},
                session=s,
            )
        return None if before is None else bool(before.get("marked_unread"))

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None:
        if not message_ids:
            return
        query = {"instance_id": instance_id, "message_id": {"$in": list(set(message_ids))}}
        unread_after = status is MessageStatus.RECEIVED
        async with self._u.op(write=True) as s:
            docs = await self._c.find(
                query, {"remote_jid": 1, "from_me": 1, "status": 1}, session=s
            ).to_list()
            deltas: dict[str, int] = defaultdict(int)
            for d in docs:
                was = not d["from_me"] and d["status"] == MessageStatus.RECEIVED.value
                deltas[d["remote_jid"]] += int(unread_after and not d["from_me"]) - int(was)
            stamp = stored_at(at)
            await self._c.update_many(
                query,
                {"$set": {"status": status.value, "status_updated_at": stamp, "updated_at": stamp}},
                session=s,
            )
            await summaries.unread_moved(self._db, instance_id, deltas, s)

    async def advance_outgoing(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> list[tuple[str, str]]:
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return []
        query = {
            "instance_id": instance_id,
            "message_id": {"$in": wanted},
            "from_me": True,
            "status": {"$in": [b.value for b in behind_outgoing(status)]},
        }
        async with self._u.op(write=True) as s:
            docs = await self._c.find(
                query, {"message_id": 1, "remote_jid": 1}, session=s
            ).to_list()
            if not docs:
                return []
            stamp = stored_at(at)
            await self._c.update_many(
                {"_id": {"$in": [d["_id"] for d in docs]}},
                {"$set": {"status": status.value, "status_updated_at": stamp, "updated_at": stamp}},
                session=s,
            )
        jids = {d["message_id"]: d["remote_jid"] for d in docs}
        return [(m, jids[m]) for m in wanted if m in jids]
