"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
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
