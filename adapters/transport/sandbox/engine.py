"""A simulated WhatsApp connection per instance: QR codes, pairing, drops and reconnects.

Pairing is remembered in `instances/<id>/sandbox-session.json`, as a real device store
would be, so a paired instance comes back connected after a restart.

Pairing by code: while a QR is shown, `pairing_code` hands out a code in WhatsApp's shape
and remembers the phone it was asked for; the sandbox's `scan` then stands for the phone
accepting the code, so a scan without a phone pairs the instance as that number.

Number check: the sandbox's own network is every sandbox instance connected right now
(by its phone) plus the checking instance's seeded address book (the outside contacts
`contacts` lists); any other number has no WhatsApp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.transport.sandbox.groups import SandboxGroups
from domain.entities import MessageStatus
from domain.errors import Conflict
from domain.ports import ConnectionListener
from domain.wire import (
    EngineContact,
    GroupInfo,
    IncomingMessage,
    LastMessageKey,
    NumberCheck,
    OutgoingMessage,
)

log = logging.getLogger(__name__)

SESSION_FILE = "sandbox-session.json"
CONTACTS_FILE = "sandbox-contacts.json"
_USER = "@s.whatsapp.net"

# The deterministic address book every sandbox instance starts with.
_ADDRESS_BOOK = [
    ("Alice Sandbox", "0001"),
    ("Bob Sandbox", "0002"),
    ("Carol Sandbox", "0003"),
    ("张三", "0004"),
    ("Dmitri Sandbox", "0005"),
]


def whatsapp_qr() -> str:
    """A QR payload shaped like WhatsApp's: `ref,noiseKey,identityKey,advSecret`."""

    def b64(size: int) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode("ascii")

    return ",".join(["2@" + b64(60), b64(32), b64(32), b64(32)])


# whatsmeow's linking-code alphabet: Crockford-like base32 without 0, I, O and U.
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def pairing_code() -> str:
    """A code shaped like WhatsApp's: 8 characters, shown as `XXXX-XXXX`."""
    code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def default_phone(instance_id: str) -> str:
    digest = int(hashlib.sha256(instance_id.encode()).hexdigest(), 16)
    return f"1555{digest % 10_000_000:07d}"


@dataclass
class _Connection:
    instance_id: str
    state: str = "connecting"  # connecting | qr | connected
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    scanned: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    scan: tuple[str, str | None] | None = None
    pairing_phone: str | None = None  # the phone the last pairing code was asked for
    task: asyncio.Task[None] | None = None


@dataclass
class SandboxTiming:
    qr_delay_s: float = 0.5  # before the first QR: the spec's "generating" window
    qr_interval_s: float = 20.0  # how long one QR stays valid
    connect_delay_s: float = 0.05  # a paired device's handshake
    reconnect_base_s: float = 1.0
    reconnect_max_s: float = 30.0
    receipt_delay_s: float = 0.3  # outside numbers: delivered after this, read after twice it


