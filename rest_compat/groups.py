"""Beyond the document: the account's groups under `/api/whatsapp/{id}/groups`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, StrictBool, StrictStr

from api.deps import ContainerDep, CountedCall, PrincipalDep
from domain.groups import group_payload
from domain.wire import GroupInfo
from rest_compat import responses as r
from rest_compat.schemas import Body

router = APIRouter(
    prefix="/api/whatsapp",
    tags=["groups"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 403, 404, 409, 429, 502),
)


class Participant(r.Answer):
    jid: str
    is_admin: bool
    is_super_admin: bool


class Group(r.Answer):
    id: str
    subject: str
    description: str | None
    owner: str | None
    participants: list[Participant]


class GroupList(r.Answer):
    groups: list[Group]


class InviteLink(r.Answer):
    invite_link: str


class NewGroupBody(Body):
    name: StrictStr
    participants: list[StrictStr] = Field(description="phone numbers (international format)")


class SubjectBody(Body):
    subject: StrictStr


class DescriptionBody(Body):
    description: StrictStr


class ParticipantsBody(Body):
    action: StrictStr = Field(description="add, remove, promote or demote")
    participants: list[StrictStr]


class InviteBody(Body):
    revoke: StrictBool = False


class JoinBody(Body):
    link: StrictStr = Field(description="https://chat.whatsapp.com/<code>, or the code")


def _group(group: GroupInfo) -> dict[str, Any]:
    payload = group_payload(group)
    assert payload is not None
    return payload


@router.get("/{instance_id}/groups", response_model=GroupList)
async def list_groups(instance_id: str, principal: PrincipalDep, c: ContainerDep) -> Any:
    found = await c.groups.list(principal, instance_id)
    return {"groups": [_group(g) for g in found]}


@router.post("/{instance_id}/groups", response_model=Group, status_code=201)
async def create_group(
    instance_id: str, body: NewGroupBody, principal: PrincipalDep, c: ContainerDep
) -> Any:
    return _group(await c.groups.create(principal, instance_id, body.name, body.participants))


@router.post("/{instance_id}/groups/join", response_model=Group)
async def join_group(
    instance_id: str, body: JoinBody, principal: PrincipalDep, c: ContainerDep
) -> Any:
    return _group(await c.groups.join(principal, instance_id, body.link))


@router.get("/{instance_id}/groups/{group_id}", response_model=Group)
async def group_info(
    instance_id: str, group_id: str, principal: PrincipalDep, c: ContainerDep
) -> Any:
    return _group(await c.groups.get(principal, instance_id, group_id))


@router.put("/{instance_id}/groups/{group_id}/subject", response_model=Group)
async def rename_group(
    instance_id: str, group_id: str, body: SubjectBody, principal: PrincipalDep, c: ContainerDep
) -> Any:
    return _group(await c.groups.rename(principal, instance_id, group_id, body.subject))


@router.put("/{instance_id}/groups/{group_id}/description", response_model=Group)
async def describe_group(
    instance_id: str,
    group_id: str,
    body: DescriptionBody,
    principal: PrincipalDep,
    c: ContainerDep,
) -> Any:
    return _group(await c.groups.describe(principal, instance_id, group_id, body.description))


@router.post("/{instance_id}/groups/{group_id}/participants", response_model=Group)
async def group_participants(
    instance_id: str,
    group_id: str,
    body: ParticipantsBody,
    principal: PrincipalDep,
    c: ContainerDep,
) -> Any:
    group = await c.groups.participants(
        principal, instance_id, group_id, body.action, body.participants
    )
    return _group(group)


@router.post("/{instance_id}/groups/{group_id}/invite", response_model=InviteLink)
async def group_invite(
    instance_id: str, group_id: str, body: InviteBody, principal: PrincipalDep, c: ContainerDep
) -> Any:
    link = await c.groups.invite_link(principal, instance_id, group_id, body.revoke)
    return {"inviteLink": link}


@router.post("/{instance_id}/groups/{group_id}/leave", response_model=r.Success)
async def leave_group(
    instance_id: str, group_id: str, principal: PrincipalDep, c: ContainerDep
) -> Any:
    await c.groups.leave(principal, instance_id, group_id)
    return {"success": True}
