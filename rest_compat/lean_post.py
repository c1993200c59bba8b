"""The skeleton the lean POST paths share (`fast_send.py`, `fast_incoming.py`): an ASGI layer
beside one FastAPI route that answers the plain form of its JSON body itself, and hands
everything else to the route untouched.

A subclass names the route (`path`, `template`), says which bodies are plain (`parse`: the
values, or None to leave the request to the route) and answers one (`answer`, calling the
route's use cases in the route's order). The caller is resolved as `api.deps` does; domain
errors are answered by `api.errors.domain_response`, as the route's handler does; any other
exception goes on up to the app's outermost handler, as from the route. It sits inside
`RequestBodyLimits` (body caps, lone surrogates) and the header middlewares.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Generic, TypeVar

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import principal_from_credentials
from api.errors import domain_response
from domain.entities import Principal
from domain.errors import DomainError

Parsed = TypeVar("Parsed")


class MatchedRoute:
    """What the router would put in `scope["route"]`, as far as this app reads it: the
    template (request metrics count routes by template)."""

    def __init__(self, path: str) -> None:
        self.path = path


class LeanJsonPost(Generic[Parsed]):
    path: ClassVar[re.Pattern[str]]  # the route's path; group 1 is the instance id
    template: ClassVar[str]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.matched = MatchedRoute(self.template)

    @staticmethod
    def parse(body: bytes) -> Parsed | None:
        raise NotImplementedError

    async def answer(
        self, container: Any, principal: Principal, instance_id: str, parsed: Parsed
    ) -> Response:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = self.path.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if not _is_json(headers.get(b"content-type")):
            await self.app(scope, receive, send)
            return
        body, seen = await _read(receive)
        parsed = self.parse(body) if body is not None else None
        if parsed is None:
            await self.app(scope, _replay(seen, receive), send)
            return
        instance_id = match.group(1)
        # As the router would: metrics read the template, log lines the instance id.
        scope["route"] = self.matched
        scope["path_params"] = {"instance_id": instance_id}
        container = scope["app"].state.container
        try:
            principal = await principal_from_credentials(
                container, _text(headers.get(b"authorization")), _text(headers.get(b"x-api-key"))
            )
            response = await self.answer(container, principal, instance_id, parsed)
        except DomainError as exc:
            response = domain_response(exc)
        await response(scope, receive, send)


def _is_json(content_type: bytes | None) -> bool:
    """As FastAPI decides to parse a body as JSON: no content type, or a json subtype."""
    if content_type is None:
        return True
    subtype = content_type.split(b";", 1)[0].strip().lower().rpartition(b"/")[2]
    return subtype == b"json" or subtype.endswith(b"+json")


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