class SandboxEngine:
    name = "sandbox"

    def __init__(
        self, listener: ConnectionListener, instances_dir: Path, timing: SandboxTiming | None = None
    ) -> None:
        self._listener = listener
        self._dir = instances_dir
        self._timing = timing or SandboxTiming()
        self._conns: dict[str, _Connection] = {}
        self._reconnects: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._options: dict[str, dict[str, Any]] = {}
        self._online: dict[str, tuple[str, str | None]] = {}  # instance -> (phone, push name)
        self._jobs: asyncio.Queue[Any] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._due_receipts: dict[tuple[str, str, MessageStatus], list[str]] = {}
        # The account's "marked unread" chats, as WhatsApp's app state keeps them (by instance).
        self._marked_unread: dict[str, dict[str, LastMessageKey | None]] = {}
        self._groups = SandboxGroups(instances_dir, listener, self._online, self._schedule)

    # --- session store -------------------------------------------------------------------

    def _session_path(self, instance_id: str) -> Path:
        return self._dir / instance_id / SESSION_FILE

    def _load_session(self, instance_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._session_path(instance_id).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def _save_session(self, instance_id: str, phone: str, push_name: str | None) -> None:
        path = self._session_path(instance_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = {"phone": phone, "pushName": push_name, "pairedAt": datetime.now(UTC).isoformat()}
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, path)  # atomic: a crash leaves the old session or the new one

    def _forget_session(self, instance_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._session_path(instance_id).unlink()

    # --- lifecycle -----------------------------------------------------------------------

    def _lock(self, instance_id: str) -> asyncio.Lock:
        return self._locks.setdefault(instance_id, asyncio.Lock())

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        async with self._lock(instance_id):
            self._cancel_reconnect(instance_id)
            if instance_id in self._conns:
                return
            if options:
                self._options[instance_id] = options
            conn = _Connection(instance_id)
            self._conns[instance_id] = conn
            conn.task = asyncio.create_task(self._run(conn), name=f"sandbox:{instance_id}")

    async def _run(self, conn: _Connection) -> None:
        iid = conn.instance_id
        try:
            await self._listener.on_connecting(iid)
            session = self._load_session(iid)
            if session is None:
                if await self._wait(conn, self._timing.qr_delay_s):
                    return
                while not conn.scanned.is_set():
                    conn.state = "qr"
                    await self._listener.on_qr(iid, whatsapp_qr())
                    if await self._wait(conn, self._timing.qr_interval_s, conn.scanned):
                        return
                assert conn.scan is not None
                phone, push_name = conn.scan
                self._save_session(iid, phone, push_name)
                session = {"phone": phone, "pushName": push_name}
            elif await self._wait(conn, self._timing.connect_delay_s):
                return
            conn.state = "connected"
            self._online[iid] = (str(session.get("phone")), session.get("pushName"))
            await self._listener.on_connected(iid, session.get("phone"), session.get("pushName"))
            conn.connected.set()
            await conn.stop.wait()
        except Exception:
            log.exception("sandbox connection of %s failed", iid)

    @staticmethod
    async def _wait(conn: _Connection, seconds: float, also: asyncio.Event | None = None) -> bool:
        """Sleeps up to `seconds`; True if the connection was asked to stop meanwhile."""
        waiters = [asyncio.create_task(conn.stop.wait())]
        if also is not None:
            waiters.append(asyncio.create_task(also.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return conn.stop.is_set()

    async def _halt(self, instance_id: str) -> _Connection | None:
        conn = self._conns.pop(instance_id, None)
        self._online.pop(instance_id, None)
        if conn is not None:
            conn.stop.set()
            if conn.task is not None:
                await conn.task
        return conn

    def _cancel_reconnect(self, instance_id: str) -> None:
        task = self._reconnects.pop(instance_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def stop(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            self._cancel_reconnect(instance_id)
            await self._halt(instance_id)

    async def logout(self, instance_id: str) -> None:
        async with self._lock(instance_id):
            self._cancel_reconnect(instance_id)
            await self._halt(instance_id)
            self._forget_session(instance_id)
        await self._listener.on_logged_out(instance_id, "logout requested")

    async def destroy(self, instance_id: str) -> None:
        await self.stop(instance_id)
        self._locks.pop(instance_id, None)
        await asyncio.to_thread(shutil.rmtree, self._dir / instance_id, True)

    async def close(self) -> None:
        for instance_id in list(self._conns) + list(self._reconnects):
            await self.stop(instance_id)
        for timer in self._timers:
            timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    # --- traffic -------------------------------------------------------------------------

    def _schedule(self, delay_s: float, job: Any) -> None:
        """Runs `job()` (a coroutine factory) after `delay_s`, one job at a time, in order."""
        if self._jobs is None:
            self._jobs = asyncio.Queue()
            self._worker = asyncio.create_task(self._work(self._jobs), name="sandbox:traffic")
        jobs = self._jobs
        if delay_s <= 0:
            jobs.put_nowait(job)
            return
        loop = asyncio.get_running_loop()

        def due() -> None:
            self._timers.discard(timer)
            jobs.put_nowait(job)

        timer = loop.call_later(delay_s, due)
        self._timers.add(timer)

    async def _work(self, jobs: asyncio.Queue[Any]) -> None:
        while True:
            job = await jobs.get()
            try:
                await job()
            except Exception:
                log.exception("sandbox traffic job failed")

    def _online_instance(self, phone: str) -> str | None:
        return next((iid for iid, (p, _) in self._online.items() if p == phone), None)

    async def send(self, instance_id: str, message: OutgoingMessage) -> None:
        me = self._online.get(instance_id)
        if me is None:
            raise Conflict("Instance is not connected")
        my_phone, my_name = me
        my_jid = my_phone + _USER
        if self._groups.is_group(message.to_jid):
            self._send_to_group(instance_id, my_jid, my_name, message)
            return
        target = None
        if message.to_jid.endswith(_USER):
            target = self._online_instance(message.to_jid.split("@", 1)[0])
        if target is not None and target != instance_id:
            incoming = IncomingMessage(
                message_id=message.message_id,
                chat_jid=my_jid,
                sender_jid=my_jid,
                timestamp=int(datetime.now(UTC).timestamp()),
                text=message.text,
                push_name=my_name,
                media=message.media,
                quoted_message_id=message.quoted_message_id,
                extra={"forwarded": True} if message.forwarded else {},
                rich=message.rich,
            )

            async def deliver() -> None:
                await self._listener.on_message(target, incoming)
                await self._listener.on_receipt(
                    instance_id, message.to_jid, [message.message_id], MessageStatus.DELIVERED
                )

            self._schedule(0, deliver)
            return
        if self._options.get(instance_id, {}).get("sandbox", {}).get("autoReceipts", True):
            delay = self._timing.receipt_delay_s
            for n, status in enumerate((MessageStatus.DELIVERED, MessageStatus.READ), start=1):
                self._schedule(delay * n, self._receipt_job(instance_id, message, status))

    def _send_to_group(
        self, instance_id: str, my_jid: str, my_name: str | None, message: OutgoingMessage
    ) -> None:
        group = message.to_jid
        self._groups.get(instance_id, group)  # NotFound unless this account is in it
        incoming = IncomingMessage(
            message_id=message.message_id,
            chat_jid=group,
            sender_jid=my_jid,
            timestamp=int(datetime.now(UTC).timestamp()),
            text=message.text,
            push_name=my_name,
            media=message.media,
            quoted_message_id=message.quoted_message_id,
            extra={
                "isGroup": True,
                "participant": my_jid,
                **({"forwarded": True} if message.forwarded else {}),
            },
            rich=message.rich,
        )
        members = self._groups.member_instances(group, but=instance_id)

        async def deliver() -> None:
            for member in members:
                await self._listener.on_message(member, incoming)
            await self._listener.on_receipt(
                instance_id, group, [message.message_id], MessageStatus.DELIVERED
            )

        self._schedule(0, deliver)

    # --- groups (adapters/transport/sandbox/groups.py) ---------------------------------------

    async def groups(self, instance_id: str) -> list[GroupInfo]:
        return self._groups.list(instance_id)

    async def group_info(self, instance_id: str, group_jid: str) -> GroupInfo:
        return self._groups.get(instance_id, group_jid)

    async def create_group(
        self, instance_id: str, subject: str, participants: Sequence[str]
    ) -> GroupInfo:
        return self._groups.create(instance_id, subject, participants)

    async def set_group_subject(self, instance_id: str, group_jid: str, subject: str) -> None:
        self._groups.set_subject(instance_id, group_jid, subject)

    async def set_group_description(
        self, instance_id: str, group_jid: str, description: str
    ) -> None:
        self._groups.set_description(instance_id, group_jid, description)

    async def update_group_participants(
        self, instance_id: str, group_jid: str, action: str, participants: Sequence[str]
    ) -> None:
        self._groups.participants(instance_id, group_jid, action, participants)

    async def group_invite_link(self, instance_id: str, group_jid: str, revoke: bool) -> str:
        return self._groups.invite_link(instance_id, group_jid, revoke)

    async def join_group(self, instance_id: str, code: str) -> str:
        return self._groups.join(instance_id, code)

    async def leave_group(self, instance_id: str, group_jid: str) -> None:
        self._groups.leave(instance_id, group_jid)

    async def send_presence(self, instance_id: str, chat_jid: str | None, state: str) -> None:
        """Chat presence reaches the other side when it is a connected sandbox instance;
        the account's own presence reaches no one (nobody subscribes to it here)."""
        me = self._online.get(instance_id)
        if me is None:
            raise Conflict("Instance is not connected")
        if chat_jid is None or not chat_jid.endswith(_USER):
            return
        target = self._online_instance(chat_jid.split("@", 1)[0])
        if target is None or target == instance_id:
            return
        my_jid = me[0] + _USER

        async def deliver() -> None:
            await self._listener.on_presence(target, my_jid, my_jid, state)

        self._schedule(0, deliver)

    def _receipt_job(
        self, instance_id: str, message: OutgoingMessage, status: MessageStatus
    ) -> Any:
        """A receipt that, when due, joins the others due with it: like WhatsApp, the
        sandbox acknowledges several messages of a chat in one receipt."""
        key = (instance_id, message.to_jid, status)

        async def job() -> None:
            self._due_receipts.setdefault(key, []).append(message.message_id)
            if len(self._due_receipts) == 1 and len(self._due_receipts[key]) == 1:
                self._schedule(0, self._flush_receipts)

        return job

    async def _flush_receipts(self) -> None:
        due, self._due_receipts = self._due_receipts, {}
        # "delivered" before "read", so a message caught by both still reports both.
        for instance_id, chat_jid, status in sorted(due, key=lambda key: key[2].rank):
            await self._listener.on_receipt(
                instance_id, chat_jid, due[(instance_id, chat_jid, status)], status
            )

    async def mark_read(self, instance_id: str, chat_jid: str, message_ids: Any) -> None:
        me = self._online.get(instance_id)
        if me is None or not chat_jid.endswith(_USER):
            return
        sender = self._online_instance(chat_jid.split("@", 1)[0])
        if sender is None:
            return
        ids = list(message_ids)

        async def job() -> None:
            await self._listener.on_receipt(sender, me[0] + _USER, ids, MessageStatus.READ)

        self._schedule(0, job)

    async def mark_unread(
        self,
        instance_id: str,
        chat_jid: str,
        last: LastMessageKey | None,
        *,
        unread: bool = True,
    ) -> None:
        """Kept in the account's app state here, as WhatsApp keeps it for the phone and the
        other linked devices; the other side of the chat learns nothing, as on WhatsApp."""
        if instance_id not in self._online:
            raise Conflict("Instance is not connected")
        marks = self._marked_unread.setdefault(instance_id, {})
        if unread:
            marks[chat_jid] = last
        else:
            marks.pop(chat_jid, None)

    def marked_unread(self, instance_id: str) -> dict[str, LastMessageKey | None]:
        """The chats the account's app state shows marked unread, with the message each
        mark covers (what the phone would show)."""
        return dict(self._marked_unread.get(instance_id, {}))

    def _contacts_path(self, instance_id: str) -> Path:
        return self._dir / instance_id / CONTACTS_FILE

    def _added_contacts(self, instance_id: str) -> dict[str, str | None]:
        try:
            return dict(json.loads(self._contacts_path(instance_id).read_text("utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    @staticmethod
    def _address_book(instance_id: str) -> list[EngineContact]:
        seed = int(hashlib.sha256(instance_id.encode()).hexdigest(), 16) % 1000
        book = [
            EngineContact(f"1555{seed:03d}{suffix}{_USER}", name, push_name=name.split()[0])
            for name, suffix in _ADDRESS_BOOK
        ]
        book.append(
            EngineContact(f"120363{seed:03d}000000001@g.us", "Sandbox Group", is_group=True)
        )
        return book

    async def contacts(self, instance_id: str) -> list[EngineContact]:
        if instance_id not in self._online:
            raise Conflict("Instance is not connected")
        book = self._address_book(instance_id)
        known = {c.jid for c in book}
        for jid, name in self._added_contacts(instance_id).items():
            if jid not in known:
                book.append(EngineContact(jid, name))
        return book

    async def add_contact(self, instance_id: str, jid: str, name: str | None) -> None:
        if instance_id not in self._online:
            raise Conflict("Instance is not connected")
        added = self._added_contacts(instance_id)
        added[jid] = name
        path = self._contacts_path(instance_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(added), "utf-8")
        os.replace(tmp, path)

    async def check_numbers(self, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        if instance_id not in self._online:
            raise Conflict("Instance is not connected")
        outside = {c.number for c in self._address_book(instance_id) if not c.is_group}
        online = {phone for phone, _ in self._online.values()}
        return [
            NumberCheck(p, p + _USER, True)
            if p in online or p in outside
            else NumberCheck(p, None, False)
            for p in phones
        ]

    # --- login -------------------------------------------------------------------------

    async def pairing_code(self, instance_id: str, phone: str) -> str:
        conn = self._conns.get(instance_id)
        if conn is None or conn.state != "qr" or conn.scanned.is_set():
            raise Conflict("Instance is not waiting to be paired (no QR code is showing)")
        # A new code replaces the previous one, as on WhatsApp; QR codes keep rotating.
        conn.pairing_phone = phone
        return pairing_code()

    # --- control hooks (SandboxControl) ----------------------------------------------------

    async def scan(self, instance_id: str, phone: str | None, push_name: str | None) -> None:
        conn = self._conns.get(instance_id)
        if conn is None or conn.state != "qr" or conn.scanned.is_set():
            raise Conflict("Instance is not showing a QR code to scan")
        conn.scan = (phone or conn.pairing_phone or default_phone(instance_id), push_name)
        conn.scanned.set()
        # Answer once the pairing is visible in the instance's status, as a caller expects.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.connected.wait(), timeout=10)

    async def drop(self, instance_id: str, reason: str) -> None:
        async with self._lock(instance_id):
            if await self._halt(instance_id) is None:
                raise Conflict("Instance has no open connection to drop")
            if reason == "logout":
                self._forget_session(instance_id)
        if reason == "logout":
            await self._listener.on_logged_out(instance_id, "logged out from the phone")
            return
        await self._listener.on_disconnected(instance_id, reason, True)
        self._reconnects[instance_id] = asyncio.create_task(self._reconnect(instance_id))

    async def incoming(self, instance_id: str, message: IncomingMessage) -> None:
        if instance_id not in self._online:
            raise Conflict("Instance is not connected")
        await self._listener.on_message(instance_id, message)

    async def receipt(
        self, instance_id: str, chat_jid: str, message_id: str, status: MessageStatus
    ) -> None:
        await self._listener.on_receipt(instance_id, chat_jid, [message_id], status)

    async def _reconnect(self, instance_id: str, attempt: int = 1) -> None:
        base = min(self._timing.reconnect_base_s * 2 ** (attempt - 1), self._timing.reconnect_max_s)
        delay = base * random.uniform(0.8, 1.2)  # jitter, so many instances do not stampede
        await self._listener.on_reconnecting(instance_id, attempt, int(delay * 1000))
        await asyncio.sleep(delay)
        self._reconnects.pop(instance_id, None)
        await self.start(instance_id, {})
