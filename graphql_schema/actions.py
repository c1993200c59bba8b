"""Mutations that act without an input object, answering payloads: the changed object and
`userErrors` for arguments the caller can correct (then nothing changed).

They replace older names that answered a bare object or scalar (`sandboxScan`,
`markChatRead`, `pairingCode`, ...): those stay, deprecated, until a release has said so
(the schema change policy, `graphql_schema/sdl.py`). Not-found, authorisation, conflicts and
limits stay GraphQL errors with `extensions.code`, as everywhere in this API."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_schema.contacts import ContactPayload
from graphql_schema.context import Info
from graphql_schema.enums import ReceiptStatus
from graphql_schema.graph import Chat, Instance
from graphql_schema.instances import InstancePayload
from graphql_schema.messages import SimulatedMediaInput
from graphql_schema.payloads import UserError, attempt
from graphql_schema.types import Contact
from graphql_schema.webhooks import WebhookDelivery, WebhookTestResult, test_result

ERRORS = "Arguments to correct (nothing changed); else empty."


@strawberry.type(description="The answer of `markChatAsRead`.")
class MarkChatReadPayload:
    marked_read: int = strawberry.field(
        description="How many received messages were marked read (0 on userErrors)."
    )
    chat: Chat | None = strawberry.field(
        description="The chat as it is now; null on userErrors or when it has no message."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `importWhatsappContacts`.")
class ImportContactsPayload:
    imported: int = strawberry.field(
        description="How many contacts of the address book were saved (0 on userErrors)."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The delivery a mutation queued again, or why it did not.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, now pending; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `sendTestWebhook`.")
class WebhookTestPayload:
    result: WebhookTestResult | None = strawberry.field(
        description="How the test delivery went (a refused target is a result, not an "
        "error); null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `requestPairingCode`.")
class PairingCodePayload:
    code: str | None = strawberry.field(
        description="The code to type on the phone, XXXX-XXXX; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `rotateMyApiKey`.")
class ApiKeyPayload:
    api_key: str | None = strawberry.field(
        description="The new API key, shown once (the old one stops working); null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `simulateIncomingMessage`.")
class SimulatedMessagePayload:
    message_id: str | None = strawberry.field(
        description="WhatsApp's id of the message that arrived; null on userErrors."
    )
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The answer of `simulateReceipt`.")
class ReceiptPayload:
    success: bool = strawberry.field(description="Whether the receipt was delivered.")
    user_errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type
class ActionMutation:
    @strawberry.mutation(
        description="Sandbox only: pair the instance as if its QR code was scanned; "
        "`phone` and `pushName` are the account's (made up when omitted)."
    )
    async def scan_sandbox_qr(
        self, info: Info, id: strawberry.ID, phone: str | None = None, push_name: str | None = None
    ) -> InstancePayload:
        c, p = info.context.container, await info.context.principal()
        _, errors = await attempt(c.sandbox.scan(p, str(id), phone, push_name), None)
        if errors:
            return InstancePayload(instance=None, user_errors=errors)
        return InstancePayload(
            instance=Instance.from_entity(await c.instances.get(p, str(id))), user_errors=[]
        )

    @strawberry.mutation(
        description="Sandbox only: drop the connection, as WhatsApp would; `reason` "
        "'logout' unlinks the account, anything else reconnects."
    )
    async def drop_sandbox_connection(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> InstancePayload:
        c, p = info.context.container, await info.context.principal()
        _, errors = await attempt(c.sandbox.disconnect(p, str(id), reason), None)
        if errors:
            return InstancePayload(instance=None, user_errors=errors)
        return InstancePayload(
            instance=Instance.from_entity(await c.instances.get(p, str(id))), user_errors=[]
        )

    @strawberry.mutation(
        description="Mark a chat's received messages read (read receipts go to the sender) "
        "and clear its unread mark; `chatId` is a phone number or a JID."
    )
    async def mark_chat_as_read(
        self, info: Info, instance_id: strawberry.ID, chat_id: str
    ) -> MarkChatReadPayload:
        c, p = info.context.container, await info.context.principal()
        marked, errors = await attempt(c.messaging.mark_read(p, str(instance_id), chat_id), None)
        if errors or marked is None:
            return MarkChatReadPayload(marked_read=0, chat=None, user_errors=errors)
        instance = await c.instances.get(p, str(instance_id))
        [found] = await c.messaging.chats_by_id(p, [(instance, chat_id)])
        chat = Chat.from_entity(found, instance) if found is not None else None
        return MarkChatReadPayload(marked_read=marked, chat=chat, user_errors=[])

    @strawberry.mutation(
        description="Save every contact of the WhatsApp address book on the instance (an "
        "upsert: importing twice adds nothing). Needs a connected instance."
    )
    async def import_whatsapp_contacts(
        self, info: Info, instance_id: strawberry.ID
    ) -> ImportContactsPayload:
        c, p = info.context.container, await info.context.principal()
        count, errors = await attempt(c.contacts.import_from_whatsapp(p, str(instance_id)), None)
        return ImportContactsPayload(imported=count or 0, user_errors=errors)

    @strawberry.mutation(
        description="Add a contact to the WhatsApp account's address book and save it on the "
        "instance; `phone` in any usual format. Needs a connected instance."
    )
    async def add_whatsapp_contact(
        self, info: Info, instance_id: strawberry.ID, phone: str, name: str | None = None
    ) -> ContactPayload:
        c, p = info.context.container, await info.context.principal()
        saved, errors = await attempt(
            c.contacts.add_to_whatsapp(p, str(instance_id), phone, name), None
        )
        contact = Contact.from_entity(saved) if saved is not None else None
        return ContactPayload(contact=contact, user_errors=errors)

    @strawberry.mutation(
        description="Queue a webhook delivery again (a failed one gets a fresh set of attempts)."
    )
    async def requeue_webhook_delivery(
        self, info: Info, instance_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        c, p = info.context.container, await info.context.principal()
        found, errors = await attempt(c.webhooks.retry(p, str(instance_id), str(delivery_id)), None)
        delivery = WebhookDelivery.from_entity(found) if found is not None else None
        return WebhookDeliveryPayload(delivery=delivery, user_errors=errors)

    @strawberry.mutation(
        description="Send a `webhook_test` event to the instance's webhookUrl now and say how "
        "it went (it is also logged as a delivery)."
    )
    async def send_test_webhook(self, info: Info, instance_id: strawberry.ID) -> WebhookTestPayload:
        c, p = info.context.container, await info.context.principal()
        found, errors = await attempt(c.webhooks.test(p, str(instance_id)), None)
        result = test_result(*found) if found is not None else None
        return WebhookTestPayload(result=result, user_errors=errors)

    @strawberry.mutation(
        description="A pairing code (XXXX-XXXX) to type on the phone whose number is given "
        "(Linked devices > Link with phone number), for a phone that cannot scan the QR code. "
        "Only while the instance shows a QR code."
    )
    async def request_pairing_code(
        self, info: Info, instance_id: strawberry.ID, phone: str
    ) -> PairingCodePayload:
        c, p = info.context.container, await info.context.principal()
        code, errors = await attempt(c.pairing.pairing_code(p, str(instance_id), phone), None)
        return PairingCodePayload(code=code, user_errors=errors)

    @strawberry.mutation(description="Replace the caller's API key; the old one stops working.")
    async def rotate_my_api_key(self, info: Info) -> ApiKeyPayload:
        c, p = info.context.container, await info.context.principal()
        key, errors = await attempt(c.accounts.rotate_api_key(p), None)
        return ApiKeyPayload(api_key=key, user_errors=errors)

    @strawberry.mutation(
        description="Sandbox only: a message arrives from an outside number `from`, with a "
        "text `body` and/or `media`."
    )
    async def simulate_incoming_message(
        self,
        info: Info,
        instance_id: strawberry.ID,
        sender: Annotated[str, strawberry.argument(name="from")],
        body: str | None = None,
        push_name: str | None = None,
        media: SimulatedMediaInput | None = None,
    ) -> SimulatedMessagePayload:
        c, p = info.context.container, await info.context.principal()
        simulated = media.to_domain() if media is not None else None
        message_id, errors = await attempt(
            c.sandbox_traffic.incoming(p, str(instance_id), sender, body, push_name, simulated),
            None,
        )
        return SimulatedMessagePayload(message_id=message_id, user_errors=errors)

    @strawberry.mutation(
        description="Sandbox only: the recipient reports a sent message (WhatsApp's id) "
        "'delivered' or 'read'."
    )
    async def simulate_receipt(
        self, info: Info, instance_id: strawberry.ID, message_id: str, status: ReceiptStatus
    ) -> ReceiptPayload:
        c, p = info.context.container, await info.context.principal()
        _, errors = await attempt(
            c.sandbox_traffic.receipt(p, str(instance_id), message_id, status.value), None
        )
        return ReceiptPayload(success=not errors, user_errors=errors)
