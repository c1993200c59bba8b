"""Per-request (or per-websocket) context: the container, and the caller.

A request resolves its caller once. A websocket keeps the credential it opened with (from
`connection_init`, else the upgrade request's headers) and resolves it again for every
operation, through a `LiveSession`; a subscription it runs is ended, and the socket closed
with 4403, as soon as the caller loses the right to it (`close_revoked`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from api.bootstrap import Container
from api.deps import container_of, credential_from
from domain.entities import Principal
from domain.errors import DomainError
from domain.sessions import Credential, LiveSession
from graphql_schema.loaders import Loaders

# graphql-transport-ws has no message that ends one operation for lack of rights (`complete`
# reads as a normal end), so the socket is closed with the code it uses for a refused init.
REVOKED_CLOSE_CODE = 4403


def _param(params: dict[str, Any], *names: str) -> str | None:
    for name in names:
        for key, value in params.items():
            if key.lower() == name and isinstance(value, str):
                return value
    return None


class Context(BaseContext):
    def __init__(self, container: Container, conn: HTTPConnection) -> None:
        super().__init__()
        self.container = container
        self.conn = conn
        self._principal: Principal | None = None
        self._session: LiveSession | None = None
        self.loaders = Loaders(self)

    @property
    def is_websocket(self) -> bool:
        return isinstance(self.conn, WebSocket)

    def credential(self) -> Credential:
        params = self.connection_params if isinstance(self.connection_params, dict) else {}
        token = _param(params, "authorization")
        api_key = _param(params, "x-api-key", "apikey")
        bare = _param(params, "token")
        if bare and not token:
            token = f"Bearer {bare}"
        return credential_from(
            token or self.conn.headers.get("authorization"),
            api_key or self.conn.headers.get("x-api-key"),
        )

    def session(self) -> LiveSession:
        """The websocket's caller over time, from the credential it opened with."""
        if self._session is None:
            self._session = self.container.accounts.live_session(self.credential())
        return self._session

    async def principal(self) -> Principal:
        """The caller; raises Unauthorized. On a websocket: resolved again on every call."""
        if self.is_websocket:
            return await self.session().principal()
        if self._principal is None:
            self._principal = await self.container.accounts.authenticate(self.credential())
        return self._principal

    async def close_revoked(self, reason: DomainError) -> None:
        """Closes the websocket (4403) and waits to be cancelled: strawberry ends every
        operation of a closed socket, so nothing more is sent on it."""
        if not isinstance(self.conn, WebSocket):
            raise reason  # a subscription over HTTP just ends with the error
        if self.conn.application_state is not WebSocketState.DISCONNECTED:
            # A close reason is at most 123 bytes.
            text = reason.message.encode("utf-8")[:120].decode("utf-8", "ignore")
            with contextlib.suppress(RuntimeError, OSError):  # the client left meanwhile
                await self.conn.close(code=REVOKED_CLOSE_CODE, reason=text)
        await asyncio.Event().wait()


async def get_context(conn: HTTPConnection) -> Context:
    return Context(container_of(conn), conn)


Info = StrawberryInfo[Context, None]
