"""Stand-ins for WhatsApp: an engine that records every call, and the connection runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from domain.entities import Instance
from domain.errors import NotFound
from domain.wire import (
    EngineContact,
    GroupInfo,
    GroupParticipant,
    LastMessageKey,
    NumberCheck,
    OutgoingMessage,
)


class FakeEngine:
    """Stands in for WhatsApp: records every call; `send` can be made to fail."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.sent: list[OutgoingMessage] = []
        self.address_book: list[EngineContact] = []
        self.whatsapp_numbers: set[str] = set()  # the phones check_numbers finds
        self.next_pairing_code = "ABCD-1234"
        self.group_book: dict[str, GroupInfo] = {}
        self.send_error: Exception | None = None
        self.mark_error: Exception | None = None  # raised by mark_unread
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

    async def mark_unread(
        self,
        instance_id: str,
        chat_jid: str,
        last: LastMessageKey | None,
        *,
        unread: bool = True,
    ) -> None:
        self.calls.append(("mark_unread", instance_id, chat_jid, last, unread))
        if self.mark_error is not None:
            raise self.mark_error

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

    # groups: one group the fake account is in, changed as asked
    async def groups(self, instance_id: str) -> list[GroupInfo]:
        self.calls.append(("groups", instance_id))
        return list(self.group_book.values())

    async def group_info(self, instance_id: str, group_jid: str) -> GroupInfo:
        self.calls.append(("group_info", instance_id, group_jid))
        if group_jid not in self.group_book:
            raise NotFound(f"Group {group_jid} not found")
        return self.group_book[group_jid]

    async def create_group(
        self, instance_id: str, subject: str, participants: Sequence[str]
    ) -> GroupInfo:
        self.calls.append(("create_group", instance_id, subject, list(participants)))
        jid = f"1203630000000{len(self.group_book):05d}@g.us"
        people = tuple(GroupParticipant(p) for p in participants)
        self.group_book[jid] = GroupInfo(jid, subject, participants=people)
        return self.group_book[jid]

    async def set_group_subject(self, instance_id: str, group_jid: str, subject: str) -> None:
        self.calls.append(("set_group_subject", instance_id, group_jid, subject))
        self.group_book[group_jid] = replace(self.group_book[group_jid], subject=subject)

    async def set_group_description(
        self, instance_id: str, group_jid: str, description: str
    ) -> None:
        self.calls.append(("set_group_description", instance_id, group_jid, description))

    async def update_group_participants(
        self, instance_id: str, group_jid: str, action: str, participants: Sequence[str]
    ) -> None:
        self.calls.append(("update_group_participants", instance_id, group_jid, action))

    async def group_invite_link(self, instance_id: str, group_jid: str, revoke: bool) -> str:
        self.calls.append(("group_invite_link", instance_id, group_jid, revoke))
        return "https://chat.whatsapp.com/FAKEINVITECODE01"

    async def join_group(self, instance_id: str, code: str) -> str:
        self.calls.append(("join_group", instance_id, code))
        return next(iter(self.group_book))

    async def leave_group(self, instance_id: str, group_jid: str) -> None:
        self.calls.append(("leave_group", instance_id, group_jid))

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
