"""What a worker keeps per hosted instance: its neonize client, connection state and id maps."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STORE_FILE = "device.db"  # whatsmeow's SQLite device store, one per instance


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
    """Our message ids <-> the ids WhatsApp gave our sends.

    neonize 0.5.2's send_message cannot take a message id (its Go SendMessage passes no
    SendRequestExtra.ID), so whatsmeow picks one. Receipts and quotes name WhatsApp's id;
    the domain knows ours. The worker translates in both directions with this map.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._to_wa = BoundedMap(limit)
        self._to_ours = BoundedMap(limit)

    def bind(self, ours: str, wa: str) -> None:
        self._to_wa.put(ours, wa)
        self._to_ours.put(wa, ours)

    def wa(self, ours: str) -> str:
        return self._to_wa.get(ours) or ours

    def ours(self, wa: str) -> str:
        return self._to_ours.get(wa) or wa


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
    recent: BoundedMap = field(default_factory=lambda: BoundedMap(5_000))

    @property
    def store_path(self) -> Path:
        return self.directory / STORE_FILE

    def store_usable(self) -> bool:
        """Store calls (contacts, LID lookups, get_me) segfault unless paired and running."""
        return self.go_registered and self.paired
