"""A lean path for the three hot reads, beside their FastAPI routes: a chat's history page, the
conversation list and an instance's statistics (`GET /api/instances/{id}/chats/{chat}/messages`,
`GET /api/instances/{id}/chats`, `GET /api/stats/instances/{id}`).

Why: on these routes FastAPI's routing and dependency solving cost about as much CPU as the
read itself (see rest_compat/fast_send.py, the same idea for the send route). This layer
answers a plain request by calling what the route calls, in the route's order: the caller
(`api.deps`), the API-call count under the route's own name where the route counts one
(`Usage.api_call`), then the use case; the body comes from the route's own presenters, domain
errors from `api.errors.domain_response`. Everything unusual is handed to the route untouched,
so it keeps the exact answer it had: another method, a request that carries a body, a query
parameter given twice, or a number the route's parsing would judge (anything but plain
digits).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.bootstrap import Container
from api.deps import principal_from_credentials
from api.errors import domain_response
from domain.entities import Principal
from domain.errors import DomainError
from rest_compat import chats as chat_routes
from rest_compat import stats as stat_routes
from rest_compat.responses import serialized

Query = dict[str, str]
Read = Callable[[Container, Principal, list[str], Query], Awaitable[dict[str, Any]]]

# A number as the route's int parameters take it, and nothing they might judge otherwise.
_NUMBER = re.compile(r"0|[1-9][0-9]{0,8}")


async def _history(c: Container, principal: Principal, ids: list[str], q: Query) -> dict[str, Any]:
    return await chat_routes.history_body(
        c, principal, ids[0], ids[1], _int(q, "limit"), _int(q, "skip"), q.get("startDate"),
        q.get("endDate"),
    )  # fmt: skip


async def _chats(c: Container, principal: Principal, ids: list[str], q: Query) -> dict[str, Any]:
    return await chat_routes.chats_body(c, principal, ids[0], _int(q, "limit"), _int(q, "skip"))


async def _stats(c: Container, principal: Principal, ids: list[str], q: Query) -> dict[str, Any]:
    return await stat_routes.instance_stats_body(c, principal, ids[0], q.get("period"))


class _Route:
    def __init__(
        self,
        pattern: str,
        read: Read,
        counted_as: str | None,
        numbers: tuple[str, ...],
        *names: str,
    ) -> None:
        self.pattern = re.compile(pattern)
        self.read = read
        self.counted_as = counted_as  # the route's name, when its router counts API calls
        self.numbers = numbers
        self.names = (*numbers, *names)

    def query(self, raw: bytes) -> Query | None:
        """The parameters the route reads, as it reads them (Starlette's own parse_qsl), or
        None when the route should judge them itself."""
        found: Query = {}
        for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if name not in self.names:
                continue  # ignored by the route too
            if name in found or (name in self.numbers and not _NUMBER.fullmatch(value)):
                return None
            found[name] = value
        return found


# The routes' own names are what their API calls are counted under (api.deps.count_api_call).
ROUTES = (
    _Route(
        r"/api/instances/([^/]+)/chats/([^/]+)/messages",
        _history,
        chat_routes.chat_messages.__name__,
        ("limit", "skip"),
        "startDate",
        "endDate",
    ),
    _Route(
        r"/api/instances/([^/]+)/chats", _chats, chat_routes.list_chats.__name__, ("limit", "skip")
    ),
    _Route(r"/api/stats/instances/([^/]+)", _stats, None, (), "period"),
)


def _int(q: Query, name: str) -> int | None:
    value = q.get(name)
    return int(value) if value is not None else None


class FastReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        for route in ROUTES:
            match = route.pattern.fullmatch(path)
            if match is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        query = route.query(scope["query_string"])
        if query is None or _has_body(headers):
            await self.app(scope, receive, send)
            return
        ids = list(match.groups())
        container = scope["app"].state.container
        try:
            principal = await principal_from_credentials(
                container, _text(headers.get(b"authorization")), _text(headers.get(b"x-api-key"))
            )
            if route.counted_as is not None:
                await container.usage.api_call(principal, ids[0], route.counted_as)
            response = serialized(await route.read(container, principal, ids, query))
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


def _has_body(headers: dict[bytes, bytes]) -> bool:
    """A GET that carries a body: the body limits (api.request_body) judge it on the route."""
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
