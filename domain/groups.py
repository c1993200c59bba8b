"""Groups: list, create, read, rename, describe, manage participants, invite links, join and
leave (use cases), and group changes reported by the engines (`GroupEvents`).

The group itself lives on WhatsApp; what is kept here is the group's contact row (its
subject as the name, so chats show it) and the `group_update` events."""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain import validation as v
from domain.entities import Contact, EventType, Principal
from domain.errors import ValidationFailed
from domain.instances import Instances, require_connected
from domain.phones import to_jid
from domain.ports import Clock, Connections, IdFactory, UnitOfWorkFactory, WhatsAppEngine
from domain.recorder import InstanceTransaction, Recorder
from domain.wire import GROUP_ACTIONS, GroupInfo

MAX_SUBJECT = 100  # WhatsApp's limits
MAX_DESCRIPTION = 2048
MAX_PARTICIPANTS = 256
_GROUP_ID = re.compile(r"^(\d{5,30}(?:-\d{5,15})?)(?:@g\.us)?$")
_INVITE = re.compile(r"^(?:https?://chat\.whatsapp\.com/(?:invite/)?)?([A-Za-z0-9]{10,40})/?$")


def group_jid(value: str, field: str = "groupId") -> str:
    """`<digits>@g.us` (the suffix may be left out)."""
    found = _GROUP_ID.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise v.fail(field, f"'{field}' must be a group id such as 120363012345678901@g.us")
    return found.group(1) + "@g.us"


def invite_code(value: str) -> str:
    found = _INVITE.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise v.fail("link", "'link' must be an invite link https://chat.whatsapp.com/<code>")
    return found.group(1)


def group_payload(group: GroupInfo | None) -> dict[str, Any] | None:
    if group is None:
        return None
    return {
        "id": group.jid,
        "subject": group.subject,
        "description": group.description,
        "owner": group.owner,
        "participants": [
            {"jid": p.jid, "isAdmin": p.is_admin, "isSuperAdmin": p.is_super_admin}
            for p in group.participants
        ],
    }


class Groups:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        recorder: Recorder,
        instances: Instances,
        connections: Connections,
        clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._uow = uow
        self._recorder = recorder
        self._instances = instances
        self._connections = connections
        self._clock = clock
        self._ids = ids

    async def _engine(self, principal: Principal, instance_id: str) -> WhatsAppEngine:
        instance = await self._instances.get(principal, instance_id)
        require_connected(instance)
        return self._connections.engine(instance)

    async def list(self, principal: Principal, instance_id: str) -> list[GroupInfo]:
        engine = await self._engine(principal, instance_id)
        return list(await engine.groups(instance_id))

    async def get(self, principal: Principal, instance_id: str, group_id: str) -> GroupInfo:
        jid = group_jid(group_id)
        engine = await self._engine(principal, instance_id)
        return await engine.group_info(instance_id, jid)

    async def create(
        self, principal: Principal, instance_id: str, subject: str, participants: Sequence[str]
    ) -> GroupInfo:
        name = v.text(subject, "name", max_len=MAX_SUBJECT, required=True)
        jids = self._participants(participants)
        engine = await self._engine(principal, instance_id)
        assert name is not None
        return await engine.create_group(instance_id, name, jids)

    async def rename(
        self, principal: Principal, instance_id: str, group_id: str, subject: str
    ) -> GroupInfo:
        jid = group_jid(group_id)
        name = v.text(subject, "subject", max_len=MAX_SUBJECT, required=True) or ""
        engine = await self._engine(principal, instance_id)
        await engine.set_group_subject(instance_id, jid, name)
        return await engine.group_info(instance_id, jid)

    async def describe(
        self, principal: Principal, instance_id: str, group_id: str, description: str
    ) -> GroupInfo:
        jid = group_jid(group_id)
        text = v.text(description, "description", max_len=MAX_DESCRIPTION, required=False)
        engine = await self._engine(principal, instance_id)
        await engine.set_group_description(instance_id, jid, text or "")
        return await engine.group_info(instance_id, jid)

    async def participants(
        self,
        principal: Principal,
        instance_id: str,
        group_id: str,
        action: str,
        participants: Sequence[str],
    ) -> GroupInfo:
        jid = group_jid(group_id)
        if action not in GROUP_ACTIONS:
            raise v.fail("action", f"'action' must be one of: {', '.join(GROUP_ACTIONS)}")
        jids = self._participants(participants)
        engine = await self._engine(principal, instance_id)
        await engine.update_group_participants(instance_id, jid, action, jids)
        return await engine.group_info(instance_id, jid)

    async def invite_link(
        self, principal: Principal, instance_id: str, group_id: str, revoke: bool = False
    ) -> str:
        jid = group_jid(group_id)
        engine = await self._engine(principal, instance_id)
        return await engine.group_invite_link(instance_id, jid, revoke)

    async def join(self, principal: Principal, instance_id: str, link: str) -> GroupInfo:
        code = invite_code(link)
        engine = await self._engine(principal, instance_id)
        jid = await engine.join_group(instance_id, code)
        return await engine.group_info(instance_id, jid)

    async def leave(self, principal: Principal, instance_id: str, group_id: str) -> None:
        jid = group_jid(group_id)
        engine = await self._engine(principal, instance_id)
        await engine.leave_group(instance_id, jid)

    @staticmethod
    def _participants(participants: Sequence[str]) -> builtins.list[str]:
        if not isinstance(participants, list | tuple) or not participants:
            raise v.fail("participants", "'participants' must name at least one phone number")
        if len(participants) > MAX_PARTICIPANTS:
            raise v.fail("participants", f"at most {MAX_PARTICIPANTS} participants at once")
        jids: builtins.list[str] = []
        for n, phone in enumerate(participants):
            try:
                jid = to_jid(phone, f"participants[{n}]")
            except ValidationFailed as exc:
                raise ValidationFailed(exc.message, {"field": "participants", "index": n}) from None
            if jid.endswith("@g.us"):
                raise v.fail("participants", "a participant is a phone number, not a group")
            if jid not in jids:
                jids.append(jid)
        return jids


class GroupEvents:
    """The group half of the ConnectionListener (mixed into EngineEvents, which provides
    `_recorder`, `_clock` and `_ids`)."""

    _recorder: Recorder
    _clock: Clock
    _ids: IdFactory

    async def on_group_update(
        self, instance_id: str, group: GroupInfo | None, change: dict[str, Any]
    ) -> None:
        now = self._clock.now()
        async with self._recorder.transaction(instance_id) as txn:
            if await txn.uow.instances.get(instance_id) is None:
                return
            jid = str(change.get("groupJid") or (group.jid if group else ""))
            if group is not None:
                await self._touch_group(txn, instance_id, group, now)
            data = {**change, "groupJid": jid, "group": group_payload(group)}
            await txn.log("group_update", {"groupJid": jid, "action": change.get("action")})
            await txn.emit(EventType.GROUP_UPDATE, data)
            await txn.commit()

    async def _touch_group(
        self, txn: InstanceTransaction, instance_id: str, group: GroupInfo, now: datetime
    ) -> None:
        contact = await txn.uow.contacts.get(instance_id, group.jid)
        if contact is None:
            contact = Contact(
                id=self._ids(),
                instance_id=instance_id,
                number=group.jid.split("@", 1)[0],
                remote_jid=group.jid,
                is_group=True,
                created_at=now,
                updated_at=now,
            )
        contact.name = group.subject or contact.name
        contact.about = group.description
        contact.updated_at = now
        await txn.uow.contacts.upsert(contact)
