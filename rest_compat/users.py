"""User management (admin only): the spec names it; DESIGN.md fixes the endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import ContainerDep, PrincipalDep
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat.schemas import NewUserBody, UserChangesBody

router = APIRouter(prefix="/api/users", tags=["users"], responses=r.errors(400, 401, 403, 404, 409))


@router.post("", status_code=201, response_model=r.CreatedUser)
async def create_user(body: NewUserBody, principal: PrincipalDep, c: ContainerDep) -> JSONResponse:
    user, api_key = await c.accounts.create_user(principal, body.to_domain())
    return JSONResponse({**presenters.user(user), "apiKey": api_key}, 201)


@router.get("", response_model=r.UserPage)
async def list_users(
    principal: PrincipalDep,
    c: ContainerDep,
    limit: int | None = Query(None),
    skip: int | None = Query(None),
) -> dict[str, Any]:
    users, page = await c.accounts.list_users(principal, limit, skip)
    return {"users": [presenters.user(u) for u in users], "pagination": presenters.pagination(page)}


@router.get("/{user_id}", response_model=r.User)
async def get_user(user_id: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return presenters.user(await c.accounts.get_user(principal, user_id))


@router.put("/{user_id}", response_model=r.User)
async def update_user(
    user_id: str, body: UserChangesBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.user(await c.accounts.update_user(principal, user_id, body.to_domain()))


@router.post("/{user_id}/api-key/rotate", response_model=r.RotatedApiKey)
async def rotate_user_api_key(
    user_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    _, api_key = await c.accounts.rotate_user_api_key(principal, user_id)
    return {"apiKey": api_key}


@router.delete("/{user_id}", response_model=r.SuccessMessage)
async def delete_user(user_id: str, principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    await c.accounts.delete_user(principal, user_id)
    return {"success": True, "message": f"User {user_id} deleted successfully"}
