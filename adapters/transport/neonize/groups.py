"""Groups of hosted clients (inside a worker): the group requests of the protocol as neonize
calls, and neonize's group events (`GroupInfoEv`, `JoinedGroupEv`) as `group_update` events.

Members are shown by phone-number JID when WhatsApp gives one (`PhoneNumber`), else by the
JID it addresses them with (a LID), as messages are."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from adapters.transport.neonize.environment import prepare_environment

prepare_environment()

from neonize.proto import Neonize_pb2 as npb  # noqa: E402
from neonize.utils.enum import ParticipantChange  # noqa: E402

from adapters.transport.neonize import translate as tr  # noqa: E402
from adapters.transport.neonize.hosted import HostedClient  # noqa: E402
from domain.wire import GroupInfo, GroupParticipant, group_to_wire  # noqa: E402

log = logging.getLogger(__name__)

GoCall = Callable[..., Awaitable[Any]]
EmitEvent = Callable[[str, str, dict[str, Any]], Awaitable[None]]
Method = Callable[[HostedClient, dict[str, Any]], Awaitable[Any]]


def _pn_or(jid: npb.JID, pn: npb.JID) -> str:
    return tr.jid_text(pn) if not tr.is_empty(pn) else tr.jid_text(jid)


def group_info(g: npb.GroupInfo) -> GroupInfo:
    owner = _pn_or(g.OwnerJID, g.OwnerPN) if not tr.is_empty(g.OwnerJID) else None
    return GroupInfo(
        jid=tr.jid_text(g.JID),
        subject=g.GroupName.Name,
        description=g.GroupTopic.Topic or None,
        owner=owner,
        participants=tuple(
            GroupParticipant(
                jid=_pn_or(p.JID, p.PhoneNumber),
                is_admin=p.IsAdmin or p.IsSuperAdmin,
                is_super_admin=p.IsSuperAdmin,
            )
            for p in g.Participants
        ),
        created_at=tr.seconds(g.GroupCreated) if g.GroupCreated else None,
    )


def changes(ev: npb.GroupInfoEvent) -> list[dict[str, Any]]:
    """One `change` per kind a GroupInfoEvent carries (WhatsApp may bundle several)."""
    base = {"groupJid": tr.jid_text(ev.JID)}
    if not tr.is_empty(ev.Sender):
        base["by"] = tr.jid_text(ev.Sender)
    found: list[dict[str, Any]] = []
    if ev.HasField("Name"):
        found.append({**base, "action": "subject", "subject": ev.Name.Name})
    if ev.HasField("Topic"):
        found.append({**base, "action": "description", "description": ev.Topic.Topic})
    for field, action in (("Join", "add"), ("Leave", "remove"), ("Promote", "promote"),
                          ("Demote", "demote")):  # fmt: skip
        people = [tr.jid_text(j) for j in getattr(ev, field)]
        if people:
            found.append({**base, "action": action, "participants": people})
    if ev.NewInviteLink:
        found.append({**base, "action": "invite_link_revoked"})
    return found


class GroupWorker:
    def __init__(self, call: GoCall, emit: EmitEvent) -> None:
        self._call = call  # Messaging._call: one Go call under the reader lock
        self._emit = emit
        self.methods: dict[str, Method] = {
            "groups": self.groups,
            "group_info": self.group_info,
            "create_group": self.create_group,
            "set_group_subject": self.set_subject,
            "set_group_description": self.set_description,
            "update_group_participants": self.update_participants,
            "group_invite_link": self.invite_link,
            "join_group": self.join,
            "leave_group": self.leave,
        }

    async def groups(self, hosted: HostedClient, args: dict[str, Any]) -> list[dict[str, Any]]:
        found = await self._call(hosted, "group list", hosted.client.get_joined_groups)
        return [group_to_wire(group_info(g)) for g in found]

    async def _info(self, hosted: HostedClient, jid: npb.JID) -> npb.GroupInfo:
        return await self._call(hosted, "group info", partial(hosted.client.get_group_info, jid))

    async def group_info(self, hosted: HostedClient, args: dict[str, Any]) -> dict[str, Any]:
        found = await self._info(hosted, tr.parse_jid(str(args["groupJid"])))
        return group_to_wire(group_info(found))

    async def create_group(self, hosted: HostedClient, args: dict[str, Any]) -> dict[str, Any]:
        people = [tr.parse_jid(str(p)) for p in args.get("participants") or []]
        create = partial(hosted.client.create_group, str(args["subject"]), people)
        return group_to_wire(group_info(await self._call(hosted, "group creation", create)))

    async def set_subject(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        jid = tr.parse_jid(str(args["groupJid"]))
        rename = partial(hosted.client.set_group_name, jid, str(args["subject"]))
        await self._call(hosted, "group rename", rename)

    async def set_description(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        # whatsmeow replaces a topic by id: the current one's, and a new one of ours
        jid = tr.parse_jid(str(args["groupJid"]))
        current = await self._info(hosted, jid)
        new_id = secrets.token_hex(8).upper()
        topic = partial(
            hosted.client.set_group_topic,
            jid,
            current.GroupTopic.TopicID,
            new_id,
            str(args["description"]),
        )
        await self._call(hosted, "group description", topic)

    async def update_participants(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        jid = tr.parse_jid(str(args["groupJid"]))
        people = [tr.parse_jid(str(p)) for p in args.get("participants") or []]
        action = ParticipantChange(str(args["action"]))
        update = partial(hosted.client.update_group_participants, jid, people, action)
        await self._call(hosted, "group participants", update)

    async def invite_link(self, hosted: HostedClient, args: dict[str, Any]) -> dict[str, str]:
        jid = tr.parse_jid(str(args["groupJid"]))
        get = partial(hosted.client.get_group_invite_link, jid, bool(args.get("revoke")))
        return {"link": str(await self._call(hosted, "group invite link", get))}

    async def join(self, hosted: HostedClient, args: dict[str, Any]) -> dict[str, str]:
        join = partial(hosted.client.join_group_with_link, str(args["code"]))
        return {"groupJid": tr.jid_text(await self._call(hosted, "group join", join))}

    async def leave(self, hosted: HostedClient, args: dict[str, Any]) -> None:
        jid = tr.parse_jid(str(args["groupJid"]))
        await self._call(hosted, "group leave", partial(hosted.client.leave_group, jid))

    # --- events --------------------------------------------------------------------------------

    async def on_group_info(self, hosted: HostedClient, ev: Any) -> None:
        for change in changes(ev):
            await self._emit(hosted.instance_id, "group_update", {"group": None, "change": change})

    async def on_joined_group(self, hosted: HostedClient, ev: Any) -> None:
        group = group_info(ev.GroupInfo)
        change: dict[str, Any] = {
            "groupJid": group.jid,
            "action": "created" if ev.Type == "new" else "add",
            "participants": [f"{hosted.phone}@s.whatsapp.net"] if hosted.phone else [],
        }
        if not tr.is_empty(ev.Sender):
            change["by"] = _pn_or(ev.Sender, ev.SenderPN)
        data = {"group": group_to_wire(group), "change": change}
        await self._emit(hosted.instance_id, "group_update", data)
