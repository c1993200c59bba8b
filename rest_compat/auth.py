"""The spec's "认证" section: login and the current user; plus API key rotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

from api.deps import ContainerDep, PrincipalDep, client_address
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat.schemas import LoginBody

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=r.errors(400, 401))


@router.post(
    "/login",
    response_model=r.Login,
    responses={429: {"model": r.ErrorBody, "description": "Too many failed logins (Retry-After)"}},
)
async def login(body: LoginBody, c: ContainerDep, conn: HTTPConnection) -> dict[str, Any]:
    result = await c.accounts.login(body.email, body.password, client_address(conn))
    return {"token": result.token, "user": {**presenters.me(result.user), "apiKey": result.api_key}}


@router.get("/me", response_model=r.Me)
async def me(principal: PrincipalDep) -> dict[str, Any]:
    return presenters.me(principal.user)


@router.post("/api-key/rotate", response_model=r.RotatedApiKey)
async def rotate_api_key(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return {"apiKey": await c.accounts.rotate_api_key(principal)}
