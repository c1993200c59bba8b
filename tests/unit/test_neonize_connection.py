"""Connection events of a hosted client: QR, pairing code, connected, drops, terminal states."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.transport.neonize.host import NeonizeHost
from domain.errors import Conflict, ValidationFailed
from tests.unit.neonize_support import (
    ME,
    FakeGo,
    Recorder,
    attach,
    dispatch,
    go_string_callback,
    handler,
    jid,
    make_host,
    npb,
    reset_event_loop,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[NeonizeHost, Recorder, FakeGo]]:
    reset_event_loop()
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    attach(host, "i1", go, paired=False)  # running in Go, waiting to be linked
    yield host, recorder, go
    await host.close()
    reset_event_loop()


def _device(push_name: str = "Wamux Shop") -> npb.Device:
    return npb.Device(
        JID=jid(ME, device=12), Platform="", BussinessName="", PushName=push_name, Initialized=True
    )


def _qr(host: NeonizeHost, code: str) -> None:
    """A QR code as Go hands it over: neonize's private callback, on a foreign thread."""
    client = host._hosted["i1"].client
    go_string_callback(client._NewAClient__onQr, code)


def _login_status(host: NeonizeHost, status: str) -> None:
    client = host._hosted["i1"].client
    go_string_callback(client._NewAClient__onLoginStatus, status)


async def test_each_qr_rotation_is_an_event_and_allows_a_pairing_code(rig: Any) -> None:
    host, recorder, go = rig
    with pytest.raises(Conflict, match="waiting to be linked"):
        await host.call("pairing_code", "i1", {"phone": "+49 151 1234 5678"})
    assert "PairPhone" not in go.names()  # refused before neonize was asked
    _qr(host, "2@first,code")
    _qr(host, "2@second,code")
    await recorder.wait_for(lambda: len(recorder.of("qr")) == 2)
    assert recorder.of("qr") == [{"qrCode": "2@first,code"}, {"qrCode": "2@second,code"}]
    assert await host.call("pairing_code", "i1", {"phone": "+49 151 1234 5678"}) == {
        "code": "ABCD-EFGH"
    }
    assert ("PairPhone", "4915112345678") in go.calls
    with pytest.raises(ValidationFailed):
        await host.call("pairing_code", "i1", {"phone": "call me"})


async def test_when_the_codes_run_out_the_instance_waits_with_qr_timeout(rig: Any) -> None:
    host, recorder, go = rig
    _qr(host, "2@only,code")
    await recorder.wait_for(lambda: bool(recorder.of("qr")))
    _login_status(host, "timeout")
    dispatch(host._hosted["i1"], _device())  # Go's event loop starts after the QR loop ends
    await recorder.wait_for(lambda: bool(recorder.of("disconnected")))
    [event] = recorder.of("disconnected")
    assert event["willReconnect"] is False
    assert event["reason"].startswith("qr_timeout:")
    await recorder.wait_for(lambda: "Stop" in go.names())  # the Go client is released


async def test_pairing_then_connected_through_dispatch_reports_phone_and_push_name(
    rig: Any,
) -> None:
    host, recorder, _ = rig
    hosted = host._hosted["i1"]
    _qr(host, "2@code")
    dispatch(hosted, _device())  # Go sends the device first when its event loop starts
    pair = npb.PairStatus(
        ID=jid(ME, device=12), BusinessName="", Platform="android", Status=npb.PairStatus.SUCCESS
    )
    dispatch(hosted, pair)
    dispatch(hosted, npb.Connected(status=True))
    await recorder.wait_for(lambda: bool(recorder.of("connected")))
    assert recorder.of("connected") == [{"phone": ME, "pushName": "Wamux Shop"}]
    assert hosted.store_usable()
    with pytest.raises(Conflict):  # linked now: no more pairing codes
        await host.call("pairing_code", "i1", {"phone": "4915112345678"})


async def test_a_drop_and_whatsmeows_own_reconnect(rig: Any) -> None:
    host, recorder, _ = rig
    hosted = host._hosted["i1"]
    dispatch(hosted, _device())
    dispatch(hosted, npb.Connected(status=True))
    await recorder.wait_for(lambda: len(recorder.of("connected")) == 1)
    await handler(hosted, npb.Disconnected)(None, npb.Disconnected(status=True))
    await handler(hosted, npb.Disconnected)(None, npb.Disconnected(status=True))  # once only
    await handler(hosted, npb.Connected)(None, npb.Connected(status=True))
    timeout = npb.KeepAliveTimeout(ErrorCount=3, LastSuccess=0)
    await handler(hosted, npb.KeepAliveTimeout)(None, timeout)
    await handler(hosted, npb.KeepAliveRestored)(None, npb.KeepAliveRestored())
    kinds = [(e["type"], e["data"].get("willReconnect")) for e in recorder.events]
    assert kinds == [
        ("connected", None),
        ("disconnected", True),
        ("connected", None),
        ("disconnected", True),
        ("connected", None),
    ]
    assert recorder.of("disconnected")[0]["reason"].startswith("connection_lost:")
    assert recorder.of("disconnected")[1]["reason"].startswith("keepalive_timeout:")


