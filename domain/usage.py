"""Usage counting, per-day limits (429 + `limit_exceeded` once a day) and the statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from domain.api_calls import ApiCallCounter
from domain.counters import SPEC_NAMES, summed
from domain.entities import EventType, Instance, InstanceStatus, Principal
from domain.errors import Forbidden, LimitExceeded, ValidationFailed
from domain.instances import Instances, visible
from domain.limits import LIMITS
from domain.ports import USAGE_COUNTERS, Clock, UnitOfWork, UnitOfWorkFactory
from domain.recorder import Recorder

# Every call on an instance counts toward its apiCalls (and maxApiCalls), except managing
# the instance itself: an owner whose maxApiCalls is used up can still raise the cap.
# Named as the use cases are; each API names its operations the same way.
MANAGEMENT_CALLS = frozenset({"update_instance", "delete_instance"})

PERIOD_DAYS = {"today": 1, "week": 7, "month": 30, "year": 365, "all": None}


@dataclass(frozen=True)
class InstanceUsage:
    instance: Instance
    counters: dict[str, int]


@dataclass(frozen=True)
class UserUsage:
    """A user's instances with their counters, and those counters summed."""

    instances: list[InstanceUsage]
    total: dict[str, int]


class Usage:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        recorder: Recorder,
        instances: Instances,
        clock: Clock,
        calls: ApiCallCounter | None = None,
    ) -> None:
        self._uow = uow
        self._recorder = recorder
        self._instances = instances
        self._clock = clock
        self.calls = calls or ApiCallCounter(uow, interval_s=0.2)

    def today(self) -> date:
        return self._clock.now().date()

    # --- counting and limits ---------------------------------------------------------------

    async def consume(
        self, uow: UnitOfWork, instance: Instance, counters: dict[str, int]
    ) -> str | None:
        """Adds `counters` for today inside `uow`; returns the first limit that refuses them.

        A refused consume adds nothing (the caller rolls back and reports the limit).
        """
        today = self.today()
        capped: set[str] = set()
        for limit, counter in LIMITS.items():
            maximum = instance.limits.get(limit)
            if maximum is None:
                continue
            capped.add(counter)
            amount = counters.get(counter, 0)
            if (
                amount
                and await uow.usage.try_add(instance.id, today, counter, amount, maximum) is None
            ):
                return limit
        rest = {name: amount for name, amount in counters.items() if name not in capped}
        await uow.usage.add(instance.id, today, rest)
        return None

    async def precheck(self, instance: Instance, counters: dict[str, int]) -> None:
        """Refuses early (before media is stored) when a limit is already reached.

        Only a courtesy: `consume` is what enforces limits atomically."""
        capped = [lim for lim in LIMITS if instance.limits.get(lim) is not None]
        if not capped:
            return
        async with self._uow(read_only=True) as uow:
            used = await uow.usage.day(instance.id, self.today())
        for limit in capped:
            counter = LIMITS[limit]
            if counters.get(counter) and used[counter] + counters[counter] > instance.limits[limit]:
                raise await self.refuse(instance, limit)

    async def refuse(self, instance: Instance, limit: str) -> LimitExceeded:
        """Emits `limit_exceeded` (once per day per limit) and builds the 429 to raise."""
        today = self.today()
        async with self._recorder.transaction(instance.id) as txn:
            used = await txn.uow.usage.day(instance.id, today)
            calls = self.calls.known(instance.id, today)
            if calls is not None:  # counted in memory, maybe not written yet
                used["api_calls"] = calls
            usage = {
                SPEC_NAMES[LIMITS[name]]: used[LIMITS[name]]
                for name in LIMITS
                if name in instance.limits
            }
            if await txn.uow.usage.first_notice(instance.id, today, limit):
                await txn.log("limit_exceeded", {"limit": limit, "usage": usage})
                await txn.emit(
                    EventType.LIMIT_EXCEEDED, {"exceededLimits": [limit], "usage": usage}, instance
                )
            await txn.commit()
        counter = LIMITS[limit]
        return LimitExceeded(
            f"Daily limit {limit} ({instance.limits[limit]}) reached for instance {instance.id}; "
            "it resets at 00:00 UTC",
            {
                "limit": limit,
                "max": instance.limits[limit],
                "used": used[counter],
                "counter": SPEC_NAMES[counter],
            },
        )

    async def api_call(self, principal: Principal, instance_id: str, operation: str) -> None:
        """Counts one API call on an instance; 429 once the instance's maxApiCalls is reached.

        `operation` is the call's name (`send_text`, `update_instance`): management calls
        (MANAGEMENT_CALLS) are not counted."""
        if operation in MANAGEMENT_CALLS:
            return
        today = self.today()
        # This runs on every call: it reads (cached) and counts in memory, never writes.
        async with self._uow(read_only=True) as uow:
            instance = await self._instances.owned(uow, principal, instance_id)
            used = await self.calls.used(uow, instance_id, today)
        maximum = instance.limits.get("maxApiCalls")
        if maximum is not None and used + 1 > maximum:
            raise await self.refuse(instance, "maxApiCalls")
        self.calls.count(instance_id, today)  # no await since `used`: the check is exact

    async def count(self, instance_id: str, counters: dict[str, int]) -> None:
        """Adds to today's counters; nothing if the instance was deleted meanwhile (e.g. while
        its webhook was in flight), where the insert would break the foreign key."""
        async with self._uow() as uow:
            if await uow.instances.get(instance_id) is None:
                return
            await uow.usage.add(instance_id, self.today(), counters)
            await uow.commit()

    # --- statistics ------------------------------------------------------------------------

    def _since(self, period: str | None, default: str, allowed: tuple[str, ...]) -> date | None:
        name = period or default
        if name not in allowed:
            raise ValidationFailed(
                f"'period' must be one of: {', '.join(allowed)}", {"field": "period"}
            )
        days = PERIOD_DAYS[name]
        return None if days is None else self.today() - timedelta(days=days - 1)

    async def for_user(self, principal: Principal, period: str | None) -> UserUsage:
        since = self._since(period, "month", ("week", "month", "year", "all"))
        # The flush lock first: the unit's snapshot starts at its first read, and must not
        # predate a flush that empties what `not_written` adds (calls would go missing).
        async with self.calls.reading(), self._uow(read_only=True) as uow:
            mine = await uow.instances.list(user_id=principal.user_id)
            ids = [i.id for i in mine]
            totals = await uow.usage.totals(ids, since)
            self._add_unwritten_calls(totals, ids, since)
        rows = [InstanceUsage(i, totals.get(i.id, {})) for i in mine]
        return UserUsage(rows, summed([r.counters for r in rows]))

    async def today_for(
        self, principal: Principal, instances: Sequence[Instance]
    ) -> dict[str, dict[str, int]]:
        """Today's counters (UTC) of many instances, API calls not yet written included.
        One query, however many instances."""
        ids = [i.id for i in visible(principal, instances)]
        today = self.today()
        async with self.calls.reading(), self._uow(read_only=True) as uow:  # see for_user
            totals = await uow.usage.totals(ids, today)
            self._add_unwritten_calls(totals, ids, today)
        return {i: {**dict.fromkeys(USAGE_COUNTERS, 0), **totals.get(i, {})} for i in ids}

    async def for_instance(
        self, principal: Principal, instance_id: str, period: str | None
    ) -> tuple[dict[str, int], list[tuple[date, dict[str, int]]]]:
        since = self._since(period, "today", ("today", "week", "month", "all"))
        async with self.calls.reading(), self._uow(read_only=True) as uow:  # see for_user
            await self._instances.owned(uow, principal, instance_id)
            daily = await uow.usage.daily(instance_id, since)
            pending = self.calls.not_written([instance_id])
        by_day = dict(daily)
        for (_, day), calls in pending.items():
            if since is None or day >= since:
                counters = by_day.setdefault(day, dict.fromkeys(USAGE_COUNTERS, 0))
                counters["api_calls"] = counters.get("api_calls", 0) + calls
        daily = sorted(by_day.items())
        return summed([day for _, day in daily]), daily

    async def for_system(self, principal: Principal) -> dict[str, Any]:
        if not principal.is_admin:
            raise Forbidden("This action requires the admin role")
        async with self.calls.reading(), self._uow(read_only=True) as uow:  # see for_user
            instances = await uow.instances.list()
            users, user_total = await uow.users.list(limit=1_000_000, skip=0)
            totals = await uow.usage.totals(None, None)
            self._add_unwritten_calls(totals, None, None)
        usage = summed(list(totals.values()))
        recently = self._clock.now() - timedelta(days=30)
        owners_online = {i.user_id for i in instances if i.status is InstanceStatus.CONNECTED}
        active_users = [
            u
            for u in users
            if u.is_active and (u.id in owners_online or _after(u.last_login_at, recently))
        ]
        return {
            "instances": {
                "total": len(instances),
                "active": sum(1 for i in instances if i.status is InstanceStatus.CONNECTED),
            },
            "users": {"total": user_total, "active": len(active_users)},
            "usage": usage,
        }

    def _add_unwritten_calls(
        self, totals: dict[str, dict[str, int]], ids: list[str] | None, since: date | None
    ) -> None:
        for (instance_id, day), calls in self.calls.not_written(ids).items():
            if since is None or day >= since:
                counters = totals.setdefault(instance_id, dict.fromkeys(USAGE_COUNTERS, 0))
                counters["api_calls"] = counters.get("api_calls", 0) + calls


def _after(moment: datetime | None, threshold: datetime) -> bool:
    return moment is not None and moment >= threshold
