"""The engine-worker protocol: frames over a real socket pair, codecs, and delivery."""

from __future__ import annotations

import asyncio
import socket

import pytest

from adapters.transport.neonize import protocol
from domain.entities import MessageStatus
from domain.errors import Conflict, EngineFailure, ValidationFailed
from domain.wire import EngineContact, IncomingMessage, MediaPayload, OutgoingMessage

_open: list[object] = []  # the unused halves: a collected StreamWriter closes its socket


async def _pair() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    left, right = socket.socketpair()
    reader, left_writer = await asyncio.open_connection(sock=left)
    right_reader, writer = await asyncio.open_connection(sock=right)
    _open.extend((left_writer, right_reader))
    return reader, writer


async def test_frames_cross_a_socket_in_order_with_unicode_and_bytes() -> None:
    reader, writer = await _pair()
    media = MediaPayload(b"\x00\xffpng", "image/png", "a.png", "image", "你好")
    sent = [
        protocol.hello(42),
        protocol.request(
            1,
            "send",
            "i-1",
            {
                "message": protocol.outgoing_to_wire(
                    OutgoingMessage("3EB0AA", "7900@s.whatsapp.net", "hi ✓", media, "3EB0Q")
                )
            },
        ),
        protocol.event("i-1", "qr", {"qrCode": "2@abc"}),
    ]
    for message in sent:
        await protocol.write_frame(writer, message)
    writer.close()
    got = [await protocol.read_frame(reader) for _ in sent]
    assert got == sent
    assert await protocol.read_frame(reader) is None  # clean end of stream
    back = protocol.outgoing_from_wire(got[1]["args"]["message"])
    assert back.media == media and back.text == "hi ✓" and back.quoted_message_id == "3EB0Q"


async def test_a_frame_cut_short_is_a_protocol_error() -> None:
    reader, writer = await _pair()
    writer.write(protocol.encode(protocol.hello(1))[:-3])
    writer.close()
    with pytest.raises(protocol.ProtocolError):
        await protocol.read_frame(reader)


async def test_an_oversized_length_is_refused_before_reading_it() -> None:
    reader, writer = await _pair()
    writer.write((protocol.MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
    writer.close()
    with pytest.raises(protocol.ProtocolError, match="over the limit"):
        await protocol.read_frame(reader)


def test_failed_responses_carry_domain_codes_back() -> None:
    for error in (ValidationFailed("bad phone"), Conflict("not connected"), EngineFailure("x")):
        wire = protocol.failed(7, error)
        again = protocol.error_from_wire(wire["error"])
        assert type(again) is type(error) and str(again) == str(error)
    unknown = protocol.failed(8, RuntimeError("go panicked"))
    assert unknown["error"]["code"] == "engine_failure"
    assert isinstance(protocol.error_from_wire(unknown["error"]), EngineFailure)


def test_incoming_and_contacts_round_trip() -> None:
    message = IncomingMessage(
        "ABC",
        "123@g.us",
        "7900@s.whatsapp.net",
        1_700_000_000,
        "hey",
        "Zoë",
        MediaPayload(b"ogg", "audio/ogg", "v.ogg", "audio"),
        "Q1",
        {"lid": "99@lid"},
    )
    assert protocol.incoming_from_wire(protocol.incoming_to_wire(message)) == message
    contact = EngineContact("7900@s.whatsapp.net", "Ann", "ann", False)
    assert protocol.contact_from_wire(protocol.contact_to_wire(contact)) == contact


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def __getattr__(self, name: str):  # every on_* method records its arguments
        async def record(*args: object) -> None:
            self.calls.append((name, *args))

        return record


async def test_events_reach_the_matching_listener_method() -> None:
    listener = _Recorder()
    await protocol.deliver(
        listener, protocol.event("i", "connected", {"phone": "7900", "pushName": "A"})
    )
    await protocol.deliver(
        listener, protocol.event("i", "disconnected", {"reason": "x", "willReconnect": False})
    )
    await protocol.deliver(
        listener,
        protocol.event(
            "i", "receipt", protocol.receipt_data("7900@s.whatsapp.net", ["M1"], MessageStatus.READ)
        ),
    )
    assert listener.calls == [
        ("on_connected", "i", "7900", "A"),
        ("on_disconnected", "i", "x", False),
        ("on_receipt", "i", "7900@s.whatsapp.net", ["M1"], MessageStatus.READ),
    ]
    with pytest.raises(ValueError):
        protocol.event("i", "nonsense")
