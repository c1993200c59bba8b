"""Assembles the schema, maps domain errors to GraphQL errors, and authenticates websockets."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import strawberry
from cross_web import HTTPException as CrossWebHTTPException
from fastapi import Request
from fastapi.responses import HTMLResponse
from graphql import GraphQLError
from starlette.exceptions import HTTPException as StarletteHTTPException
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET
from strawberry.utils.await_maybe import await_maybe

from api.browser import html_page, local_graphiql
from api.errors import status_of
from domain.errors import DomainError
from domain.times import iso, parse_iso
from graphql_schema.accounts import AccountMutation, AccountQuery
from graphql_schema.actions import ActionMutation
from graphql_schema.contacts import ContactMutation, ContactQuery
from graphql_schema.context import Context, get_context
from graphql_schema.database import DatabaseMutation, DatabaseQuery
from graphql_schema.engine import EngineMutation, EngineQuery
from graphql_schema.events import EVENT_TYPES
from graphql_schema.groups import GroupMutation, GroupQuery
from graphql_schema.instances import InstanceMutation, InstanceQuery
from graphql_schema.limiter import DocumentLimiter
from graphql_schema.messages import MessageMutation, MessageQuery
from graphql_schema.rich import ChatMarkMutation, RichMutation
from graphql_schema.stats import LONG_SCALAR, Long, StatsQuery
from graphql_schema.subscriptions import Subscription
from graphql_schema.webhooks import WebhookMutation, WebhookQuery

log = logging.getLogger(__name__)

DateTime = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 in UTC with milliseconds, e.g. 2023-01-01T12:00:00.000Z",
    serialize=iso,
    parse_value=lambda value: parse_iso(str(value), "DateTime"),
)


def graphql_error_extensions(error: BaseException | None) -> dict[str, Any] | None:
    # A scalar's error on a variable reaches us wrapped: GraphQLError -> GraphQLError -> ours.
    while isinstance(error, GraphQLError) and error.original_error is not None:
        error = error.original_error
    if isinstance(error, DomainError):
        # Details must not shadow the code and status (a Conflict's details carry the
        # instance's own "status", e.g. "connected").
        return {**error.details, "code": error.code, "status": status_of(error)}
    return None


# Root fields that act on one instance, like the REST endpoints under /api/instances/{id}
# and /api/whatsapp/{id}: each is reported to Usage.api_call, which decides what counts.
INSTANCE_FIELDS = frozenset(
    {
        "instance", "instanceStatus", "instanceQr", "instanceActivity", "instanceEvents",
        "updateInstance", "deleteInstance", "reconnectInstance", "logoutInstance",
        "chats", "messages", "sendText", "sendMedia", "sendFile", "markChatRead",
        "contacts", "whatsappContacts", "addContact", "importContacts", "saveContact",
        "webhookDeliveries", "retryWebhookDelivery", "testWebhook",
        "pairingCode", "checkNumbers",
        "markChatAsRead", "importWhatsappContacts", "addWhatsappContact",
        "requeueWebhookDelivery", "sendTestWebhook", "requestPairingCode",
    }
)  # fmt: skip


class CountInstanceCalls(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is None and info.field_name in INSTANCE_FIELDS:
            instance_id = kwargs.get("instanceId") or kwargs.get("instance_id") or kwargs.get("id")
            if instance_id:
                return self._counted(_next, root, info, str(instance_id), *args, **kwargs)
        return _next(root, info, *args, **kwargs)

    @staticmethod
    async def _counted(
        _next: Any, root: Any, info: Any, instance_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        context = info.context
        # The field's name in the use cases' words: updateInstance -> update_instance.
        operation = re.sub(r"([A-Z])", r"_\1", info.field_name).lower()
        await context.container.usage.api_call(await context.principal(), instance_id, operation)
        return await await_maybe(_next(root, info, *args, **kwargs))


class WamuxSchema(strawberry.Schema):
    """Gives each domain error its code and HTTP-like status, and hides unexpected ones.

    `process_errors` sees the errors of queries, mutations and subscriptions alike, before
    they are sent; only unexpected errors are logged (with their traceback).
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for err in errors:
            original = err.original_error
            extensions = graphql_error_extensions(original)
            if extensions is not None:
                err.extensions = extensions
            elif original is not None and not isinstance(original, GraphQLError):
                log.error("unexpected GraphQL error", exc_info=original)
                err.message = "Internal server error"
                err.extensions = {"code": "internal_error", "status": 500}


def _merged(name: str, types: tuple[type, ...], description: str) -> type:
    """`merge_types`, with a description (the per-feature classes are combined as one)."""
    return strawberry.type(type(name, types, {}), description=description)


Query = _merged(
    "Query",
    (
        AccountQuery,
        InstanceQuery,
        MessageQuery,
        ContactQuery,
        WebhookQuery,
        StatsQuery,
        EngineQuery,
        GroupQuery,
        DatabaseQuery,
    ),
    "Reads: start from `me`, `instances` or `instance(id)` and follow the graph; `node(id)` "
    "refetches an object by id.",
)
Mutation = _merged(
    "Mutation",
    (
        AccountMutation,
        InstanceMutation,
        ActionMutation,
        MessageMutation,
        ContactMutation,
        WebhookMutation,
        EngineMutation,
        RichMutation,
        ChatMarkMutation,
        GroupMutation,
        DatabaseMutation,
    ),
    "Changes. Those with input answer a payload with `userErrors` for input to correct; "
    "not-found, authorisation, conflicts and limits are GraphQL errors with "
    "`extensions { code status }`.",
)


schema = WamuxSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=EVENT_TYPES,
    extensions=[DocumentLimiter, CountInstanceCalls],
    config=StrawberryConfig(scalar_map={datetime: DateTime, Long: LONG_SCALAR}),
)


class AuthenticatedRouter(GraphQLRouter[Context, None]):
    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry answers a body it cannot read (not JSON, a wrong content type) in plain
        text; re-raised as Starlette's HTTPException, `api.errors` answers it in JSON."""
        try:
            return await super().run(request, context, root_value)
        except CrossWebHTTPException as exc:
            raise StarletteHTTPException(exc.status_code, exc.reason) from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return html_page(local_graphiql(self.graphql_ide_html, root), request)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:  # type: ignore[override]
        try:
            principal = await context.principal()
        except DomainError as exc:
            raise ConnectionRejectionError({"error": exc.code, "message": exc.message}) from None
        return {"userId": principal.user_id}


def graphql_router() -> GraphQLRouter[Context, None]:
    return AuthenticatedRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql",
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        # `sendFile` takes an Upload. Requests authenticate with headers, not cookies, so a
        # cross-site form post carries no credentials (the CSRF risk the docs warn about).
        multipart_uploads_enabled=True,
    )
