"""The admin view of the engine's worker processes (the neonize engine's clients run there)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.deps import ContainerDep, PrincipalDep
from domain.times import iso
from domain.wire import WorkerInfo

router = APIRouter(prefix="/api/engine", tags=["engine"])


class EngineWorker(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    id: str
    pid: int | None = Field(description="null while the process is being (re)started")
    status: str = Field(description="starting, running, restarting or stopped")
    instances: list[str] = Field(description="ids of the instances this worker hosts")
    rss_bytes: int | None = Field(description="resident memory of the process")
    restarts: int = Field(description="how often this worker was replaced after dying")
    started_at: str | None = Field(description="when the current process started (ISO 8601)")

    @classmethod
    def from_domain(cls, worker: WorkerInfo) -> EngineWorker:
        return cls(
            id=worker.id,
            pid=worker.pid,
            status=worker.status,
            instances=list(worker.instances),
            rss_bytes=worker.rss_bytes,
            restarts=worker.restarts,
            started_at=iso(worker.started_at),
        )


class EngineWorkers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workers: list[EngineWorker]


@router.get("/workers", response_model=EngineWorkers)
async def engine_workers(principal: PrincipalDep, c: ContainerDep) -> EngineWorkers:
    """Admin only. Empty when no instance runs on the neonize engine's workers."""
    found = await c.engine_workers.list(principal)
    return EngineWorkers(workers=[EngineWorker.from_domain(w) for w in found])
