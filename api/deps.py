"""Request dependencies: the container and the calling principal, for REST and GraphQL alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.bootstrap import Container
from domain.entities import Principal
from domain.errors import Unauthorized
from domain.sessions import Credential


def container_of(conn: HTTPConnection) -> Container:
    return conn.app.state.container  # type: ignore[no-any-return]


async def get_container(conn: HTTPConnection) -> Container:
    # async, so FastAPI does not send this one-liner to a worker thread on every request
    return container_of(conn)


def credential_from(authorization: str | None, api_key: str | None) -> Credential:
    """Bearer JWT first, then x-api-key; 401 when the Authorization header is malformed."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("The Authorization header must be 'Bearer <token>'")
        return Credential(token=token.strip())
    if api_key and api_key.strip():
        return Credential(api_key=api_key)
    return Credential()  # refused by Accounts.authenticate, with the message saying what to send


async def principal_from_credentials(
    container: Container, authorization: str | None, api_key: str | None
) -> Principal:
    return await container.accounts.authenticate(credential_from(authorization, api_key))


async def get_principal(conn: HTTPConnection) -> Principal:
    return await principal_from_credentials(
        container_of(conn), conn.headers.get("authorization"), conn.headers.get("x-api-key")
    )


def client_address(conn: HTTPConnection) -> str | None:
    """The caller's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return conn.client.host if conn.client else None


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def count_api_call(conn: HTTPConnection, principal: PrincipalDep) -> None:
    """Counts a call on an instance (its `apiCalls` usage and maxApiCalls limit)."""
    instance_id = conn.path_params.get("instance_id")
    if instance_id:
        # The route's name is the operation's (update_instance, send_text): the domain
        # decides which ones count.
        operation = getattr(conn.scope.get("route"), "name", "")
        await container_of(conn).usage.api_call(principal, instance_id, operation)


CountedCall = Depends(count_api_call)
