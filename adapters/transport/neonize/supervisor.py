"""The neonize engine as the server sees it: instances placed on supervised worker processes.

neonize clients never run in the server (they can end the process they live in; see the
neonize notes). `WorkerEngine` starts `wamux engine-worker` processes lazily, puts up to
`instances_per_worker` instances on each, forwards every engine call as a protocol request
with a timeout, and hands the events each worker streams back to the domain's listener, in
order. A worker that dies is replaced with exponential backoff and jitter; its instances
show `disconnected: engine_restarted` and are started again on the new process. No other
worker is touched.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.transport.neonize import protocol
from adapters.transport.neonize.process import WorkerProcess, WorkerTiming
from adapters.transport.neonize.worker import PROXY_VARIABLE
from domain.errors import Conflict, DomainError, EngineFailure
from domain.ports import ConnectionListener
from domain.wire import (
    EngineContact,
    GroupInfo,
    LastMessageKey,
    NumberCheck,
    OutgoingMessage,
    WorkerInfo,
    group_from_wire,
    last_message_key_to_wire,
)


@dataclass(frozen=True)
class WorkerSettings:
    instances_dir: Path
    instances_per_worker: int = 50
    timing: WorkerTiming = field(default_factory=WorkerTiming)
    log_level: str = "info"
    proxy_url: str | None = None  # WhatsApp traffic through this proxy (handed over in the env)
    # The command that starts one worker; its fd, id and limits are appended. Tests swap it.
    command: tuple[str, ...] = (sys.executable, "-m", "api.cli", "engine-worker")


class WorkerEngine:
    """WhatsAppEngine (name `neonize`) and EngineWorkers over engine worker processes."""

    name = "neonize"

    def __init__(self, listener: ConnectionListener, settings: WorkerSettings) -> None:
        self._listener = listener
        self._settings = settings
        self._workers: list[WorkerProcess] = []
        self._placement: dict[str, WorkerProcess] = {}
        self._closed = False

    # --- placement -------------------------------------------------------------------------

    def _place(self, instance_id: str) -> WorkerProcess:
        """The worker that hosts `instance_id`, chosen (and started) on first use."""
        if self._closed:
            raise EngineFailure("the neonize engine is shutting down")
        worker = self._placement.get(instance_id)
        if worker is None:
            worker = next(
                (w for w in self._workers if len(w.placed) < self._settings.instances_per_worker),
                None,
            )
            if worker is None:
                worker = WorkerProcess(
                    f"w{len(self._workers) + 1}",
                    self._settings.command,
                    self._settings.instances_dir,
                    self._settings.instances_per_worker,
                    self._listener,
                    self._settings.timing,
                    self._settings.log_level,
                    {PROXY_VARIABLE: self._settings.proxy_url or ""},
                )
                self._workers.append(worker)
            self._placement[instance_id] = worker
            worker.placed.add(instance_id)
        worker.ensure_running()
        return worker

    def _placed(self, instance_id: str) -> WorkerProcess:
        worker = self._placement.get(instance_id)
        if worker is None:
            raise EngineFailure(
                f"instance {instance_id} is not running on the neonize engine; reconnect it first"
            )
        return worker

    # --- WhatsAppEngine ----------------------------------------------------------------------

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        """Returns once the worker took the call; a failure is reported, never raised."""
        worker = self._place(instance_id)
        worker.started[instance_id] = dict(options)
        if worker.ready:  # otherwise the worker starts it as soon as it is up
            await worker.attach(instance_id)

    async def stop(self, instance_id: str) -> None:
        worker = self._placement.get(instance_id)
        if worker is None:
            return
        worker.started.pop(instance_id, None)
        if worker.ready:
            try:
                await worker.request("stop", instance_id)
            except EngineFailure as exc:  # a worker dying meanwhile has stopped it too
                worker.log.warning("stopping %s on the worker failed: %s", instance_id, exc)

    async def logout(self, instance_id: str) -> None:
        worker = self._placement.get(instance_id)
        if worker is not None:
            worker.started.pop(instance_id, None)
            # Waits for a (re)starting worker: only the client can unlink the device.
            await worker.request("logout", instance_id)
            return
        # Never started since the server began: forget the session here so it cannot come back.
        await asyncio.to_thread(shutil.rmtree, self._settings.instances_dir / instance_id, True)
        await self._listener.on_logged_out(instance_id, "logout requested")

    async def destroy(self, instance_id: str) -> None:
        worker = self._placement.pop(instance_id, None)
        if worker is not None:
            worker.started.pop(instance_id, None)
            worker.placed.discard(instance_id)
            if worker.ready:
                try:
                    await worker.request("destroy", instance_id)
                except DomainError as exc:  # the files go below either way
                    worker.log.warning("destroying %s on the worker failed: %s", instance_id, exc)
        # Also when the worker is down or failed: the device store must not outlive the instance.
        await asyncio.to_thread(shutil.rmtree, self._settings.instances_dir / instance_id, True)

    async def send(self, instance_id: str, message: OutgoingMessage) -> None:
        await self._placed(instance_id).request(
            "send", instance_id, {"message": protocol.outgoing_to_wire(message)}
        )

    async def contacts(self, instance_id: str) -> list[EngineContact]:
        result = await self._placed(instance_id).request("contacts", instance_id)
        return [protocol.contact_from_wire(c) for c in result or []]

    async def add_contact(self, instance_id: str, jid: str, name: str | None) -> None:
        await self._placed(instance_id).request(
            "add_contact", instance_id, {"jid": jid, "name": name}
        )

    async def mark_read(self, instance_id: str, chat_jid: str, message_ids: Sequence[str]) -> None:
        await self._placed(instance_id).request(
            "mark_read", instance_id, {"chatJid": chat_jid, "messageIds": list(message_ids)}
        )

    async def mark_unread(
        self,
        instance_id: str,
        chat_jid: str,
        last: LastMessageKey | None,
        *,
        unread: bool = True,
    ) -> None:
        args = {"chatJid": chat_jid, "unread": unread, "last": last_message_key_to_wire(last)}
        await self._placed(instance_id).request("mark_unread", instance_id, args)

    async def pairing_code(self, instance_id: str, phone: str) -> str:
        worker = self._placement.get(instance_id)
        if worker is None or instance_id not in worker.started:
            raise Conflict(
                "the instance is not waiting for a login; reconnect it and ask again while it "
                "shows a QR code"
            )
        result = await worker.request("pairing_code", instance_id, {"phone": phone})
        return str(result["code"])

    async def check_numbers(self, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        result = await self._placed(instance_id).request(
            "check_numbers", instance_id, {"phones": list(phones)}
        )
        return [
            NumberCheck(phone=str(r["phone"]), jid=r.get("jid"), exists=bool(r.get("exists")))
            for r in result or []
        ]

    async def send_presence(self, instance_id: str, chat_jid: str | None, state: str) -> None:
        await self._placed(instance_id).request(
            "send_presence", instance_id, {"chatJid": chat_jid, "state": state}
        )

    # --- groups: requests to the worker that hosts the instance ----------------------------

    async def groups(self, instance_id: str) -> list[GroupInfo]:
        result = await self._placed(instance_id).request("groups", instance_id)
        return [group_from_wire(g) for g in result or []]

    async def group_info(self, instance_id: str, group_jid: str) -> GroupInfo:
        result = await self._placed(instance_id).request(
            "group_info", instance_id, {"groupJid": group_jid}
        )
        return group_from_wire(result)

    async def create_group(
        self, instance_id: str, subject: str, participants: Sequence[str]
    ) -> GroupInfo:
        args = {"subject": subject, "participants": list(participants)}
        result = await self._placed(instance_id).request("create_group", instance_id, args)
        return group_from_wire(result)

    async def set_group_subject(self, instance_id: str, group_jid: str, subject: str) -> None:
        args = {"groupJid": group_jid, "subject": subject}
        await self._placed(instance_id).request("set_group_subject", instance_id, args)

    async def set_group_description(
        self, instance_id: str, group_jid: str, description: str
    ) -> None:
        args = {"groupJid": group_jid, "description": description}
        await self._placed(instance_id).request("set_group_description", instance_id, args)

    async def update_group_participants(
        self, instance_id: str, group_jid: str, action: str, participants: Sequence[str]
    ) -> None:
        args = {"groupJid": group_jid, "action": action, "participants": list(participants)}
        await self._placed(instance_id).request("update_group_participants", instance_id, args)

    async def group_invite_link(self, instance_id: str, group_jid: str, revoke: bool) -> str:
        args = {"groupJid": group_jid, "revoke": revoke}
        result = await self._placed(instance_id).request("group_invite_link", instance_id, args)
        return str(result["link"])

    async def join_group(self, instance_id: str, code: str) -> str:
        result = await self._placed(instance_id).request("join_group", instance_id, {"code": code})
        return str(result["groupJid"])

    async def leave_group(self, instance_id: str, group_jid: str) -> None:
        await self._placed(instance_id).request("leave_group", instance_id, {"groupJid": group_jid})

    async def close(self) -> None:
        """Stops every worker: a shutdown request, then SIGTERM and SIGKILL if it lingers."""
        self._closed = True
        await asyncio.gather(*(w.close() for w in self._workers), return_exceptions=True)

    # --- EngineWorkers -----------------------------------------------------------------------

    async def workers(self) -> list[WorkerInfo]:
        return list(await asyncio.gather(*(w.info() for w in self._workers)))
