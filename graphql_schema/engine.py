"""GraphQL twins of the engine features: pairing code, number check, the worker view."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import wire
from graphql_schema.context import Info
from graphql_schema.stats import Long


@strawberry.type(description="Whether a phone number has WhatsApp.")
class NumberCheck:
    phone: str = strawberry.field(description="The number as checked: digits only.")
    jid: str | None = strawberry.field(description="Where to reach it; null without WhatsApp.")
    exists: bool = strawberry.field(description="Whether the number has a WhatsApp account.")

    @classmethod
    def from_domain(cls, check: wire.NumberCheck) -> NumberCheck:
        return cls(phone=check.phone, jid=check.jid, exists=check.exists)


@strawberry.type(description="One engine worker process (the neonize engine's clients run there).")
class EngineWorker:
    id: strawberry.ID = strawberry.field(description="The worker's id (stable across restarts).")
    pid: int | None = strawberry.field(description="null while the process is (re)starting.")
    status: str = strawberry.field(description="starting, running, restarting or stopped.")
    instances: list[strawberry.ID] = strawberry.field(description="The instances it hosts.")
    rss_bytes: Long | None = strawberry.field(description="Resident memory of the process.")
    restarts: int = strawberry.field(description="How often it was replaced after dying.")
    started_at: datetime | None = strawberry.field(
        description="When the current process started; null while none runs."
    )

    @classmethod
    def from_domain(cls, worker: wire.WorkerInfo) -> EngineWorker:
        return cls(
            id=strawberry.ID(worker.id),
            pid=worker.pid,
            status=worker.status,
            instances=[strawberry.ID(i) for i in worker.instances],
            rss_bytes=Long(worker.rss_bytes) if worker.rss_bytes is not None else None,
            restarts=worker.restarts,
            started_at=worker.started_at,
        )


@strawberry.type
class EngineQuery:
    @strawberry.field(
        description="Which numbers have WhatsApp (1 to 50, international format), asked "
        "through a connected instance; one answer per distinct number, in the order given."
    )
    async def check_numbers(
        self, info: Info, instance_id: strawberry.ID, phones: list[str]
    ) -> list[NumberCheck]:
        c = info.context.container
        found = await c.numbers.check(await info.context.principal(), str(instance_id), phones)
        return [NumberCheck.from_domain(x) for x in found]

    @strawberry.field(description="The engine's worker processes (admin only).")
    async def engine_workers(self, info: Info) -> list[EngineWorker]:
        c = info.context.container
        found = await c.engine_workers.list(await info.context.principal())
        return [EngineWorker.from_domain(w) for w in found]


@strawberry.type
class EngineMutation:
    @strawberry.mutation(
        description="A pairing code (XXXX-XXXX) to type on the phone whose number is given "
        "(Linked devices > Link with phone number), for a phone that cannot scan the QR code. "
        "Only while the instance shows a QR code.",
        deprecation_reason="Use requestPairingCode (a payload with userErrors).",
    )
    async def pairing_code(self, info: Info, instance_id: strawberry.ID, phone: str) -> str:
        c = info.context.container
        return await c.pairing.pairing_code(await info.context.principal(), str(instance_id), phone)
