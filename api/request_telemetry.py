"""The outermost middleware: a request id for every request (echoed as `X-Request-Id`, set
for every log line of the request) and the request's count and latency in /metrics.

Pure ASGI and cheap (a few microseconds; README "Operations" has the wrk figures): no
Request object, the route template read from the scope FastAPI's router fills in."""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.metrics.prometheus import Metrics
from api.logs import RequestContext, current_request

HEADER = b"x-request-id"
# A caller's own id is kept when it is a plain token (a proxy's, a client's trace id).
_GIVEN = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


# Made ids: this process's random prefix and a counter (no system call per request),
# unique across restarts and servers as long as the prefix is.
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == HEADER and _GIVEN.match(value):
            return bytes(value)
    return f"{_PREFIX}-{next(_COUNTER):x}".encode("ascii")


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/instances/{instance_id}`): bounded cardinality."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestTelemetry:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        context = RequestContext(rid.decode("ascii"), scope)
        token = current_request.set(context)
        status = 500  # an app that raised before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.done = True
            context.scope = {}  # not kept alive by the tasks that hold the context
            current_request.reset(token)
            if self.metrics is not None and scope["type"] == "http":
                self.metrics.observe_request(
                    scope["method"], route_of(scope), status, time.perf_counter() - started
                )
