"""In-memory fakes of the ports, for unit tests of the use cases (no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.entities import (
    ActivityLog,
    ChatSummary,
    Contact,
    Event,
    EventType,
    Instance,
    Media,
    Message,
    MessageStatus,
    Role,
    User,
)
from domain.errors import ValidationFailed
from domain.ports import USAGE_COUNTERS, FetchedFile
from domain.webhooks import DeliveryStatus, WebhookDelivery
from domain.wire import EngineContact, NumberCheck, OutgoingMessage


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2023, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


class SequentialIds:
    def __init__(self, prefix: str = "id-") -> None:
        self.prefix = prefix
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n:04d}"


TABLES = (
    "users", "instances", "activity", "events", "messages", "contacts", "media",
    "webhooks", "usage", "notices",
)  # fmt: skip

# The tables that hold an instance's messaging data; deleting the instance empties them.
_MESSAGING_TABLES = ("messages", "contacts", "media", "webhooks", "usage", "notices")


class MemoryState:
    """The "database": tables as dicts, copied into and out of each unit of work."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.instances: dict[str, Instance] = {}
        self.activity: dict[str, ActivityLog] = {}
        self.events: list[Event] = []
        self.messages: dict[str, Message] = {}
        self.contacts: dict[str, Contact] = {}
        self.media: dict[str, Media] = {}
        self.webhooks: dict[str, WebhookDelivery] = {}
        self.usage: dict[str, UsageRow] = {}
        self.notices: dict[str, UsageRow] = {}

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({name: getattr(self, name) for name in TABLES})


class _Users:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.t["users"].values()):
            raise ValueError("unique email")
        self.t["users"][user.id] = copy.deepcopy(user)

    async def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self.t["users"].get(user_id))

    async def get_by_email(self, email: str) -> User | None:
        return next((copy.deepcopy(u) for u in self.t["users"].values() if u.email == email), None)

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        users = self.t["users"].values()
        return next((copy.deepcopy(u) for u in users if u.api_key_hash == api_key_hash), None)

    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]:
        ordered = sorted(self.t["users"].values(), key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(ordered[skip : skip + limit]), len(ordered)

    async def update(self, user: User) -> None:
        if user.id in self.t["users"]:
            self.t["users"][user.id] = copy.deepcopy(user)

    async def delete(self, user_id: str) -> None:
        self.t["users"].pop(user_id, None)

    async def count_active_admins(self) -> int:
        return sum(1 for u in self.t["users"].values() if u.role is Role.ADMIN and u.is_active)


class _Instances:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, instance: Instance) -> None:
        self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def get(self, instance_id: str) -> Instance | None:
        return copy.deepcopy(self.t["instances"].get(instance_id))

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        found = [i for i in self.t["instances"].values() if user_id is None or i.user_id == user_id]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def update(self, instance: Instance) -> None:
        if instance.id in self.t["instances"]:
            self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def delete(self, instance_id: str) -> None:
        self.t["instances"].pop(instance_id, None)
        self.t["activity"] = {
            k: a for k, a in self.t["activity"].items() if a.instance_id != instance_id
        }
        self.t["events"] = [e for e in self.t["events"] if e.instance_id != instance_id]
        for table in _MESSAGING_TABLES:
            self.t[table] = {k: r for k, r in self.t[table].items() if r.instance_id != instance_id}


class _Activity:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, log: ActivityLog) -> None:
        self.t["activity"][log.id] = copy.deepcopy(log)

    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]:
        found = [
            a
            for a in self.t["activity"].values()
            if a.instance_id == instance_id
            and (not actions or a.action in actions)
            and (start is None or a.created_at >= start)
            and (end is None or a.created_at <= end)
        ]
        found.sort(key=lambda a: (a.created_at, a.id), reverse=True)
        return copy.deepcopy(found[skip : skip + limit]), len(found)


