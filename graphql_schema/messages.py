"""Messaging: sending text, media and files, chats, history, read marks, sandbox traffic."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from domain.entities import Message as MessageEntity
from domain.errors import ValidationFailed
from domain.sandbox import SimulatedMedia
from graphql_schema.context import Info
from graphql_schema.enums import ReceiptStatus
from graphql_schema.graph import Chat, ChatPage, Message, MessagePage
from graphql_schema.payloads import UserError, attempt
from graphql_schema.types import Pagination


@strawberry.input(description="Media of a simulated incoming message: `base64` or `url`.")
class SimulatedMediaInput:
    base64: str | None = strawberry.field(
        default=None, description="The file's bytes, base64-encoded (or give `url`)."
    )
    url: str | None = strawberry.field(
        default=None, description="Where to fetch the file (the same checks as sendMedia)."
    )
    mime_type: str | None = strawberry.field(
        default=None, description="Its MIME type; guessed from the file name when omitted."
    )
    file_name: str | None = strawberry.field(default=None, description="Its file name.")

    def to_domain(self) -> SimulatedMedia:
        return SimulatedMedia(self.mime_type, self.file_name, self.base64, self.url)


def uploaded_file(file: object) -> UploadFile:
    """The file part of a GraphQL multipart request, or a clear 400."""
    if not isinstance(file, UploadFile):
        raise ValidationFailed(
            "'file' must be a file part of a multipart request "
            "(GraphQL multipart request spec: operations, map, file)",
            {"field": "file"},
        )
    return file


@strawberry.type
class MessageQuery:
    @strawberry.field(
        description="Conversations of an instance, the most recent first.",
        deprecation_reason="Use Instance.chats (a cursor connection).",
    )
    async def chats(
        self,
        info: Info,
        instance_id: strawberry.ID,
        limit: int | None = None,
        skip: int | None = None,
    ) -> ChatPage:
        c = info.context.container
        found, page = await c.messaging.chats(
            await info.context.principal(), str(instance_id), limit=limit, skip=skip
        )
        return ChatPage(
            chats=[Chat.from_entity(x) for x in found], pagination=Pagination.from_page(page)
        )

    @strawberry.field(
        description="Messages of one chat (a phone number or a JID).",
        deprecation_reason="Use Instance.messages or Chat.messages (keyset cursors).",
    )
    async def messages(
        self,
        info: Info,
        instance_id: strawberry.ID,
        chat_id: str,
        limit: int | None = None,
        skip: int | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> MessagePage:
        c = info.context.container
        found, page = await c.messaging.history(
            await info.context.principal(),
            str(instance_id),
            chat_id,
            limit=limit,
            skip=skip,
            start=start_date,
            end=end_date,
        )
        return MessagePage(
            messages=[Message.from_entity(m) for m in found],
            pagination=Pagination.from_page(page),
        )


@strawberry.type(description="The message a mutation sent, or why it did not.")
class MessagePayload:
    message: Message | None = strawberry.field(description="Null when `userErrors` is not.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


async def _sent(action: Awaitable[MessageEntity]) -> MessagePayload:
    async def build() -> Message:
        return Message.from_entity(await action)

    message, errors = await attempt(build(), root=None)
    return MessagePayload(message=message, user_errors=errors)


@strawberry.type
class MessageMutation:
    @strawberry.mutation(description="Send a text message to a phone number or JID.")
    async def send_text(
        self,
        info: Info,
        instance_id: strawberry.ID,
        phone: str,
        message: str,
        quoted_message_id: str | None = None,
    ) -> MessagePayload:
        c = info.context.container
        principal = await info.context.principal()
        return await _sent(
            c.messaging.send_text(principal, str(instance_id), phone, message, quoted_message_id)
        )

    @strawberry.mutation(description="Fetch a file from a URL and send it.")
    async def send_media(
        self,
        info: Info,
        instance_id: strawberry.ID,
        phone: str,
        url: str,
        caption: str | None = None,
        filename: str | None = None,
        quoted_message_id: str | None = None,
    ) -> MessagePayload:
        c = info.context.container
        principal = await info.context.principal()
        return await _sent(
            c.messaging.send_media_url(
                principal, str(instance_id), phone, url, caption, filename, quoted_message_id
            )
        )

    @strawberry.mutation(description="Send an uploaded file (GraphQL multipart request).")
    async def send_file(
        self,
        info: Info,
        instance_id: strawberry.ID,
        phone: str,
        file: Upload,
        caption: str | None = None,
        quoted_message_id: str | None = None,
    ) -> MessagePayload:
        c = info.context.container
        principal = await info.context.principal()  # before reading a stranger's upload

        async def send() -> MessageEntity:
            part = uploaded_file(file)
            upload = await c.messaging.read_upload(
                part.read, part.size, part.filename, part.content_type
            )
            return await c.messaging.send_file(
                principal, str(instance_id), phone, upload, caption, quoted_message_id
            )

        return await _sent(send())

    @strawberry.mutation(
        description="Mark a chat's received messages read (sends read receipts); "
        "returns how many were marked.",
        deprecation_reason="Use markChatAsRead (a payload with userErrors).",
    )
    async def mark_chat_read(self, info: Info, instance_id: strawberry.ID, chat_id: str) -> int:
        c = info.context.container
        principal = await info.context.principal()
        return await c.messaging.mark_read(principal, str(instance_id), chat_id)

    @strawberry.mutation(
        description="Sandbox only: a message arrives from an outside contact; "
        "returns its message id.",
        deprecation_reason="Use simulateIncomingMessage (a payload with userErrors).",
    )
    async def sandbox_incoming(
        self,
        info: Info,
        instance_id: strawberry.ID,
        sender: Annotated[str, strawberry.argument(name="from")],
        body: str | None = None,
        push_name: str | None = None,
        media: SimulatedMediaInput | None = None,
    ) -> str:
        c = info.context.container
        return await c.sandbox_traffic.incoming(
            await info.context.principal(),
            str(instance_id),
            sender,
            body,
            push_name,
            media.to_domain() if media is not None else None,
        )

    @strawberry.mutation(
        description="Sandbox only: the recipient reports a sent message 'delivered' or 'read'.",
        deprecation_reason="Use simulateReceipt (a payload with userErrors).",
    )
    async def sandbox_receipt(
        self, info: Info, instance_id: strawberry.ID, message_id: str, status: ReceiptStatus
    ) -> bool:
        c = info.context.container
        await c.sandbox_traffic.receipt(
            await info.context.principal(), str(instance_id), message_id, status.value
        )
        return True
