"""The sandbox's groups: WhatsApp's side of them (members, admins, subject, invite codes),
shared by every sandbox instance and kept in `instances/sandbox-groups.json`.

Members are phone numbers. Changes reach every member whose sandbox instance is connected,
the one who made them included, as WhatsApp's group notifications do; a message sent to a
group reaches every other connected member with the sender as its participant.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from domain.errors import Conflict, Forbidden, NotFound
from domain.ports import ConnectionListener
from domain.wire import GroupInfo, GroupParticipant

FILE = "sandbox-groups.json"
_USER = "@s.whatsapp.net"
_CODE = string.ascii_letters + string.digits

Schedule = Callable[[float, Callable[[], Awaitable[None]]], None]


def phone_of(jid: str) -> str:
    return jid.split("@", 1)[0]


class SandboxGroups:
    def __init__(
        self,
        directory: Path,
        listener: ConnectionListener,
        online: dict[str, tuple[str, str | None]],
        schedule: Schedule,
    ) -> None:
        self._path = directory / FILE
        self._listener = listener
        self._online = online  # the engine's: instance id -> (phone, push name)
        self._schedule = schedule
        self._groups: dict[str, dict[str, Any]] | None = None

    # --- the store -----------------------------------------------------------------------

    def _all(self) -> dict[str, dict[str, Any]]:
        if self._groups is None:
            try:
                self._groups = dict(json.loads(self._path.read_text("utf-8")))
            except (FileNotFoundError, ValueError):
                self._groups = {}
        return self._groups

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._all()), "utf-8")
        os.replace(tmp, self._path)

    def _me(self, instance_id: str) -> str:
        me = self._online.get(instance_id)
        if me is None:
            raise Conflict("Instance is not connected")
        return me[0]

    def _group(self, instance_id: str, group_jid: str) -> tuple[str, dict[str, Any]]:
        me = self._me(instance_id)
        group = self._all().get(group_jid)
        if group is None or me not in group["members"]:
            raise NotFound(f"Group {group_jid} not found (or this account is not in it)")
        return me, group

    def _require_admin(self, me: str, group: dict[str, Any]) -> None:
        if group["members"][me] == "member":
            raise Forbidden("Only a group admin can do that")

    @staticmethod
    def info(jid: str, group: dict[str, Any]) -> GroupInfo:
        members = group["members"]
        return GroupInfo(
            jid=jid,
            subject=group["subject"],
            description=group.get("description"),
            owner=group["owner"] + _USER,
            participants=tuple(
                GroupParticipant(
                    jid=phone + _USER,
                    is_admin=role != "member",
                    is_super_admin=role == "superadmin",
                )
                for phone, role in members.items()
            ),
            created_at=group["createdAt"],
        )

    # --- what members see ----------------------------------------------------------------

    def member_instances(self, group_jid: str, but: str | None = None) -> list[str]:
        group = self._all().get(group_jid)
        if group is None:
            return []
        return [
            iid
            for iid, (phone, _) in self._online.items()
            if phone in group["members"] and iid != but
        ]

    def is_group(self, jid: str) -> bool:
        return jid in self._all()

    def _announce(self, jid: str, change: dict[str, Any], also: Sequence[str] = ()) -> None:
        """Tells every connected member (and `also`: phones that just left or were removed)."""
        group = self._all().get(jid)
        info = self.info(jid, group) if group is not None else None
        phones = set(group["members"] if group else ()) | set(also)
        targets = [iid for iid, (phone, _) in self._online.items() if phone in phones]

        async def job() -> None:
            for iid in targets:
                await self._listener.on_group_update(iid, info, {"groupJid": jid, **change})

        self._schedule(0, job)

    # --- operations ----------------------------------------------------------------------

    def list(self, instance_id: str) -> list[GroupInfo]:
        me = self._me(instance_id)
        return [self.info(j, g) for j, g in self._all().items() if me in g["members"]]

    def get(self, instance_id: str, jid: str) -> GroupInfo:
        _, group = self._group(instance_id, jid)
        return self.info(jid, group)

    def create(self, instance_id: str, subject: str, participants: Sequence[str]) -> GroupInfo:
        me = self._me(instance_id)
        jid = f"120363{secrets.randbelow(10**12):012d}@g.us"
        members = {me: "superadmin", **{phone_of(p): "member" for p in participants}}
        members[me] = "superadmin"
        group = {
            "subject": subject,
            "description": None,
            "owner": me,
            "members": members,
            "createdAt": int(time.time()),
            "invite": self._code(),
        }
        self._all()[jid] = group
        self._save()
        added = [p + _USER for p in members if p != me]
        self._announce(jid, {"action": "created", "by": me + _USER, "participants": added})
        return self.info(jid, group)

    def set_subject(self, instance_id: str, jid: str, subject: str) -> None:
        me, group = self._group(instance_id, jid)
        group["subject"] = subject
        self._save()
        self._announce(jid, {"action": "subject", "by": me + _USER, "subject": subject})

    def set_description(self, instance_id: str, jid: str, description: str) -> None:
        me, group = self._group(instance_id, jid)
        group["description"] = description or None
        self._save()
        change = {"action": "description", "by": me + _USER, "description": description}
        self._announce(jid, change)

    def participants(
        self, instance_id: str, jid: str, action: str, participants: Sequence[str]
    ) -> None:
        me, group = self._group(instance_id, jid)
        self._require_admin(me, group)
        members: dict[str, str] = group["members"]
        phones = [phone_of(p) for p in participants]
        if action != "add":
            strangers = [p for p in phones if p not in members]
            if strangers:
                raise NotFound(f"{strangers[0]} is not in the group")
        if group["owner"] in phones and action in ("remove", "demote"):
            raise Forbidden("The group's creator cannot be removed or demoted")
        for phone in phones:
            if action == "add":
                members.setdefault(phone, "member")
            elif action == "remove":
                members.pop(phone, None)
            elif action == "promote":
                members[phone] = "admin"
            else:
                members[phone] = "member"
        self._save()
        change = {"action": action, "by": me + _USER, "participants": [p + _USER for p in phones]}
        self._announce(jid, change, also=phones if action == "remove" else ())

    def invite_link(self, instance_id: str, jid: str, revoke: bool) -> str:
        me, group = self._group(instance_id, jid)
        if revoke:
            self._require_admin(me, group)
            group["invite"] = self._code()
            self._save()
        return f"https://chat.whatsapp.com/{group['invite']}"

    def join(self, instance_id: str, code: str) -> str:
        me = self._me(instance_id)
        found = next((j for j, g in self._all().items() if g.get("invite") == code), None)
        if found is None:
            raise NotFound("No group has this invite link (it may have been revoked)")
        members = self._all()[found]["members"]
        if me in members:
            raise Conflict("This account is already in the group")
        members[me] = "member"
        self._save()
        self._announce(found, {"action": "join", "by": me + _USER, "participants": [me + _USER]})
        return found

    def leave(self, instance_id: str, jid: str) -> None:
        me, group = self._group(instance_id, jid)
        del group["members"][me]
        if group["owner"] == me and group["members"]:
            # WhatsApp hands the group to an admin (or a member) when its creator leaves
            heir = next((p for p, r in group["members"].items() if r != "member"), None)
            heir = heir or next(iter(group["members"]))
            group["owner"] = heir
            group["members"][heir] = "superadmin"
        self._save()
        change = {"action": "leave", "by": me + _USER, "participants": [me + _USER]}
        self._announce(jid, change, also=[me])

    @staticmethod
    def _code() -> str:
        return "".join(secrets.choice(_CODE) for _ in range(22))
