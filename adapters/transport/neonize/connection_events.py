"""Connection-state events of hosted clients, reported as protocol events.

Each handler gets the hosted client and a real neonize event; the host wraps every one
(log and count failures) and registers it before the client first connects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()  # before the first neonize import loads its Go library

from neonize.aioze import events as nev  # noqa: E402

from adapters.transport.neonize import translate as tr  # noqa: E402
from adapters.transport.neonize.hosted import HostedClient  # noqa: E402

log = logging.getLogger(__name__)

EmitEvent = Callable[[str, str, dict[str, Any]], Awaitable[None]]
Handler = Callable[[HostedClient, Any], Awaitable[None]]
Release = Callable[[HostedClient, bool], Awaitable[None]]
Spawn = Callable[[HostedClient, str, Awaitable[None]], None]


class ConnectionEvents:
    def __init__(self, emit: EmitEvent, release: Release, spawn: Spawn) -> None:
        self._emit = emit
        self._release = release  # stops the Go client (and forgets the store) after a terminal
        self._spawn = spawn

    def handlers(self) -> dict[type, Handler]:
        return {
            nev.ConnectedEv: self.on_connected,
            nev.PairStatusEv: self.on_pair_status,
            nev.DisconnectedEv: self.on_disconnected,
            nev.KeepAliveTimeoutEv: self.on_keepalive_timeout,
            nev.KeepAliveRestoredEv: self.on_keepalive_restored,
            nev.ConnectFailureEv: self.on_connect_failure,
            nev.LoggedOutEv: self.on_logged_out,
            nev.StreamReplacedEv: self.on_stream_replaced,
            nev.TemporaryBanEv: self.on_temporary_ban,
            nev.ClientOutdatedEv: self.on_client_outdated,
        }

    async def on_qr(self, hosted: HostedClient, code: bytes) -> None:
        if hosted.stopping or hosted.terminal:
            return
        hosted.qr_seen = True
        text = code.decode() if isinstance(code, bytes) else str(code)
        await self._emit(hosted.instance_id, "qr", {"qrCode": text})

    async def on_login_status(self, hosted: HostedClient, status: str) -> None:
        hosted.settled.set()
        log.info("%s: pairing status %s", hosted.instance_id, status)
        if status == "timeout" and hosted.qr_seen:
            await self.terminal(hosted, "disconnected", tr.QR_TIMEOUT)
        elif status.startswith("err") or status == "error":
            await self.terminal(hosted, "disconnected", f"pairing_failed: {status}")

    async def on_connected(self, hosted: HostedClient, _event: Any) -> None:
        hosted.paired = True
        await self.mark_online(hosted)

    async def on_pair_status(self, hosted: HostedClient, event: Any) -> None:
        if event.Status == event.SUCCESS:
            hosted.paired = True
            hosted.phone = event.ID.User or hosted.phone
            await self.mark_online(hosted)
        else:
            await self.terminal(hosted, "disconnected", tr.pair_error_reason(event))

    async def mark_online(self, hosted: HostedClient) -> None:
        if hosted.stopping or hosted.terminal or hosted.online:
            return
        hosted.online = True
        hosted.qr_seen = False
        me = hosted.client.me  # set by Go when its event loop starts: no store call needed
        if me is not None and me.HasField("JID") and me.JID.User:
            hosted.phone = me.JID.User
        if me is not None and me.PushName:
            hosted.push_name = me.PushName
        await self._emit(
            hosted.instance_id, "connected", {"phone": hosted.phone, "pushName": hosted.push_name}
        )

    async def drop(self, hosted: HostedClient, reason: str) -> None:
        if hosted.stopping or hosted.terminal or not hosted.online:
            return
        hosted.online = False
        await self._emit(
            hosted.instance_id, "disconnected", {"reason": reason, "willReconnect": True}
        )

    async def on_disconnected(self, hosted: HostedClient, _event: Any) -> None:
        await self.drop(hosted, tr.CONNECTION_LOST)

    async def on_keepalive_timeout(self, hosted: HostedClient, _event: Any) -> None:
        await self.drop(hosted, tr.KEEPALIVE_TIMEOUT)

    async def on_keepalive_restored(self, hosted: HostedClient, _event: Any) -> None:
        await self.mark_online(hosted)

    async def on_connect_failure(self, hosted: HostedClient, event: Any) -> None:
        hosted.online = True  # report even when no `connected` came first
        await self.drop(hosted, tr.connect_failure_reason(event))

    async def on_logged_out(self, hosted: HostedClient, event: Any) -> None:
        await self.terminal(hosted, "logged_out", tr.logged_out_reason(event))

    async def on_stream_replaced(self, hosted: HostedClient, _event: Any) -> None:
        await self.terminal(hosted, "disconnected", tr.STREAM_REPLACED)

    async def on_temporary_ban(self, hosted: HostedClient, event: Any) -> None:
        await self.terminal(hosted, "disconnected", tr.temporary_ban_reason(event))

    async def on_client_outdated(self, hosted: HostedClient, _event: Any) -> None:
        await self.terminal(hosted, "disconnected", tr.CLIENT_OUTDATED)

    async def terminal(self, hosted: HostedClient, kind: str, reason: str) -> None:
        """Reports a state whatsmeow will not recover from, then frees the Go client."""
        if hosted.stopping or hosted.terminal:
            return
        hosted.terminal = True
        hosted.online = False
        if kind == "logged_out":
            hosted.paired = False
            await self._emit(hosted.instance_id, "logged_out", {"reason": reason})
        else:
            await self._emit(
                hosted.instance_id, "disconnected", {"reason": reason, "willReconnect": False}
            )
        self._spawn(hosted, "release", self._release(hosted, kind == "logged_out"))
