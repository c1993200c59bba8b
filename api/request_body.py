"""Caps every request body before it is read, and refuses JSON text that is not Unicode.

Pure ASGI (BaseHTTPMiddleware would wrap every response): a declared Content-Length over the
cap is refused before one byte of the body is read; a chunked or under-declared body is counted
as it streams and refused once it passes the cap, so nothing larger than the cap is ever held.
Two classes of route: uploads (a multipart body on a route that takes a file) may carry
MEDIA_MAX_BYTES plus room for the form's other fields; every other body is JSON-sized
(JSON_BODY_MAX_BYTES).

JSON bodies (small, by the cap) are read here whole and refused with a 400 when they hold a
lone UTF-16 surrogate (`"\\ud800"`): Python's json decodes one, but it can be neither stored
nor sent back as UTF-8, so every use case that met one answered 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from re import Pattern

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from domain.validation import holds_lone_surrogate

# Room for a multipart form's boundaries, headers and small fields (phone, caption) beside
# the file itself.
FORM_OVERHEAD_BYTES = 1024 * 1024
# Where a decoded body may hold a surrogate: a JSON escape \uD800-\uDFFF, the same code point
# in (invalid) UTF-8 (json.loads decodes bytes with "surrogatepass"), or UTF-16/32 text (NULs).
# Plain substring searches (memchr-fast) find the candidates; the full check runs only then.
_CANDIDATES = (b"\\ud", b"\\uD", b"\xed", b"\x00")


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the cap. An HTTPException, so FastAPI
    and Strawberry let it through their body parsing and `api.errors` answers it as JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than {limit} bytes, the limit of this endpoint",
            headers={"Connection": "close"},
        )


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides to parse a body as JSON: no content type, or a json subtype."""
    if not content_type:
        return True
    subtype = content_type.split(";", 1)[0].strip().lower().rpartition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def _holds_lone_surrogate(body: bytes) -> bool:
    if not any(candidate in body for candidate in _CANDIDATES):
        return False  # the common case: no second parse
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON: the route itself answers 400
    return holds_lone_surrogate(value)


class RequestBodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        json_max_bytes: int,
        upload_max_bytes: int,
        upload_paths: Iterable[Pattern[str]],
    ) -> None:
        self.app = app
        self.json_max = json_max_bytes
        self.upload_max = upload_max_bytes + FORM_OVERHEAD_BYTES
        self.upload_paths = tuple(upload_paths)

    def _limit(self, scope: Scope, headers: Headers) -> int:
        content_type = headers.get("content-type", "").lower()
        if content_type.startswith("multipart/form-data") and any(
            p.match(scope["path"]) for p in self.upload_paths
        ):
            return self.upload_max
        return self.json_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self._limit(scope, headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(scope, receive, send, BodyTooLarge(limit))
            return
        if _is_json(headers.get("content-type")):
            await self._json(scope, receive, send, limit)
        else:
            await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody left to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(scope, receive, send, BodyTooLarge(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _holds_lone_surrogate(body):
            await _answer(scope, receive, send, _LONE_SURROGATE)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # waits for the disconnect, as the server's would

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge as exc:
            # Normally answered inside (an HTTPException); this catches a reader that is not
            # FastAPI's or Strawberry's.
            if started:
                raise
            await _answer(scope, receive, send, exc)


_LONE_SURROGATE = HTTPException(
    400,
    "The JSON body holds a lone UTF-16 surrogate (such as \\ud800): text must be valid Unicode",
)


async def _answer(scope: Scope, receive: Receive, send: Send, exc: HTTPException) -> None:
    code = "payload_too_large" if exc.status_code == 413 else "validation_error"
    response = JSONResponse(error_body(code, exc.detail), exc.status_code, exc.headers)
    await response(scope, receive, send)
