"""The fake WebhookRepository (the outbox)."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from typing import Any

from domain.webhooks import DeliveryStatus, WebhookDelivery
from tests.fakes.storage.state import require_instance


class MemoryWebhooks:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, delivery: WebhookDelivery) -> None:
        require_instance(self.t, delivery.instance_id)
        stored = copy.deepcopy(delivery)
        stored.seq = len(self.t["webhooks"]) + 1
        self.t["webhooks"][delivery.id] = stored

    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None:
        found = self.t["webhooks"].get(delivery_id)
        return copy.deepcopy(found) if found and found.instance_id == instance_id else None

    async def update(self, delivery: WebhookDelivery) -> None:
        if delivery.id in self.t["webhooks"]:
            seq = self.t["webhooks"][delivery.id].seq
            self.t["webhooks"][delivery.id] = copy.deepcopy(delivery)
            self.t["webhooks"][delivery.id].seq = seq

    async def update_many(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            await self.update(delivery)

    def _pending(self, instance_id: str | None = None) -> list[WebhookDelivery]:
        found = [
            d
            for d in self.t["webhooks"].values()
            if d.status is DeliveryStatus.PENDING and instance_id in (None, d.instance_id)
        ]
        return sorted(found, key=lambda d: d.seq)

    async def pending(self, instance_id: str, limit: int) -> list[WebhookDelivery]:
        return copy.deepcopy(self._pending(instance_id)[:limit])

    async def pending_instances(self) -> list[str]:
        return sorted({d.instance_id for d in self._pending()})

    async def list(
        self, instance_id: str, *, status: str | None, event: str | None, limit: int, skip: int
    ) -> tuple[list[WebhookDelivery], int]:
        found = [
            d
            for d in self.t["webhooks"].values()
            if d.instance_id == instance_id
            and (status is None or d.status.value == status)
            and (event is None or d.event == event)
        ]
        found.sort(key=lambda d: d.seq, reverse=True)
        return copy.deepcopy(found[skip : skip + limit]), len(found)

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        status: str | None,
        event: str | None,
        before_seq: int | None,
        limit: int,
    ) -> dict[str, builtins.list[WebhookDelivery]]:
        found: dict[str, list[WebhookDelivery]] = {}
        for instance_id in instance_ids:
            page, _ = await self.list(instance_id, status=status, event=event, limit=10**9, skip=0)
            found[instance_id] = [d for d in page if before_seq is None or d.seq < before_seq][
                :limit
            ]
        return found
