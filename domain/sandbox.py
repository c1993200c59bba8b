"""Use cases of the sandbox engine's control endpoints: pair by "scanning", drop a connection."""

from __future__ import annotations

from domain import validation as v
from domain.entities import Engine, Instance, InstanceStatus, Principal
from domain.errors import Conflict
from domain.instances import Instances
from domain.phones import normalise_phone
from domain.ports import Connections


class SandboxUseCases:
    def __init__(self, instances: Instances, connections: Connections) -> None:
        self._instances = instances
        self._connections = connections

    async def _sandbox_instance(self, principal: Principal, instance_id: str) -> Instance:
        instance = await self._instances.get(principal, instance_id)
        if instance.engine is not Engine.SANDBOX:
            raise Conflict(
                f"Instance {instance_id} runs on the '{instance.engine.value}' engine; "
                "sandbox controls only work on sandbox instances",
                {"engine": instance.engine.value},
            )
        return instance

    async def scan(
        self, principal: Principal, instance_id: str, phone: str | None, push_name: str | None
    ) -> None:
        instance = await self._sandbox_instance(principal, instance_id)
        digits = normalise_phone(phone) if phone else None
        name = v.text(push_name, "pushName", max_len=100) or None
        if instance.status is not InstanceStatus.QR:
            raise Conflict(
                f"Instance is '{instance.status.value}', not waiting for a QR scan",
                {"status": instance.status.value},
            )
        await self._connections.sandbox().scan(instance_id, digits, name)

    async def disconnect(self, principal: Principal, instance_id: str, reason: str | None) -> None:
        await self._sandbox_instance(principal, instance_id)
        why = v.text(reason, "reason", max_len=200) or "connection_lost"
        await self._connections.sandbox().drop(instance_id, why)
