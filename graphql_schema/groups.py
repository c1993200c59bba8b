"""Groups: the account's groups, their members, and the changes an admin can make.

Mutations return the group and `userErrors` (input the caller can fix); not-found, not an
admin (forbidden), not connected (conflict) stay GraphQL errors."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import strawberry

from domain.errors import ValidationFailed
from domain.wire import GroupInfo
from graphql_schema.context import Info
from graphql_schema.enums import ParticipantAction
from graphql_schema.payloads import UserError, attempt


@strawberry.type(description="A member of a group.")
class GroupParticipant:
    jid: str = strawberry.field(description="The member's JID.")
    is_admin: bool = strawberry.field(description="Whether they are an admin (or the owner).")
    is_super_admin: bool = strawberry.field(description="Whether they own the group.")


@strawberry.type(description="A WhatsApp group the instance's account is in.")
class Group:
    id: str = strawberry.field(description="The group's JID, <id>@g.us.")
    subject: str = strawberry.field(description="The group's name.")
    description: str | None = strawberry.field(description="The group's description.")
    owner: str | None = strawberry.field(description="Who owns it (JID), when known.")
    participants: list[GroupParticipant] = strawberry.field(
        description="Its members with their admin flags."
    )

    @classmethod
    def from_entity(cls, g: GroupInfo) -> Group:
        return cls(
            id=g.jid,
            subject=g.subject,
            description=g.description,
            owner=g.owner,
            participants=[
                GroupParticipant(jid=p.jid, is_admin=p.is_admin, is_super_admin=p.is_super_admin)
                for p in g.participants
            ],
        )

    @classmethod
    def from_payload(cls, g: Any) -> Group | None:
        """From a group_update event's `group` (`domain.groups.group_payload`)."""
        if not isinstance(g, Mapping):
            return None
        return cls(
            id=str(g.get("id") or ""),
            subject=str(g.get("subject") or ""),
            description=g.get("description"),
            owner=g.get("owner"),
            participants=[
                GroupParticipant(
                    jid=str(p.get("jid") or ""),
                    is_admin=bool(p.get("isAdmin", False)),
                    is_super_admin=bool(p.get("isSuperAdmin", False)),
                )
                for p in g.get("participants") or []
                if isinstance(p, Mapping)
            ],
        )


@strawberry.type(description="The group a group mutation created or changed.")
class GroupPayload:
    group: Group | None = strawberry.field(description="The group; null on userErrors.")
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


@strawberry.type(description="A group's invite link.")
class GroupInvitePayload:
    invite_link: str | None = strawberry.field(
        description="https://chat.whatsapp.com/<code>; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


@strawberry.type(description="Whether the account left the group.")
class LeaveGroupPayload:
    success: bool = strawberry.field(description="True once it has left.")
    user_errors: list[UserError] = strawberry.field(description="Input the caller can fix.")


async def _group(work: Awaitable[GroupInfo]) -> GroupPayload:
    info, errors = await attempt(work)
    return GroupPayload(
        group=Group.from_entity(info) if info is not None else None, user_errors=errors
    )


@strawberry.type
class GroupQuery:
    @strawberry.field(description="The groups the instance's account is in (from WhatsApp).")
    async def groups(self, info: Info, instance_id: strawberry.ID) -> list[Group]:
        c, p = info.context.container, await info.context.principal()
        return [Group.from_entity(g) for g in await c.groups.list(p, str(instance_id))]

    @strawberry.field(description="One group: subject, description, members with admin flags.")
    async def group(self, info: Info, instance_id: strawberry.ID, group_id: str) -> Group:
        c, p = info.context.container, await info.context.principal()
        return Group.from_entity(await c.groups.get(p, str(instance_id), group_id))


@strawberry.type
class GroupMutation:
    @strawberry.mutation(description="Create a group with a subject and participants.")
    async def create_group(
        self, info: Info, instance_id: strawberry.ID, subject: str, participants: list[str]
    ) -> GroupPayload:
        c, p = info.context.container, await info.context.principal()
        return await _group(c.groups.create(p, str(instance_id), subject, participants))

    @strawberry.mutation(description="Rename a group.")
    async def rename_group(
        self, info: Info, instance_id: strawberry.ID, group_id: str, subject: str
    ) -> GroupPayload:
        c, p = info.context.container, await info.context.principal()
        return await _group(c.groups.rename(p, str(instance_id), group_id, subject))

    @strawberry.mutation(description="Change a group's description (empty clears it).")
    async def set_group_description(
        self, info: Info, instance_id: strawberry.ID, group_id: str, description: str
    ) -> GroupPayload:
        c, p = info.context.container, await info.context.principal()
        return await _group(c.groups.describe(p, str(instance_id), group_id, description))

    @strawberry.mutation(description="Add, remove, promote or demote participants (admins).")
    async def update_group_participants(
        self,
        info: Info,
        instance_id: strawberry.ID,
        group_id: str,
        action: ParticipantAction,
        participants: list[str],
    ) -> GroupPayload:
        c, p = info.context.container, await info.context.principal()
        work = c.groups.participants(p, str(instance_id), group_id, action.value, participants)
        return await _group(work)

    @strawberry.mutation(description="The group's invite link; revoke=true makes a new one.")
    async def group_invite_link(
        self, info: Info, instance_id: strawberry.ID, group_id: str, revoke: bool = False
    ) -> GroupInvitePayload:
        c, p = info.context.container, await info.context.principal()
        try:
            link = await c.groups.invite_link(p, str(instance_id), group_id, revoke)
        except ValidationFailed as exc:
            return GroupInvitePayload(
                invite_link=None, user_errors=[UserError.from_validation(exc)]
            )
        return GroupInvitePayload(invite_link=link, user_errors=[])

    @strawberry.mutation(description="Join a group by its invite link.")
    async def join_group(self, info: Info, instance_id: strawberry.ID, link: str) -> GroupPayload:
        c, p = info.context.container, await info.context.principal()
        return await _group(c.groups.join(p, str(instance_id), link))

    @strawberry.mutation(description="Leave a group.")
    async def leave_group(
        self, info: Info, instance_id: strawberry.ID, group_id: str
    ) -> LeaveGroupPayload:
        c, p = info.context.container, await info.context.principal()
        try:
            await c.groups.leave(p, str(instance_id), group_id)
        except ValidationFailed as exc:
            return LeaveGroupPayload(success=False, user_errors=[UserError.from_validation(exc)])
        return LeaveGroupPayload(success=True, user_errors=[])
