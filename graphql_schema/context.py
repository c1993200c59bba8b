"""Per-request (or per-websocket) context: the container, and the caller resolved lazily."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from api.bootstrap import Container
from api.deps import container_of, principal_from_credentials
from domain.entities import Principal


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

    async def principal(self) -> Principal:
        """The caller; raises Unauthorized. Websockets authenticate from connection_init."""
        if self._principal is None:
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            token = _param(params, "authorization")
            api_key = _param(params, "x-api-key", "apikey")
            bare = _param(params, "token")
            if bare and not token:
                token = f"Bearer {bare}"
            self._principal = await principal_from_credentials(
                self.container,
                token or self.conn.headers.get("authorization"),
                api_key or self.conn.headers.get("x-api-key"),
            )
        return self._principal


async def get_context(conn: HTTPConnection) -> Context:
    return Context(container_of(conn), conn)


Info = StrawberryInfo[Context, None]
