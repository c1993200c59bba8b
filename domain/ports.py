"""Ports: what the core needs from the outside world, as Protocols that adapters implement."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from domain.counters import USAGE_COUNTERS as USAGE_COUNTERS
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
    User,
)
from domain.webhook_targets import WebhookTarget
from domain.webhooks import AttemptResult, WebhookDelivery
from domain.wire import (
    EngineContact,
    GroupInfo,
    IncomingMessage,
    LastMessageKey,
    NumberCheck,
    OutgoingMessage,
    WorkerInfo,
)

# --- storage ---------------------------------------------------------------------------


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get(self, user_id: str) -> User | None: ...
    async def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        """The users among `user_ids` that exist, by id (one query for a page of owners)."""
        ...

    async def get_by_email(self, email: str) -> User | None: ...
    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None: ...
    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]: ...
    async def page(self, *, after: tuple[datetime, str] | None, limit: int) -> builtins.list[User]:
        """Up to `limit` users, oldest first by (created_at, id), strictly after `after` when
        given: a keyset page, which users added meanwhile neither shift nor repeat."""
        ...

    async def update(self, user: User) -> None: ...
    async def record_login(self, user_id: str, at: datetime) -> None:
        """Sets only last_login_at: a login must not write back a password or token version
        that changed while it checked the password."""
        ...

    async def delete(self, user_id: str) -> None: ...
    async def count_active_admins(self) -> int: ...


class InstanceRepository(Protocol):
    async def add(self, instance: Instance) -> None: ...
    async def get(self, instance_id: str) -> Instance | None: ...
    async def get_many(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        """The instances of these ids that exist, by id (one read for a batch)."""
        ...

    async def list(self, *, user_id: str | None = None) -> list[Instance]: ...
    async def update(self, instance: Instance) -> None: ...
    async def delete(self, instance_id: str) -> None: ...


class ActivityRepository(Protocol):
    async def add(self, log: ActivityLog) -> None: ...
    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]: ...

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[ActivityLog]]:
        """Up to `limit` entries of each instance (every id is a key), newest first by
        (created_at, id), strictly older than `before` when given: keyset pages. One query
        for many instances."""
        ...


class EventRepository(Protocol):
    async def add(self, event: Event) -> None: ...
    async def last_timestamp_ms(self, instance_id: str) -> int | None: ...
    async def last_timestamps_ms(self, instance_ids: Sequence[str]) -> dict[str, int]:
        """`last_timestamp_ms` of several instances in one read; those with no event are absent."""
        ...

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        """Oldest first, strictly after `since_ms`; the bool says whether more remain."""
        ...

    async def since_many(
        self,
        reads: Sequence[tuple[str, Sequence[EventType] | None]],
        *,
        since_ms: int | None,
        limit: int,
        newest: bool = False,
    ) -> dict[str, tuple[list[Event], bool]]:
        """`list_since` of each (instance id, types) in one query, keyed by instance id.

        `newest`: each page holds the newest `limit` events after `since_ms` instead of the
        oldest, still oldest first; the bool then says whether older ones remain."""
        ...


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...
    async def get(self, instance_id: str, message_id: str) -> Message | None:
        """By WhatsApp's message id, within one instance."""
        ...

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        """By (instance id, WhatsApp message id), the ones that exist: one query for many."""
        ...

    async def update(self, message: Message) -> None: ...
    async def latest(
        self,
        chats: Sequence[tuple[str, str]],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[tuple[str, str], list[Message]]:
        """Up to `limit` messages of each (instance id, remote JID), newest first, strictly
        older than `before` (created_at, row id) when given: keyset pages, which neither
        repeat nor skip a message when new ones arrive. One query for many chats."""
        ...

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
        """Newest first."""
        ...

    async def chats(
        self, instance_id: str, *, limit: int, skip: int
    ) -> tuple[list[ChatSummary], int]:
        """Conversations, the most recently active first."""
        ...

    async def recent_chats(
        self,
        instance_ids: Sequence[str],
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, list[ChatSummary]]:
        """Up to `limit` conversations of each instance, the most recently active first (the
        order of `chats`), after `before` (last activity, remote JID) in that order when
        given. One query for many instances."""
        ...

    async def chats_by_jid(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChatSummary]:
        """The conversations among (instance id, remote JID) that exist, as `chats` shows
        them (one query for many)."""
        ...

    async def unread(self, instance_id: str, remote_jid: str) -> list[Message]:
        """Received messages of a chat not yet marked read, oldest first."""
        ...

    async def set_marked_unread(
        self, instance_id: str, remote_jid: str, marked: bool
    ) -> bool | None:
        """Sets or clears the chat's "marked unread" flag (WhatsApp's badge on the chat, not a
        change to its messages); answers what it was before, or None when the instance has no
        such chat. Every message added to the chat clears the flag."""
        ...

    async def set_status(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> None: ...

    async def advance_outgoing(
        self, instance_id: str, message_ids: Sequence[str], status: MessageStatus, at: datetime
    ) -> list[tuple[str, str]]:
        """Moves our own messages among `message_ids` forward to `status` (sent, delivered,
        read): only those behind it and not failed, since receipts come late or twice.
        Answers (message_id, remote_jid) of the moved ones, in the order of `message_ids`.
        Reads nothing first: the send and receipt paths stay one statement each."""
        ...


class ContactRepository(Protocol):
    async def get(self, instance_id: str, remote_jid: str) -> Contact | None: ...
    async def get_many(self, instance_id: str, remote_jids: Sequence[str]) -> dict[str, Contact]:
        """The contacts among `remote_jids` that exist, by JID (one query for a page)."""
        ...

    async def find(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        """By (instance id, remote JID) across instances, the ones that exist (one query)."""
        ...

    async def upsert(self, contact: Contact) -> None:
        """Insert, or update the contact with the same (instance, remoteJid)."""
        ...

    async def touch(self, contact: Contact) -> None:
        """A message came from or went to this chat: insert `contact`, or, on the same
        (instance, remoteJid), set its `last_activity` and `updated_at` and, when
        `contact.push_name` is not None, its push name; the rest is kept. No read first."""
        ...

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]: ...

    async def page(
        self,
        instance_ids: Sequence[str],
        *,
        search: str | None,
        only_groups: bool,
        after: tuple[str, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[Contact]]:
        """Up to `limit` contacts of each instance (every id is a key) in the order of `list`
        (COALESCE(name, push_name, number), then id), strictly after `after` (that name,
        id) when given: keyset pages. One query for many instances."""
        ...


class MediaRepository(Protocol):
    async def add(self, media: Media) -> None: ...
    async def get(self, media_id: str) -> Media | None: ...


class WebhookRepository(Protocol):
    async def add(self, delivery: WebhookDelivery) -> None: ...
    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None: ...
    async def update(self, delivery: WebhookDelivery) -> None: ...
    async def update_many(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """Stores the outcome of a batch of attempts in one statement."""
        ...

    async def pending(self, instance_id: str, limit: int) -> list[WebhookDelivery]:
        """The oldest pending deliveries of an instance, in order."""
        ...

    async def pending_instances(self) -> list[str]: ...
    async def list(
        self,
        instance_id: str,
        *,
        status: str | None,
        event: str | None,
        limit: int,
        skip: int,
    ) -> tuple[list[WebhookDelivery], int]:
        """Newest first."""
        ...

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        status: str | None,
        event: str | None,
        before_seq: int | None,
        limit: int,
    ) -> dict[str, builtins.list[WebhookDelivery]]:
        """Up to `limit` deliveries of each instance (every id is a key), newest first by
        `seq`, strictly below `before_seq` when given: keyset pages. One query."""
        ...


class UsageRepository(Protocol):
    """Per-instance, per-UTC-day counters; every change is an atomic increment."""

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None: ...
    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        """Adds unless the result passes `maximum`; the new value, or None if refused."""
        ...

    async def day(self, instance_id: str, day: date) -> dict[str, int]: ...
    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]: ...
    async def totals(
        self, instance_ids: Sequence[str] | None, since: date | None
    ) -> dict[str, dict[str, int]]:
        """Sums per instance (None: every instance)."""
        ...

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        """Records that `limit` was reached today; True only the first time."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without `commit()` rolls everything back."""

    users: UserRepository
    instances: InstanceRepository
    activity: ActivityRepository
    events: EventRepository
    messages: MessageRepository
    contacts: ContactRepository
    media: MediaRepository
    webhooks: WebhookRepository
    usage: UsageRepository

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work. `read_only=True` promises it writes nothing: a backend may then
    serve it beside the writers without waiting for them (SQLite: a read-only connection,
    where a write fails)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


class Storage(Protocol):
    """A storage backend: hands out units of work; migrated on start, closed on stop."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork: ...
    async def migrate(self) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


# --- security --------------------------------------------------------------------------


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password: str, password_hash: str) -> bool: ...


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    version: int  # the user's token_version when the token was issued
    expires_at: datetime


class TokenService(Protocol):
    def issue(self, user: User) -> str: ...
    def verify(self, token: str) -> TokenClaims:
        """What a valid, unexpired token says (by the injected clock); raises Unauthorized."""
        ...


class SecretBox(Protocol):
    """Symmetric encryption with a key the database does not hold."""

    def seal(self, plaintext: str) -> str: ...
    def open(self, sealed: str) -> str | None: ...


# --- WhatsApp transport ----------------------------------------------------------------


class MediaStore(Protocol):
    """The bytes of stored media (the metadata lives in MediaRepository)."""

    async def write(self, instance_id: str, media_id: str, data: bytes) -> None: ...
    async def read(self, instance_id: str, media_id: str) -> bytes | None: ...
    async def remove_instance(self, instance_id: str) -> None: ...


@dataclass(frozen=True)
class FetchedFile:
    data: bytes
    mime_type: str | None
    file_name: str | None


class MediaFetcher(Protocol):
    async def fetch(self, url: str) -> FetchedFile:
        """Downloads with a size cap and a timeout; refuses private addresses unless allowed.

        Raises ValidationFailed for a URL that is refused, too large, or cannot be fetched."""
        ...


class ConnectionListener(Protocol):
    """What an engine reports about one instance's connection and its messages."""

    async def on_connecting(self, instance_id: str) -> None: ...
    async def on_qr(self, instance_id: str, qr_code: str) -> None: ...
    async def on_connected(
        self, instance_id: str, phone: str | None, push_name: str | None
    ) -> None: ...
    async def on_disconnected(
        self, instance_id: str, reason: str, will_reconnect: bool
    ) -> None: ...
    async def on_reconnecting(self, instance_id: str, attempt: int, delay_ms: int) -> None: ...
    async def on_logged_out(self, instance_id: str, reason: str) -> None: ...
    async def on_message(self, instance_id: str, message: IncomingMessage) -> None: ...
    async def on_receipt(
        self, instance_id: str, chat_jid: str, message_ids: Sequence[str], status: MessageStatus
    ) -> None: ...
    async def on_presence(
        self, instance_id: str, chat_jid: str, sender_jid: str, state: str
    ) -> None:
        """Someone is typing, recording, paused, or came online/offline (`PRESENCE_STATES`)."""
        ...

    async def on_group_update(
        self, instance_id: str, group: GroupInfo | None, change: dict[str, Any]
    ) -> None:
        """A group changed: `change` is {"groupJid", "action" (created, subject,
        description, add, remove, promote, demote, join, leave), "by", "participants"?,
        "subject"?, "description"?}; `group` is its state after, when the engine knows it."""
        ...


class WhatsAppEngine(Protocol):
    name: str

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        """Begin connecting (or pairing); progress is reported to the listener."""
        ...

    async def stop(self, instance_id: str) -> None:
        """Close the connection quietly, keeping the session (shutdown, reconnect)."""
        ...

    async def logout(self, instance_id: str) -> None:
        """Unlink the device and forget the session."""
        ...

    async def destroy(self, instance_id: str) -> None:
        """Stop and delete every local file of the instance."""
        ...

    async def send(self, instance_id: str, message: OutgoingMessage) -> None:
        """Hands a message to WhatsApp; raises EngineFailure when it cannot."""
        ...

    async def contacts(self, instance_id: str) -> list[EngineContact]: ...
    async def add_contact(self, instance_id: str, jid: str, name: str | None) -> None: ...
    async def mark_read(
        self, instance_id: str, chat_jid: str, message_ids: Sequence[str]
    ) -> None: ...
    async def mark_unread(
        self,
        instance_id: str,
        chat_jid: str,
        last: LastMessageKey | None,
        *,
        unread: bool = True,
    ) -> None:
        """The chat's "marked unread" flag on the account (WhatsApp's app state, which the
        phone shows as a badge): set, or cleared with `unread=False` when the chat is read.
        `last` is the chat's newest message, which the mark covers."""
        ...

    async def pairing_code(self, instance_id: str, phone: str) -> str:
        """A code to type on the phone (Linked devices > Link with phone number).

        `phone` is digits in international format; the code is shown as `XXXX-XXXX`.
        Raises Conflict unless the instance is waiting to be paired (showing a QR)."""
        ...

    async def check_numbers(self, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        """Whether each phone (digits) has WhatsApp, one answer per phone, in order."""
        ...

    async def send_presence(self, instance_id: str, chat_jid: str | None, state: str) -> None:
        """Typing/recording/paused in a chat (`chat_jid`), or the account's own
        available/unavailable (`chat_jid` None). Raises Conflict when not connected."""
        ...

    # groups: every call raises Conflict when the instance is not connected, NotFound for a
    # group it is not in, Forbidden for a change that needs a group admin.
    async def groups(self, instance_id: str) -> list[GroupInfo]: ...
    async def group_info(self, instance_id: str, group_jid: str) -> GroupInfo: ...
    async def create_group(
        self, instance_id: str, subject: str, participants: Sequence[str]
    ) -> GroupInfo: ...
    async def set_group_subject(self, instance_id: str, group_jid: str, subject: str) -> None: ...
    async def set_group_description(
        self, instance_id: str, group_jid: str, description: str
    ) -> None: ...
    async def update_group_participants(
        self, instance_id: str, group_jid: str, action: str, participants: Sequence[str]
    ) -> None: ...
    async def group_invite_link(self, instance_id: str, group_jid: str, revoke: bool) -> str: ...
    async def join_group(self, instance_id: str, code: str) -> str:
        """Joins by an invite code; returns the group's JID."""
        ...

    async def leave_group(self, instance_id: str, group_jid: str) -> None: ...

    async def close(self) -> None: ...


class SandboxControl(Protocol):
    """Test hooks of the simulated network."""

    async def scan(self, instance_id: str, phone: str | None, push_name: str | None) -> None: ...
    async def drop(self, instance_id: str, reason: str) -> None: ...
    async def incoming(self, instance_id: str, message: IncomingMessage) -> None: ...
    async def receipt(
        self, instance_id: str, chat_jid: str, message_id: str, status: MessageStatus
    ) -> None: ...


class Connections(Protocol):
    """Runs instances' connections wherever they live (this process, or another node later)."""

    async def start(self, instance: Instance) -> None: ...
    async def stop(self, instance: Instance) -> None: ...
    async def reconnect(self, instance: Instance) -> None: ...
    async def logout(self, instance: Instance) -> None: ...
    async def destroy(self, instance: Instance) -> None: ...
    def engine(self, instance: Instance) -> WhatsAppEngine: ...
    def sandbox(self) -> SandboxControl: ...
    async def close(self) -> None:
        """Stops every connection of this node (shutdown)."""
        ...


class EngineWorkers(Protocol):
    """The processes that host engine clients (the neonize engine's workers)."""

    async def workers(self) -> list[WorkerInfo]: ...


class Ownership(Protocol):
    """Which node runs an instance. On one node the answer is always "this one"."""

    async def claim(self, instance_id: str) -> bool: ...
    async def release(self, instance_id: str) -> None: ...


# --- webhooks --------------------------------------------------------------------------


class WebhookTransport(Protocol):
    """Posts one webhook body; reports the answer (or the failure) rather than raising."""

    async def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        """Connects to `target.address` only (never resolving the URL's host again), with
        the URL's host in the Host header and, for https, in TLS SNI and the certificate check."""
        ...

    async def close(self) -> None: ...


class HostResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """IP literals of `host`, preferred first; raises LookupError when there are none."""
        ...


class WebhookTargets(Protocol):
    async def resolve(self, url: str, *, allow_private: bool) -> WebhookTarget:
        """Resolves the URL's host and checks every address; raises TargetRefused."""
        ...


# --- events ----------------------------------------------------------------------------


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...
    def subscribe(self, instance_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]: ...
    def subscribe_all(self) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Every instance's events, including instances created after it started (the use
        case filters what the subscriber may see)."""
        ...

    async def close(self) -> None:
        """Ends every subscription (shutdown)."""
        ...


class AccountWatch(Protocol):
    async def changed(self, within_s: float) -> bool:
        """True as soon as the account changed since the last call; False after `within_s`."""
        ...


class AccountNotices(Protocol):
    """Tells live connections (GraphQL websockets) that an account changed in a way that may
    take rights away: password, role, active flag, API key, deletion. In-process on one
    server; a cluster relays notices between nodes (a periodic re-check bounds the delay
    either way)."""

    async def publish(self, user_id: str) -> None: ...
    def watch(self, user_id: str) -> AbstractAsyncContextManager[AccountWatch]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


IdFactory = Callable[[], str]


# --- operations: telemetry and backups -------------------------------------------------


class StorageTelemetry(Protocol):
    """What a storage writer reports about its commits (SQLite's group commit: one call per
    COMMIT, with how many units of work it held and how long the COMMIT took)."""

    def write_batch(self, units: int, commit_seconds: float) -> None: ...


class NoStorageTelemetry:
    def write_batch(self, units: int, commit_seconds: float) -> None:
        return None


@dataclass(frozen=True)
class StorageGauges:
    """A snapshot of what is stored, for /metrics: instances by (engine, status), and
    webhook deliveries still to be made."""

    instances: dict[tuple[str, str], int]
    webhook_queue: int


class RecordInventory(Protocol):
    """Every stored record, kind by kind, as plain JSON values: what `wamux export` writes
    and `wamux import` reads back, whatever the provider (SQL tables, Mongo collections).

    `kinds()` lists them parents first, so records can be written back in that order."""

    def kinds(self) -> list[str]: ...
    def schema_version(self) -> str:
        """The schema this release writes (a backup must match it)."""
        ...

    async def stored_version(self) -> str | None:
        """The schema the database is at (None: never migrated)."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[RecordSnapshot]:
        """One consistent read of everything (a read transaction)."""
        ...

    async def write(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        """Inserts new records (an import, a switch's bulk copy into an empty database)."""
        ...

    def key(self, kind: str) -> tuple[str, ...]:
        """The fields that name a record of the kind (its primary key)."""
        ...

    async def upsert(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        """Writes records, replacing the ones of the same key (a switch's catch-up)."""
        ...

    async def delete(self, kind: str, keys: Sequence[tuple[Any, ...]]) -> None:
        """Removes records by key (in `key(kind)` order). Users and instances go with
        everything they own, as their repositories remove it."""
        ...

    async def gauges(self) -> StorageGauges: ...


class RecordSnapshot(Protocol):
    async def count(self, kind: str) -> int: ...
    def records(self, kind: str, batch: int) -> AsyncIterator[list[dict[str, Any]]]: ...
    def since(
        self, kind: str, field: str, value: Any, batch: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The records whose `field` is at least `value` (a datetime for a time field, else
        the field's own JSON value), in no particular order."""
        ...


# --- live database switching -------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """One opened database: its storage and its records, as a switch sees them."""

    provider: str  # sqlite, postgresql, mongodb
    url: str  # for display: the password masked
    storage: Storage
    inventory: RecordInventory


class Backends(Protocol):
    """Opens the database of a provider from the configured URL (not connected yet)."""

    def configured(self, provider: str) -> str | None:
        """The provider's display URL, or None when its URL is not configured."""
        ...

    def open(self, provider: str) -> Backend: ...


class ProviderChoice(Protocol):
    """Where the provider chosen by a switch is kept, so that it survives a restart."""

    def save(self, provider: str) -> None: ...


class LiveStorage(Protocol):
    """The storage every use case holds, whose backend can be replaced while serving."""

    @property
    def backend(self) -> Backend: ...

    def closed_for_writes(self, timeout_s: float) -> AbstractAsyncContextManager[None]:
        """Holds new write units back and waits (at most `timeout_s`, else TimeoutError) for
        the open ones to finish; they go on, on the backend current then, on leaving."""
        ...

    def oldest_write_age_s(self) -> float:
        """How long the oldest write unit open now has been open (0.0: none is open)."""
        ...

    def swap(self, backend: Backend) -> Backend:
        """Makes `backend` current (units opened from now on use it); returns the old one,
        which is closed by the storage once its last open unit has finished."""
        ...
