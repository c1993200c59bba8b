"""A lean path for the hottest route, `POST /api/whatsapp/{id}/send`, beside the FastAPI one.

Why: FastAPI's dependency solving, body model and response model cost about as much CPU as
the send itself. This ASGI layer answers a plain, well-formed send (a JSON object whose
`phone` and `message` are strings, `quotedMessageId` a string or null) by calling the very
use cases the route calls, in the route's order: the caller (`api.deps`), the API-call
count (`Usage.api_call`, under the route's own name), then `Messaging.send_text`; domain
errors are answered by `api.errors.domain_response`, as the route's handler does. Anything
else (another method, content type or body shape; a body that does not parse) is handed to
the FastAPI route untouched, so every validation error keeps the exact body it had. It sits
inside `RequestBodyLimits` (body caps, lone surrogates) and the header middlewares.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import principal_from_credentials
from api.errors import domain_response
from domain.errors import DomainError
from rest_compat.messaging import send_text as send_text_route

_PATH = re.compile(r"/api/whatsapp/([^/]+)/send")


class _Matched:
    """What the router would put in `scope["route"]`, as far as this app reads it: the
    template (request metrics count routes by template)."""

    path = "/api/whatsapp/{instance_id}/send"


MATCHED = _Matched()
# The name the route counts its API calls under (`api.deps.count_api_call`).
OPERATION = send_text_route.__name__


def _is_json(content_type: bytes | None) -> bool:
    """As FastAPI decides to parse a body as JSON: no content type, or a json subtype."""
    if content_type is None:
        return True
    subtype = content_type.split(b";", 1)[0].strip().lower().rpartition(b"/")[2]
    return subtype == b"json" or subtype.endswith(b"+json")


def plain_send(body: bytes) -> tuple[str, str, str | None] | None:
    """(phone, message, quotedMessageId) when the route's body model takes `body` as is;
    None for everything the route should judge itself."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    # Other keys are ignored by the body model too; its Python name for quotedMessageId
    # (populate_by_name) is left to it.
    if not isinstance(value, dict) or "quoted_message_id" in value:
        return None
    phone, message = value.get("phone"), value.get("message")
    quoted = value.get("quotedMessageId")
    if type(phone) is not str or type(message) is not str:
        return None
    if quoted is not None and type(quoted) is not str:
        return None
    return phone, message, quoted


class FastSendText:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if not _is_json(headers.get(b"content-type")):
            await self.app(scope, receive, send)
            return
        body, more = await _read(receive)
        parsed = plain_send(body) if body is not None else None
        if parsed is None:
            await self.app(scope, _replay(more, receive), send)
            return
        phone, text, quoted = parsed
        instance_id = match.group(1)
        # As the router would: metrics read the template, log lines the instance id.
        scope["route"] = MATCHED
        scope["path_params"] = {"instance_id": instance_id}
        container = scope["app"].state.container
        try:
            principal = await principal_from_credentials(
                container, _text(headers.get(b"authorization")), _text(headers.get(b"x-api-key"))
            )
            await container.usage.api_call(principal, instance_id, OPERATION)
            sent = await container.messaging.send_text(principal, instance_id, phone, text, quoted)
            response = JSONResponse({"id": sent.message_id})
        except DomainError as exc:
            response = domain_response(exc)
        # Any other exception goes on up to the app's outermost handler, as from the route.
        await response(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # The first value of each, as Starlette's Headers.get answers.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.lower(), value)
    return found


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _read(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body (RequestBodyLimits hands it over in one message); None on a
    disconnect, with the messages read so far for the route to replay."""
    seen: list[Message] = []
    while True:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request":
            return None, seen
        if not message.get("more_body", False):
            break
    return b"".join(m.get("body", b"") for m in seen), seen


def _replay(seen: list[Message], receive: Receive) -> Receive:
    pending = list(seen)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
