"""The fake UsageRepository: per-day counters and the once-per-day limit notices."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.ports import USAGE_COUNTERS
from tests.fakes.storage.state import UsageRow, require_instance


class MemoryUsage:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    def _row(self, instance_id: str, day: date) -> UsageRow:
        require_instance(self.t, instance_id)
        key = f"{instance_id}/{day.isoformat()}"
        row = self.t["usage"].get(key)
        if row is None:
            row = self.t["usage"][key] = UsageRow(
                instance_id, day.isoformat(), dict.fromkeys(USAGE_COUNTERS, 0)
            )
        return row

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None:
        if not any(counters.values()):
            return
        row = self._row(instance_id, day)
        for name, amount in counters.items():
            row.counters[name] += amount

    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        row = self._row(instance_id, day)
        if row.counters[counter] + amount > maximum:
            return None
        row.counters[counter] += amount
        return row.counters[counter]

    async def day(self, instance_id: str, day: date) -> dict[str, int]:
        row = self.t["usage"].get(f"{instance_id}/{day.isoformat()}")
        return dict(row.counters) if row else dict.fromkeys(USAGE_COUNTERS, 0)

    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]:
        rows = [
            r
            for r in self.t["usage"].values()
            if r.instance_id == instance_id and (since is None or r.day >= since.isoformat())
        ]
        return [
            (date.fromisoformat(r.day), dict(r.counters)) for r in sorted(rows, key=lambda r: r.day)
        ]

    async def totals(self, instance_ids: Any, since: date | None) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.t["usage"].values():
            if instance_ids is not None and r.instance_id not in instance_ids:
                continue
            if since is not None and r.day < since.isoformat():
                continue
            total = out.setdefault(r.instance_id, dict.fromkeys(USAGE_COUNTERS, 0))
            for name, amount in r.counters.items():
                total[name] += amount
        return out

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        require_instance(self.t, instance_id)
        key = f"{instance_id}/{day.isoformat()}/{limit}"
        if key in self.t["notices"]:
            return False
        self.t["notices"][key] = UsageRow(instance_id, day.isoformat())
        return True
