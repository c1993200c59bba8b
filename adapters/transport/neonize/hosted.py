"""What a worker keeps per hosted instance: its neonize client, connection state and id maps."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STORE_FILE = "device.db"  # whatsmeow's SQLite device store, one per instance
IDS_FILE = "message-ids.db"  # our message ids <-> WhatsApp's (see IdMap)


class BoundedMap:
    """An insertion-ordered dict that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[str, Any] = OrderedDict()

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: str) -> Any:
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)


class IdMap:
    """Our message ids <-> the ids WhatsApp gave our sends, kept across worker restarts.

    neonize 0.5.2's send_message cannot take a message id (its Go SendMessage passes no
    SendRequestExtra.ID), so whatsmeow picks one. Receipts and quotes name WhatsApp's id;
    the domain knows ours. The worker translates in both directions with this map, which it
    also writes to a small SQLite file beside the device store: receipts often arrive after a
    worker was restarted.
    """

    def __init__(self, path: Path | None = None, limit: int = 50_000) -> None:
        self._limit = limit
        self._to_wa = BoundedMap(limit)
        self._to_ours = BoundedMap(limit)
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS ids (ours TEXT PRIMARY KEY, wa TEXT NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS ids_wa ON ids (wa)")

    def bind(self, ours: str, wa: str) -> None:
        self._to_wa.put(ours, wa)
        self._to_ours.put(wa, ours)
        if self._db is not None and ours != wa:
            self._db.execute("INSERT OR REPLACE INTO ids (ours, wa) VALUES (?, ?)", (ours, wa))
            # keep the file bounded: forget the oldest pairs now and then
            if len(self._to_wa) % 1000 == 0:
                self._db.execute(
                    "DELETE FROM ids WHERE rowid <= (SELECT MAX(rowid) FROM ids) - ?",
                    (self._limit,),
                )

    def wa(self, ours: str) -> str:
        return self._to_wa.get(ours) or self._lookup("SELECT wa FROM ids WHERE ours = ?", ours)

    def ours(self, wa: str) -> str:
        return self._to_ours.get(wa) or self._lookup("SELECT ours FROM ids WHERE wa = ?", wa)

    def _lookup(self, query: str, key: str) -> str:
        if self._db is None:
            return key
        row = self._db.execute(query, (key,)).fetchone()
        return str(row[0]) if row else key

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class Seen:
    """A recent message, kept to quote it in a reply and to mark it read."""

    chat: Any  # neonize JID as WhatsApp addressed the chat
    sender: Any  # neonize JID of the author
    message: Any  # the E2E Message body


@dataclass
class HostedClient:
    instance_id: str
    directory: Path
    client: Any  # neonize.aioze.client.NewAClient, one for the instance's whole life
    options: dict[str, Any] = field(default_factory=dict)
    supervisor: asyncio.Task[None] | None = None
    task: asyncio.Task[Any] | None = None  # neonize's connect task (a blocking Go call)
    run: int = 0  # bumped at every start: a supervisor only acts for its own run
    session: int = 0  # bumped at every connect attempt
    stopping: bool = False  # stop asked: the supervisor must not connect again
    go_registered: bool = False  # Go's tables hold this client (between connect and Stop)
    paired: bool = False  # the device has an identity in a running client
    online: bool = False  # connected now (for de-duplicating `connected` events)
    terminal: bool = False  # a terminal state was reported; no reconnect until started
    qr_seen: bool = False  # a QR code was shown in this session (pairing code allowed)
    phone: str | None = None
    push_name: str | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # Go finished its map writes
    me_seen: asyncio.Event = field(default_factory=asyncio.Event)  # Go's event loop is running
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # interrupts a backoff pause
    ids: IdMap = field(default_factory=IdMap)
    recent: BoundedMap = field(default_factory=lambda: BoundedMap(2_000))

    @property
    def store_path(self) -> Path:
        return self.directory / STORE_FILE

    def store_usable(self) -> bool:
        """Store calls (contacts, LID lookups, get_me) segfault unless paired and running."""
        return self.go_registered and self.paired
