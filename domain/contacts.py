"""Use cases for contacts: the engine's address book, and the instance's saved contacts."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass

from domain import validation as v
from domain.entities import Contact, Instance, Page, Principal
from domain.errors import ValidationFailed
from domain.instances import Instances, require_connected, visible
from domain.phones import normalise_phone, to_jid
from domain.ports import (
    Clock,
    Connections,
    IdFactory,
    UnitOfWork,
    UnitOfWorkFactory,
    WhatsAppEngine,
)
from domain.wire import EngineContact


def sort_name(contact: Contact) -> str:
    """What contacts are listed by: the saved name, else the push name, else the number
    (storage's COALESCE(name, push_name, number): an empty string is a value)."""
    if contact.name is not None:
        return contact.name
    return contact.push_name if contact.push_name is not None else contact.number


@dataclass(frozen=True)
class ContactInput:
    number: str
    name: str | None = None
    push_name: str | None = None
    is_group: bool | None = None
    profile_picture: str | None = None
    about: str | None = None


class Contacts:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        instances: Instances,
        connections: Connections,
        clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._uow = uow
        self._instances = instances
        self._connections = connections
        self._clock = clock
        self._ids = ids

    async def _connected_engine(self, principal: Principal, instance_id: str) -> WhatsAppEngine:
        instance = await self._instances.get(principal, instance_id)
        require_connected(instance)
        return self._connections.engine(instance)

    async def for_chats(
        self, principal: Principal, keys: Sequence[tuple[Instance, str]]
    ) -> dict[tuple[str, str], Contact]:
        """The saved contacts of many (instance, remote JID) pairs, in one query."""
        visible(principal, [instance for instance, _ in keys])
        async with self._uow(read_only=True) as uow:
            return await uow.contacts.find([(i.id, jid) for i, jid in keys])

    async def from_whatsapp(
        self, principal: Principal, instance_id: str
    ) -> builtins.list[EngineContact]:
        engine = await self._connected_engine(principal, instance_id)
        return await engine.contacts(instance_id)

    async def add_to_whatsapp(
        self, principal: Principal, instance_id: str, phone: str, name: str | None
    ) -> Contact:
        jid = to_jid(phone)
        clean_name = v.text(name, "name", max_len=200) or None
        engine = await self._connected_engine(principal, instance_id)
        await engine.add_contact(instance_id, jid, clean_name)
        async with self._uow() as uow:
            contact = await self._merge(uow, instance_id, jid, name=clean_name)
            await uow.commit()
        return contact

    async def import_from_whatsapp(self, principal: Principal, instance_id: str) -> int:
        """Upserts every contact the engine knows; importing twice creates no duplicates."""
        found = await self.from_whatsapp(principal, instance_id)
        async with self._uow() as uow:
            for item in found:
                await self._merge(
                    uow,
                    instance_id,
                    item.jid,
                    name=item.name,
                    push_name=item.push_name,
                    is_group=item.is_group,
                    fill_only=True,
                )
            await uow.commit()
        return len(found)

    async def save(self, principal: Principal, instance_id: str, data: ContactInput) -> Contact:
        raw = (data.number or "").strip()
        if not raw:
            raise ValidationFailed("'number' is required", {"field": "number"})
        if data.is_group or raw.endswith("@g.us"):
            jid = raw if raw.endswith("@g.us") else f"{raw}@g.us"
            jid = to_jid(jid, "number")
            is_group = True
        else:
            jid = to_jid(raw if "@" in raw else normalise_phone(raw, "number"), "number")
            is_group = False
        picture = v.loose_url(data.profile_picture, "profilePicture")
        await self._instances.get(principal, instance_id)
        async with self._uow() as uow:
            contact = await self._merge(
                uow,
                instance_id,
                jid,
                name=v.text(data.name, "name", max_len=200),
                push_name=v.text(data.push_name, "pushName", max_len=200),
                is_group=is_group,
                profile_picture=picture,
                about=v.text(data.about, "about", max_len=1000),
            )
            await uow.commit()
        return contact

    async def list(
        self,
        principal: Principal,
        instance_id: str,
        *,
        limit: int | None = None,
        skip: int | None = None,
        search: str | None = None,
        only_groups: bool = False,
    ) -> tuple[builtins.list[Contact], Page]:
        lim, off = v.page(limit, skip, default=100, maximum=1000)
        term = v.text(search, "search", max_len=200) or None
        await self._instances.get(principal, instance_id)
        async with self._uow(read_only=True) as uow:
            found, total = await uow.contacts.list(
                instance_id, search=term, only_groups=only_groups, limit=lim, skip=off
            )
        return found, Page(total, lim, off)

    async def pages(
        self,
        principal: Principal,
        instances: Sequence[Instance],
        *,
        limit: int | None = None,
        after: tuple[str, str] | None = None,
        search: str | None = None,
        only_groups: bool = False,
    ) -> dict[str, builtins.list[Contact]]:
        """A keyset page of each instance's contacts in `list`'s order (by name), strictly
        after `after` (sort name, id): contacts saved meanwhile never shift a walk."""
        lim, _ = v.page(limit, 0, default=100, maximum=1000)
        term = v.text(search, "search", max_len=200) or None
        ids = [i.id for i in visible(principal, instances)]
        async with self._uow(read_only=True) as uow:
            return await uow.contacts.page(
                ids, search=term, only_groups=only_groups, after=after, limit=lim
            )

    async def _merge(
        self,
        uow: UnitOfWork,
        instance_id: str,
        jid: str,
        *,
        name: str | None = None,
        push_name: str | None = None,
        is_group: bool | None = None,
        profile_picture: str | None = None,
        about: str | None = None,
        fill_only: bool = False,
    ) -> Contact:
        now = self._clock.now()
        contact = await uow.contacts.get(instance_id, jid)
        if contact is None:
            contact = Contact(
                id=self._ids(),
                instance_id=instance_id,
                number=jid.split("@", 1)[0],
                remote_jid=jid,
                is_group=jid.endswith("@g.us"),
                created_at=now,
                updated_at=now,
            )
        # Only what was given changes; an import (fill_only) never replaces a name the
        # user saved, it only fills in what is missing.
        if fill_only and contact.name:
            name = None
        contact.name = name if name is not None else contact.name
        contact.push_name = push_name if push_name is not None else contact.push_name
        contact.is_group = is_group if is_group is not None else contact.is_group
        contact.profile_picture = (
            profile_picture if profile_picture is not None else contact.profile_picture
        )
        contact.about = about if about is not None else contact.about
        contact.updated_at = now
        await uow.contacts.upsert(contact)
        return contact