class _Events:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, event: Event) -> None:
        stored = copy.deepcopy(event)
        stored.seq = len(self.t["events"]) + 1
        self.t["events"].append(stored)

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        stamps = [e.timestamp_ms for e in self.t["events"] if e.instance_id == instance_id]
        return max(stamps) if stamps else None

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        found = [
            e
            for e in self.t["events"]
            if e.instance_id == instance_id
            and (since_ms is None or e.timestamp_ms > since_ms)
            and (not types or e.type in types)
        ]
        found.sort(key=lambda e: (e.timestamp_ms, e.seq))
        return copy.deepcopy(found[:limit]), len(found) > limit


def _utc(moment: datetime) -> datetime:
    """SQL stores naive datetimes as UTC; the fake compares them the same way."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _require_instance(t: dict[str, Any], instance_id: str) -> None:
    # The SQL tables reference instances.id (foreign keys are on in SQLite).
    if instance_id not in t["instances"]:
        raise ValueError(f"foreign key: no instance {instance_id}")


def _newest_first(found: list[Message]) -> list[Message]:
    return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)


class _Messages:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    def _rows(self, instance_id: str) -> list[Message]:
        return [m for m in self.t["messages"].values() if m.instance_id == instance_id]

    async def add(self, message: Message) -> None:
        _require_instance(self.t, message.instance_id)
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
            and (start is None or m.created_at >= _utc(start))
            and (end is None or m.created_at <= _utc(end))
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


def _sort_name(c: Contact) -> str:
    """COALESCE(name, push_name, number): an empty string is a value, only None is skipped."""
    if c.name is not None:
        return c.name
    return c.push_name if c.push_name is not None else c.number


class _Contacts:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def get(self, instance_id: str, remote_jid: str) -> Contact | None:
        contacts = self.t["contacts"].values()
        found = (c for c in contacts if c.instance_id == instance_id and c.remote_jid == remote_jid)
        return copy.deepcopy(next(found, None))

    async def upsert(self, contact: Contact) -> None:
        existing = await self.get(contact.instance_id, contact.remote_jid)
        stored = copy.deepcopy(contact)
        if existing is None:
            _require_instance(self.t, contact.instance_id)
            if contact.id in self.t["contacts"]:
                raise ValueError("unique id")
        else:
            stored.id, stored.created_at = existing.id, existing.created_at
        self.t["contacts"][stored.id] = stored

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]:
        term = search.lower() if search else None

        def matches(c: Contact) -> bool:
            fields = (c.name, c.push_name, c.number)
            return term is None or any(term in f.lower() for f in fields if f is not None)

        found = [
            c
            for c in self.t["contacts"].values()
            if c.instance_id == instance_id and (c.is_group or not only_groups) and matches(c)
        ]
        found.sort(key=lambda c: (_sort_name(c), c.id))
        return copy.deepcopy(found[skip : skip + limit]), len(found)


class _Media:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, media: Media) -> None:
        _require_instance(self.t, media.instance_id)
        if media.id in self.t["media"]:
            raise ValueError("unique id")
        self.t["media"][media.id] = copy.deepcopy(media)

    async def get(self, media_id: str) -> Media | None:
        return copy.deepcopy(self.t["media"].get(media_id))


@dataclass
class UsageRow:
    """One (instance, day) row of counters, or one limit notice (counters empty)."""

    instance_id: str
    day: str
    counters: dict[str, int] = field(default_factory=dict)


class _Webhooks:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, delivery: WebhookDelivery) -> None:
        stored = copy.deepcopy(delivery)
        stored.seq = len(self.t["webhooks"]) + 1
        self.t["webhooks"][delivery.id] = stored

    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None:
        found = self.t["webhooks"].get(delivery_id)
        return copy.deepcopy(found) if found and found.instance_id == instance_id else None

    async def update(self, delivery: WebhookDelivery) -> None:
        if delivery.id in self.t["webhooks"]:
            seq = self.t["webhooks"][delivery.id].seq
            self.t["webhooks"][delivery.id] = copy.deepcopy(delivery)
            self.t["webhooks"][delivery.id].seq = seq

    def _pending(self, instance_id: str | None = None) -> list[WebhookDelivery]:
        found = [
            d
            for d in self.t["webhooks"].values()
            if d.status is DeliveryStatus.PENDING and instance_id in (None, d.instance_id)
        ]
        return sorted(found, key=lambda d: d.seq)

    async def pending(self, instance_id: str, limit: int) -> list[WebhookDelivery]:
        return copy.deepcopy(self._pending(instance_id)[:limit])

    async def pending_instances(self) -> list[str]:
        return sorted({d.instance_id for d in self._pending()})

    async def list(
        self, instance_id: str, *, status: str | None, event: str | None, limit: int, skip: int
    ) -> tuple[list[WebhookDelivery], int]:
        found = [
            d
            for d in self.t["webhooks"].values()
            if d.instance_id == instance_id
            and (status is None or d.status.value == status)
            and (event is None or d.event == event)
        ]
        found.sort(key=lambda d: d.seq, reverse=True)
        return copy.deepcopy(found[skip : skip + limit]), len(found)


class _Usage:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    def _row(self, instance_id: str, day: date) -> UsageRow:
        key = f"{instance_id}/{day.isoformat()}"
        row = self.t["usage"].get(key)
        if row is None:
            row = self.t["usage"][key] = UsageRow(
                instance_id, day.isoformat(), dict.fromkeys(USAGE_COUNTERS, 0)
            )
        return row

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None:
        if not any(counters.values()):
            return
        row = self._row(instance_id, day)
        for name, amount in counters.items():
            row.counters[name] += amount

    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        row = self._row(instance_id, day)
        if row.counters[counter] + amount > maximum:
            return None
        row.counters[counter] += amount
        return row.counters[counter]

    async def day(self, instance_id: str, day: date) -> dict[str, int]:
        row = self.t["usage"].get(f"{instance_id}/{day.isoformat()}")
        return dict(row.counters) if row else dict.fromkeys(USAGE_COUNTERS, 0)

    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]:
        rows = [
            r
            for r in self.t["usage"].values()
            if r.instance_id == instance_id and (since is None or r.day >= since.isoformat())
        ]
        return [
            (date.fromisoformat(r.day), dict(r.counters)) for r in sorted(rows, key=lambda r: r.day)
        ]

    async def totals(self, instance_ids: Any, since: date | None) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.t["usage"].values():
            if instance_ids is not None and r.instance_id not in instance_ids:
                continue
            if since is not None and r.day < since.isoformat():
                continue
            total = out.setdefault(r.instance_id, dict.fromkeys(USAGE_COUNTERS, 0))
            for name, amount in r.counters.items():
                total[name] += amount
        return out

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        key = f"{instance_id}/{day.isoformat()}/{limit}"
        if key in self.t["notices"]:
            return False
        self.t["notices"][key] = UsageRow(instance_id, day.isoformat())
        return True


class MemoryUnitOfWork:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._tables = self._state.snapshot()
        self.users = _Users(self._tables)
        self.instances = _Instances(self._tables)
        self.activity = _Activity(self._tables)
        self.events = _Events(self._tables)
        self.messages = _Messages(self._tables)
        self.contacts = _Contacts(self._tables)
        self.media = _Media(self._tables)
        self.webhooks = _Webhooks(self._tables)
        self.usage = _Usage(self._tables)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._tables = {}

    async def commit(self) -> None:
        for name in TABLES:
            setattr(self._state, name, self._tables[name])
        self._tables = self._state.snapshot()
        for repo in (
            self.users,
            self.instances,
            self.activity,
            self.events,
            self.messages,
            self.contacts,
            self.media,
            self.webhooks,
            self.usage,
        ):
            repo.t = self._tables

    async def rollback(self) -> None:
        self._tables.update(self._state.snapshot())


class MemoryStorage:
    def __init__(self) -> None:
        self.state = MemoryState()

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state)


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)

    def subscribe(self, instance_id: str) -> Any:
        raise NotImplementedError("unit tests do not subscribe")


class FakeEngine:
    """Stands in for WhatsApp: records every call; `send` can be made to fail."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.sent: list[OutgoingMessage] = []
        self.address_book: list[EngineContact] = []
        self.whatsapp_numbers: set[str] = set()  # the phones check_numbers finds
        self.next_pairing_code = "ABCD-1234"
        self.send_error: Exception | None = None
        # Runs inside `send`, before it returns or fails: lets a test look at the storage
        # as it is while the message is in WhatsApp's hands.
        self.while_sending: Callable[[OutgoingMessage], Awaitable[None]] | None = None

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        self.calls.append(("start", instance_id))

    async def stop(self, instance_id: str) -> None:
        self.calls.append(("stop", instance_id))

    async def logout(self, instance_id: str) -> None:
        self.calls.append(("logout", instance_id))

    async def destroy(self, instance_id: str) -> None:
        self.calls.append(("destroy", instance_id))

    async def send(self, instance_id: str, message: OutgoingMessage) -> None:
        self.calls.append(("send", instance_id, message.message_id))
        if self.while_sending is not None:
            await self.while_sending(message)
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(message)

    async def contacts(self, instance_id: str) -> list[EngineContact]:
        self.calls.append(("contacts", instance_id))
        return list(self.address_book)

    async def add_contact(self, instance_id: str, jid: str, name: str | None) -> None:
        self.calls.append(("add_contact", instance_id, jid, name))

    async def mark_read(self, instance_id: str, chat_jid: str, message_ids: Sequence[str]) -> None:
        self.calls.append(("mark_read", instance_id, chat_jid, list(message_ids)))

    async def pairing_code(self, instance_id: str, phone: str) -> str:
        self.calls.append(("pairing_code", instance_id, phone))
        return self.next_pairing_code

    async def check_numbers(self, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        self.calls.append(("check_numbers", instance_id, list(phones)))
        return [
            NumberCheck(p, f"{p}@s.whatsapp.net", True)
            if p in self.whatsapp_numbers
            else NumberCheck(p, None, False)
            for p in phones
        ]

    async def close(self) -> None:
        self.calls.append(("close",))


class FakeFetcher:
    """Answers every URL with one canned file, or refuses it with ValidationFailed."""

    def __init__(self, file: FetchedFile | None = None, refusal: str | None = None) -> None:
        self.file = file or FetchedFile(b"\x89PNG fake image", "image/png", "picture.png")
        self.refusal = refusal
        self.urls: list[str] = []

    async def fetch(self, url: str) -> FetchedFile:
        self.urls.append(url)
        if self.refusal is not None:
            raise ValidationFailed(self.refusal, {"field": "url"})
        return self.file


class FakeConnections:
    """Records what the use cases asked of the connection runtime."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.whatsapp = FakeEngine()

    def engine(self, instance: Instance) -> FakeEngine:
        return self.whatsapp

    async def start(self, instance: Instance) -> None:
        self.calls.append(("start", instance.id))

    async def stop(self, instance: Instance) -> None:
        self.calls.append(("stop", instance.id))

    async def reconnect(self, instance: Instance) -> None:
        self.calls.append(("reconnect", instance.id))

    async def logout(self, instance: Instance) -> None:
        self.calls.append(("logout", instance.id))

    async def destroy(self, instance: Instance) -> None:
        self.calls.append(("destroy", instance.id))

    def sandbox(self) -> Any:
        raise NotImplementedError


class PlainHasher:
    """Stands in for argon2 in unit tests: reversible on purpose, never used for real."""

    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, password: str, password_hash: str) -> bool:
        return password_hash == "plain$" + password


class PlainBox:
    def seal(self, plaintext: str) -> str:
        return "sealed:" + plaintext

    def open(self, sealed: str) -> str | None:
        return sealed.removeprefix("sealed:") if sealed.startswith("sealed:") else None


class FakeTokens:
    def issue(self, user: User) -> str:
        return "token-for-" + user.id

    def subject(self, token: str) -> str:
        from domain.errors import Unauthorized

        if not token.startswith("token-for-"):
            raise Unauthorized("Invalid token")
        return token.removeprefix("token-for-")


class MemoryMediaStore:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}

    async def write(self, instance_id: str, media_id: str, data: bytes) -> None:
        self.files[(instance_id, media_id)] = data

    async def read(self, instance_id: str, media_id: str) -> bytes | None:
        return self.files.get((instance_id, media_id))

    async def remove_instance(self, instance_id: str) -> None:
        self.files = {k: v for k, v in self.files.items() if k[0] != instance_id}
