"""The benches on MongoDB (`--provider mongodb`): a SecantusDB server of their own, seeded fast.

Without `--mongo-url` a `secantusd-py` is started on a free port of 127.0.0.1 with its storage
in the bench's directory (tests/services/mongo.py starts the tests' one the same way) and
stopped at the end; the storage goes with the directory unless it is kept (`--keep`), and a
later run on a kept directory starts the server again on the same storage. With
`--mongo-url` the bench uses that server, on a fresh `wamux_b_<hex>` database dropped at the
end unless kept. The server under test gets `DATABASE_PROVIDER=mongodb` and that database's
URL.

The seed writes the documents the Mongo adapter writes (adapters/storage/mongo/: each
document holds the SQL row's columns, times as fixed-width UTC text), with `insert_many` in
large unordered batches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from adapters.storage.mongo.codec import key  # noqa: E402
from domain.counters import USAGE_COUNTERS  # noqa: E402
from tests.realserver import cpu_seconds_of  # noqa: E402
from tests.services.mongo import _executable, _free_port, wait_for_ping  # noqa: E402

BATCH = 10_000
_START_TIMEOUT_S = 60.0

Doc = dict[str, Any]


class SecantusServer:
    """One `secantusd-py` on a free port of 127.0.0.1, storing under `storage` (kept there
    across a stop: a later start on the same directory finds the data again)."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.storage.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        log = (self.storage / "server.log").open("ab")
        command = [_executable(), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--storage-path", str(self.storage / "data"), "--log-level", "WARNING"]
        self._process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_ping(self._process, self.base_url, self.storage / "server.log")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def cpu_seconds(self) -> float | None:
        return None if self._process is None else cpu_seconds_of(self._process.pid)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)  # it checkpoints its storage on the way out
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def fresh_name() -> str:
    return f"wamux_b_{uuid.uuid4().hex[:12]}"


def database_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/{name}"


def server_env(url: str) -> dict[str, str]:
    return {"DATABASE_PROVIDER": "mongodb", "DATABASE_URL": url}


def drop(url: str) -> None:
    client: MongoClient[Doc] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(client.get_default_database().name)
    finally:
        client.close()


def size_mb(url: str) -> int:
    client: MongoClient[Doc] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        stats = client.get_default_database().command("dbStats")
        return round(float(stats.get("storageSize") or stats.get("dataSize") or 0) / 2**20)
    except PyMongoError:
        return 0
    finally:
        client.close()


def _moment(sql_text: str) -> str:
    """SQLite's `2024-01-01 00:00:00.000000` as the Mongo codec stores it (a `T`)."""
    return sql_text.replace(" ", "T", 1)


def message_doc(row: tuple[Any, ...]) -> Doc:
    """A message tuple as bench/reads.py builds it for SQLite, as MongoMessages.add stores
    it (`to_doc(Message)` with `_id`)."""
    (mid, instance_id, jid, from_me, kind, content, wa_id, status, has_media, _meta, c, u, s) = row
    return {
        "_id": mid,
        "id": mid,
        "instance_id": instance_id,
        "remote_jid": jid,
        "from_me": bool(from_me),
        "message_type": kind,
        "content": content,
        "message_id": wa_id,
        "status": status,
        "created_at": _moment(c),
        "updated_at": _moment(u),
        "has_media": bool(has_media),
        "media_id": None,
        "media_url": None,
        "caption": None,
        "mime_type": None,
        "file_name": None,
        "media_size": None,
        "quoted_message_id": None,
        "metadata": {},
        "status_updated_at": _moment(s),
    }


def contact_doc(row: tuple[Any, ...]) -> Doc:
    cid, instance_id, number, jid, name, created, updated = row
    return {
        "_id": cid,
        "id": cid,
        "instance_id": instance_id,
        "number": number,
        "remote_jid": jid,
        "is_group": False,
        "created_at": _moment(created),
        "updated_at": _moment(updated),
        "name": name,
        "push_name": None,
        "profile_picture": None,
        "about": None,
        "last_activity": None,
    }


class _Tally:
    """What the server keeps beside the messages, from the same documents: each chat's
    summary (chats.py: counts, the unread count, the newest by (created_at, id), the oldest
    time), each instance's chat count and the per-day usage counters (usage.py)."""

    def __init__(self) -> None:
        self.chats: dict[tuple[str, str], Doc] = {}
        self.days: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, doc: Doc) -> None:
        chat = (doc["instance_id"], doc["remote_jid"])
        summary = self.chats.get(chat)
        if summary is None:
            summary = self.chats[chat] = {
                "_id": key(*chat),
                "instance_id": chat[0],
                "remote_jid": chat[1],
                "message_count": 0,
                "unread_count": 0,
                "marked_unread": False,
                "last_message_id": doc["_id"],
                "last_at": doc["created_at"],
                "first_at": doc["created_at"],
            }
        summary["message_count"] += 1
        summary["unread_count"] += int(not doc["from_me"] and doc["status"] == "received")
        if (doc["created_at"], doc["_id"]) > (summary["last_at"], summary["last_message_id"]):
            summary["last_message_id"], summary["last_at"] = doc["_id"], doc["created_at"]
        summary["first_at"] = min(summary["first_at"], doc["created_at"])
        day = self.days[(doc["instance_id"], doc["created_at"][:10])]
        day["messages_sent" if doc["from_me"] else "messages_received"] += 1

    def chat_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for instance_id, _jid in self.chats:
            counts[instance_id] += 1
        return counts

    def usage_docs(self) -> list[Doc]:
        return [
            {
                "_id": key(instance_id, day),
                "instance_id": instance_id,
                "day": day,
                **{name: int(counts.get(name, 0)) for name in USAGE_COUNTERS},
            }
            for (instance_id, day), counts in sorted(self.days.items())
        ]


def seed(url: str, rows: Iterable[tuple[Any, ...]], contacts: Iterable[tuple[Any, ...]]) -> None:
    """`rows`: message tuples as bench/reads.py builds them for SQLite; inserted in batches
    of BATCH (unordered), then the chat summaries, the usage counters and the contacts.
    The indexes exist already (the server's `migrate()` made them at its first start)."""
    client: MongoClient[Doc] = MongoClient(url, serverSelectionTimeoutMS=5000)
    db = client.get_default_database()
    tally = _Tally()
    done = 0
    started = time.monotonic()
    try:
        batch: list[Doc] = []
        for row in rows:
            doc = message_doc(row)
            tally.add(doc)
            batch.append(doc)
            if len(batch) >= BATCH:
                db.messages.insert_many(batch, ordered=False)
                done += len(batch)
                batch = []
                took = time.monotonic() - started
                print(
                    f"  seeded {done:,} messages in {took:.0f} s ({done / took:,.0f}/s)",
                    file=sys.stderr,
                    flush=True,
                )
        if batch:
            db.messages.insert_many(batch, ordered=False)
        db.chat_summaries.insert_many(list(tally.chats.values()), ordered=False)
        for instance_id, chats in tally.chat_counts().items():  # the instance's count was 0
            db.chat_counts.update_one({"_id": instance_id}, {"$inc": {"chats": chats}})
        db.usage_daily.insert_many(tally.usage_docs(), ordered=False)
        db.contacts.insert_many([contact_doc(c) for c in contacts], ordered=False)
    finally:
        client.close()
