"""Contacts: the WhatsApp address book, and the contacts saved on an instance."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.contacts import ContactInput as ContactData
from graphql_schema.context import Info
from graphql_schema.payloads import UserError, attempt
from graphql_schema.types import Contact, ContactPage, EngineContact, Pagination


@strawberry.input(
    description="A contact to save, keyed by its number; an omitted or null field keeps the "
    "saved value."
)
class ContactInput:
    number: str = strawberry.field(description="A phone number, a JID, or a group id.")
    name: str | None = strawberry.field(default=None, description="Its name (up to 200).")
    push_name: str | None = strawberry.field(
        default=None, description="Its WhatsApp display name (up to 200)."
    )
    is_group: bool | None = strawberry.field(
        default=None, description="True: `number` is a group id (also when it ends @g.us)."
    )
    profile_picture: str | None = strawberry.field(
        default=None, description="A URL of its profile picture."
    )
    about: str | None = strawberry.field(default=None, description="Its 'about' text (up to 1000).")

    def to_domain(self) -> ContactData:
        return ContactData(
            self.number, self.name, self.push_name, self.is_group, self.profile_picture, self.about
        )


@strawberry.type
class ContactQuery:
    @strawberry.field(
        description="Contacts saved on the instance.",
        deprecation_reason="Use Instance.contacts (a cursor connection).",
    )
    async def contacts(
        self,
        info: Info,
        instance_id: strawberry.ID,
        limit: int | None = None,
        skip: int | None = None,
        search: Annotated[
            str | None, strawberry.argument(description="Part of a name or number.")
        ] = None,
        only_groups: bool = False,
    ) -> ContactPage:
        c = info.context.container
        found, page = await c.contacts.list(
            await info.context.principal(),
            str(instance_id),
            limit=limit,
            skip=skip,
            search=search,
            only_groups=only_groups,
        )
        return ContactPage(
            contacts=[Contact.from_entity(x) for x in found],
            pagination=Pagination.from_page(page),
        )

    @strawberry.field(description="The connected WhatsApp account's address book.")
    async def whatsapp_contacts(
        self, info: Info, instance_id: strawberry.ID
    ) -> list[EngineContact]:
        c = info.context.container
        found = await c.contacts.from_whatsapp(await info.context.principal(), str(instance_id))
        return [EngineContact.from_entity(x) for x in found]


@strawberry.type(description="The contact a mutation saved, or why it did not.")
class ContactPayload:
    contact: Contact | None = strawberry.field(description="Null when `userErrors` is not.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type
class ContactMutation:
    @strawberry.mutation(
        description="Add a contact to the WhatsApp account and save it.",
        deprecation_reason="Use addWhatsappContact (a payload with userErrors).",
    )
    async def add_contact(
        self, info: Info, instance_id: strawberry.ID, phone: str, name: str | None = None
    ) -> Contact:
        c = info.context.container
        contact = await c.contacts.add_to_whatsapp(
            await info.context.principal(), str(instance_id), phone, name
        )
        return Contact.from_entity(contact)

    @strawberry.mutation(
        description="Save every contact of the WhatsApp address book on the instance "
        "(an upsert: importing twice adds nothing); returns how many were imported.",
        deprecation_reason="Use importWhatsappContacts (a payload with userErrors).",
    )
    async def import_contacts(self, info: Info, instance_id: strawberry.ID) -> int:
        c = info.context.container
        return await c.contacts.import_from_whatsapp(
            await info.context.principal(), str(instance_id)
        )

    @strawberry.mutation(description="Create or update a saved contact, keyed by its number.")
    async def save_contact(
        self, info: Info, instance_id: strawberry.ID, input: ContactInput
    ) -> ContactPayload:
        c = info.context.container
        principal = await info.context.principal()

        async def save() -> Contact:
            saved = await c.contacts.save(principal, str(instance_id), input.to_domain())
            return Contact.from_entity(saved)

        contact, errors = await attempt(save())
        return ContactPayload(contact=contact, user_errors=errors)
