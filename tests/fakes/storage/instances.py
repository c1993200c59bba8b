"""The fake InstanceRepository; deleting an instance empties what it owns."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from domain.entities import Instance
from tests.fakes.storage.state import MESSAGING_TABLES


class MemoryInstances:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, instance: Instance) -> None:
        self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def get(self, instance_id: str) -> Instance | None:
        return copy.deepcopy(self.t["instances"].get(instance_id))

    async def get_many(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        t = self.t["instances"]
        return {i: copy.deepcopy(t[i]) for i in instance_ids if i in t}

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        found = [i for i in self.t["instances"].values() if user_id is None or i.user_id == user_id]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def update(self, instance: Instance) -> None:
        if instance.id in self.t["instances"]:
            self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def delete(self, instance_id: str) -> None:
        self.t["instances"].pop(instance_id, None)
        self.t["activity"] = {
            k: a for k, a in self.t["activity"].items() if a.instance_id != instance_id
        }
        self.t["events"] = [e for e in self.t["events"] if e.instance_id != instance_id]
        for table in MESSAGING_TABLES:
            self.t[table] = {k: r for k, r in self.t[table].items() if r.instance_id != instance_id}
