"""A lean path for `POST /api/sandbox/{id}/incoming` (a message from outside the sandbox),
beside the FastAPI route, as `rest_compat/fast_send.py` is for sends.

Why: the webhook bench drives its intake through this route, and FastAPI's routing,
dependency solving, body model and response model cost about a quarter of the server's CPU
per incoming message. This ASGI layer answers a plain text message (a JSON object whose
`from` is a string, `body` and `pushName` strings or null, and no `media`) by calling what
the route calls, in its order: the caller (`api.deps`), then `SandboxMessaging.incoming`;
domain errors are answered by `api.errors.domain_response`, as the route's handler does.
The route counts no API call, and neither does this. Anything else (media, another method,
content type or body shape, a body that does not parse) goes to the FastAPI route untouched,
so every validation error keeps its exact body.
"""

from __future__ import annotations

import json
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import principal_from_credentials
from api.errors import domain_response
from domain.errors import DomainError
from rest_compat.fast_send import _headers, _is_json, _read, _replay, _text

_PATH = re.compile(r"/api/sandbox/([^/]+)/incoming")
# The body model's Python names (populate_by_name): left to the model, as is any media.
_LEFT_TO_THE_ROUTE = ("sender", "push_name", "media")


class _Matched:
    """What the router would put in `scope["route"]`, as far as this app reads it."""

    path = "/api/sandbox/{instance_id}/incoming"


MATCHED = _Matched()


def plain_incoming(body: bytes) -> tuple[str, str | None, str | None] | None:
    """(from, body, pushName) when the route's body model takes `body` as is, with no
    media; None for everything the route should judge itself."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or any(key in value for key in _LEFT_TO_THE_ROUTE):
        return None
    sender, text, name = value.get("from"), value.get("body"), value.get("pushName")
    if type(sender) is not str:
        return None
    if (text is not None and type(text) is not str) or (name is not None and type(name) is not str):
        return None
    return sender, text, name


class FastSandboxIncoming:
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
        parsed = plain_incoming(body) if body is not None else None
        if parsed is None:
            await self.app(scope, _replay(more, receive), send)
            return
        sender, text, push_name = parsed
        instance_id = match.group(1)
        # As the router would: metrics read the template, log lines the instance id.
        scope["route"] = MATCHED
        scope["path_params"] = {"instance_id": instance_id}
        container = scope["app"].state.container
        try:
            principal = await principal_from_credentials(
                container, _text(headers.get(b"authorization")), _text(headers.get(b"x-api-key"))
            )
            message_id = await container.sandbox_traffic.incoming(
                principal, instance_id, sender, text, push_name, None
            )
            response = JSONResponse({"success": True, "messageId": message_id})
        except DomainError as exc:
            response = domain_response(exc)
        # Any other exception goes on up to the app's outermost handler, as from the route.
        await response(scope, receive, send)