LOGOUTS = [
    (npb.LOGGED_OUT, "device_unlinked (401)"),
    (npb.MAIN_DEVICE_GONE, "account_locked (403)"),
    (npb.UNKNOWN_LOGOUT, "account_banned (406)"),
]


@pytest.mark.parametrize(("reason", "text"), LOGOUTS)
async def test_logged_out_through_dispatch_is_terminal_and_forgets_the_store(
    rig: Any, reason: int, text: str
) -> None:
    host, recorder, go = rig
    hosted = host._hosted["i1"]
    hosted.store_path.write_bytes(b"whatsmeow store")
    dispatch(hosted, _device())
    dispatch(hosted, npb.Connected(status=True))
    await recorder.wait_for(lambda: bool(recorder.of("connected")))
    dispatch(hosted, npb.LoggedOut(OnConnect=False, Reason=reason))
    await recorder.wait_for(lambda: bool(recorder.of("logged_out")))
    assert recorder.of("logged_out")[0]["reason"].startswith(text)
    await recorder.wait_for(lambda: "Stop" in go.names() and not hosted.store_path.exists())
    assert not hosted.store_usable()
    with pytest.raises(Conflict):  # store calls on a stopped client would segfault
        await host.call("contacts", "i1", {})


TERMINALS = [
    (npb.StreamReplaced(), "stream_replaced:"),
    (
        npb.TemporaryBan(Code=npb.TemporaryBan.SENT_TOO_MANY_SAME_MESSAGE, Expire=3600),
        "temporary_ban:",
    ),
    (npb.ClientOutdated(), "client_outdated:"),
]


@pytest.mark.parametrize(("event", "prefix"), TERMINALS)
async def test_terminal_disconnects_do_not_reconnect(rig: Any, event: Any, prefix: str) -> None:
    host, recorder, go = rig
    hosted = host._hosted["i1"]
    dispatch(hosted, _device())
    dispatch(hosted, npb.Connected(status=True))
    await recorder.wait_for(lambda: bool(recorder.of("connected")))
    await handler(hosted, type(event))(None, event)
    await handler(hosted, npb.Disconnected)(None, npb.Disconnected(status=True))  # after: ignored
    [data] = recorder.of("disconnected")
    assert data["reason"].startswith(prefix) and data["willReconnect"] is False
    if prefix == "temporary_ban:":
        assert "sent_too_many_same_message" in data["reason"] and "3600 s" in data["reason"]
    await recorder.wait_for(lambda: "Stop" in go.names())


async def test_a_connect_failure_is_a_transient_drop(rig: Any) -> None:
    host, recorder, _ = rig
    failure = npb.ConnectFailure(
        Reason=npb.SERVICE_UNAVAILABLE, Message="try later", Raw=npb.Node(Tag="failure")
    )
    await handler(host._hosted["i1"], npb.ConnectFailure)(None, failure)
    assert recorder.of("disconnected") == [
        {"reason": "connect_failure: service_unavailable: try later", "willReconnect": True}
    ]


async def test_store_calls_are_refused_until_paired(rig: Any) -> None:
    host, _, go = rig
    for method, args in [
        ("contacts", {}),
        ("add_contact", {"jid": "4915112345678@s.whatsapp.net", "name": "Ana"}),
        ("check_numbers", {"phones": ["4915112345678"]}),
        ("mark_read", {"chatJid": "4915112345678@s.whatsapp.net", "messageIds": ["A"]}),
    ]:
        with pytest.raises(Conflict, match="not connected"):
            await host.call(method, "i1", args)
    assert go.calls == []  # nothing reached Go


async def test_calls_for_an_instance_this_worker_does_not_host_are_conflicts(rig: Any) -> None:
    host, _, _ = rig
    with pytest.raises(Conflict):
        await host.call("contacts", "nobody", {})
    assert host.instance_ids() == ["i1"]


async def test_a_store_call_waiting_behind_a_stop_never_reaches_go(tmp_path: Path) -> None:
    reset_event_loop()
    host = make_host(tmp_path, Recorder())
    go = FakeGo()
    hosted = attach(host, "i1", go)  # paired and running
    async with host._go.writer:  # a stop holds the writer side...
        call = asyncio.ensure_future(host.call("contacts", "i1", {}))
        await asyncio.sleep(0)  # let it reach the reader side (if not, it checks after: same)
        hosted.go_registered = False  # ...and takes the client out of Go's tables
    with pytest.raises(Conflict):
        await call
    assert "GetAllContacts" not in go.names()  # it would have segfaulted
    await host.close()
    reset_event_loop()


async def test_logout_unlinks_on_whatsapp_stops_and_forgets_the_store(tmp_path: Path) -> None:
    reset_event_loop()
    recorder = Recorder()
    host = make_host(tmp_path, recorder)
    go = FakeGo()
    hosted = attach(host, "i1", go)
    hosted.store_path.write_bytes(b"whatsmeow store")
    await host.call("logout", "i1", {})
    assert go.names() == ["Logout", "Stop"]
    assert not hosted.store_path.exists() and hosted.directory.exists()
    assert recorder.of("logged_out") == [{"reason": "logout requested"}]
    await host.call("destroy", "i1", {})
    assert not hosted.directory.exists() and host.instance_ids() == []
    await host.close()
    reset_event_loop()
