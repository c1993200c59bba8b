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
from typing import Any

from starlette.responses import JSONResponse, Response

from domain.entities import Principal
from rest_compat.lean_post import LeanJsonPost

# The body model's Python names (populate_by_name): left to the model, as is any media.
_LEFT_TO_THE_ROUTE = ("sender", "push_name", "media")
Incoming = tuple[str, str | None, str | None]


def plain_incoming(body: bytes) -> Incoming | None:
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


class FastSandboxIncoming(LeanJsonPost[Incoming]):
    path = re.compile(r"/api/sandbox/([^/]+)/incoming")
    template = "/api/sandbox/{instance_id}/incoming"
    parse = staticmethod(plain_incoming)

    async def answer(
        self, container: Any, principal: Principal, instance_id: str, parsed: Incoming
    ) -> Response:
        sender, text, push_name = parsed
        message_id = await container.sandbox_traffic.incoming(
            principal, instance_id, sender, text, push_name, None
        )
        return JSONResponse({"success": True, "messageId": message_id})
