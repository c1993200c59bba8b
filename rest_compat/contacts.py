"""The spec's "联系人" section; the database endpoints answer under both prefixes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat import responses_messaging as rm
from rest_compat.schemas import AddContactBody, SaveContactBody

router = APIRouter(
    tags=["contacts"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 404, 409, 429, 502),
)


@router.get(
    "/api/whatsapp/{instance_id}/contacts",
    name="from_whatsapp",
    response_model=rm.WhatsappContacts,
)
async def whatsapp_contacts(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    found = await c.contacts.from_whatsapp(principal, instance_id)
    return {"contacts": [presenters.engine_contact(x) for x in found]}


@router.post("/api/whatsapp/{instance_id}/contacts/add", response_model=rm.AddedContact)
async def add_contact(
    instance_id: str, body: AddContactBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    contact = await c.contacts.add_to_whatsapp(principal, instance_id, body.phone, body.name)
    return {
        "success": True,
        "message": "联系人添加成功",
        "contact": {"id": contact.remote_jid, "number": contact.number, "name": contact.name},
    }


async def _db_contacts(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    limit: int | None = Query(None),
    skip: int | None = Query(None),
    search: str | None = Query(None, description="part of a name or number"),
    only_groups: bool = Query(False, alias="onlyGroups"),
) -> dict[str, Any]:
    found, page = await c.contacts.list(
        principal, instance_id, limit=limit, skip=skip, search=search, only_groups=only_groups
    )
    return {
        "contacts": [presenters.contact(x) for x in found],
        "pagination": presenters.pagination(page),
    }


async def _import_contacts(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    count = await c.contacts.import_from_whatsapp(principal, instance_id)
    return {"success": True, "message": f"成功导入 {count} 个联系人", "importedCount": count}


async def _save_contact(
    instance_id: str, body: SaveContactBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.contact(await c.contacts.save(principal, instance_id, body.to_domain()))


for prefix, label in (("/api/instances", "instances"), ("/api/whatsapp", "whatsapp")):
    router.add_api_route(
        f"{prefix}/{{instance_id}}/contacts/db",
        _db_contacts,
        methods=["GET"],
        response_model=rm.ContactPage,
        name=f"db_contacts_{label}",
    )
    router.add_api_route(
        f"{prefix}/{{instance_id}}/contacts/import",
        _import_contacts,
        methods=["POST"],
        response_model=rm.ImportedContacts,
        name=f"import_contacts_{label}",
    )
    router.add_api_route(
        f"{prefix}/{{instance_id}}/contacts/save",
        _save_contact,
        methods=["POST"],
        response_model=rm.Contact,
        name=f"save_contact_{label}",
    )
