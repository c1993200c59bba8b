"""Stand-ins for WhatsApp: an engine that records every call, and the connection runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from domain.entities import Instance
from domain.wire import EngineContact, NumberCheck, OutgoingMessage


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

    async def send_presence(self, instance_id: str, chat_jid: str | None, state: str) -> None:
        self.calls.append(("send_presence", instance_id, chat_jid, state))

    async def close(self) -> None:
        self.calls.append(("close",))


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

    async def close(self) -> None:
        return None
