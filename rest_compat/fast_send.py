"""A lean path for the hottest route, `POST /api/whatsapp/{id}/send`, beside the FastAPI one.

Why: FastAPI's dependency solving, body model and response model cost about as much CPU as
the send itself. This ASGI layer answers a plain, well-formed send (a JSON object whose
`phone` and `message` are strings, `quotedMessageId` a string or null) by calling the very
use cases the route calls, in the route's order: the caller (`api.deps`), the API-call
count (`Usage.api_call`, under the route's own name), then `Messaging.send_text`; domain
errors are answered by `api.errors.domain_response`, as the route's handler does. Anything
else (another method, content type or body shape; a body that does not parse) is handed to
the FastAPI route untouched, so every validation error keeps the exact body it had. The
skeleton is `rest_compat/lean_post.py`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import JSONResponse, Response

from domain.entities import Principal
from rest_compat.lean_post import LeanJsonPost
from rest_compat.messaging import send_text as send_text_route

# The name the route counts its API calls under (`api.deps.count_api_call`).
OPERATION = send_text_route.__name__
SendText = tuple[str, str, str | None]


def plain_send(body: bytes) -> SendText | None:
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


class FastSendText(LeanJsonPost[SendText]):
    path = re.compile(r"/api/whatsapp/([^/]+)/send")
    template = "/api/whatsapp/{instance_id}/send"
    parse = staticmethod(plain_send)

    async def answer(
        self, container: Any, principal: Principal, instance_id: str, parsed: SendText
    ) -> Response:
        phone, text, quoted = parsed
        await container.usage.api_call(principal, instance_id, OPERATION)
        sent = await container.messaging.send_text(principal, instance_id, phone, text, quoted)
        return JSONResponse({"id": sent.message_id})
