"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep
from rest_compat import responses as r

router = APIRouter(tags=["health"])


@router.get("/healthz", name="liveness", response_model=r.Liveness)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="readiness",
    response_model=r.Readiness,
    responses={503: {"model": r.Readiness, "description": "Storage unavailable"}},
)
async def readyz(c: ContainerDep) -> JSONResponse:
    try:
        await c.storage.ping()
    except Exception as exc:  # storage down is an answer here, not an error
        return JSONResponse(
            {
                "status": "unavailable",
                "storage": c.settings.database_provider,
                "error": type(exc).__name__,
            },
            503,
        )
    return JSONResponse({"status": "ready", "storage": c.settings.database_provider})
