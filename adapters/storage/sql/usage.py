"""SQL repository of the per-day usage counters and the once-per-day limit notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.storage.sql.cache import SqlCache
from adapters.storage.sql.prepared import PREFIX, Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import limit_notices, usage_daily
from domain.ports import USAGE_COUNTERS


def _upsert(dialect_name: str) -> Any:
    """Adds every counter (most by 0): one statement for any increment, compiled once."""
    module: Any = postgresql if dialect_name == "postgresql" else sqlite
    names = ["instance_id", "day", *USAGE_COUNTERS]
    stmt = module.insert(usage_daily).values({n: bindparam(PREFIX + n) for n in names})
    return stmt.on_conflict_do_update(
        index_elements=[usage_daily.c.instance_id, usage_daily.c.day],
        set_={n: usage_daily.c[n] + stmt.excluded[n] for n in USAGE_COUNTERS},
    )


_ADD = Prepared(
    _upsert, {n: usage_daily.c[n].type for n in ("instance_id", "day", *USAGE_COUNTERS)}
)


def _daily(_dialect: str) -> Any:
    """An instance's days from one on, the counters by position (reading them by name off
    each Row cost most of the call); prepared, as stats read it on every call."""
    t = usage_daily
    return (
        select(t.c.day, *(t.c[n] for n in USAGE_COUNTERS))
        .where(t.c.instance_id == bindparam(PREFIX + "instance_id"))
        .where(t.c.day >= bindparam(PREFIX + "day"))
        .order_by(t.c.day)
    )


_DAILY = Prepared(
    _daily, {"instance_id": usage_daily.c.instance_id.type, "day": usage_daily.c.day.type}
)


class SqlUsage:
    def __init__(
        self, session: SqlSession, cache: SqlCache | None = None, *, writes: bool = True
    ) -> None:
        self._s = session
        self._cache = cache
        self._writes = writes  # on the writer (True) or a pooled read-only connection
        # this unit's increments the cache does not have yet, and every key it wrote
        self._added: dict[tuple[str, str], dict[str, int]] = {}
        self._touched: set[tuple[str, str]] = set()

    def _dialect(self) -> Any:
        dialect = self._s.bind.dialect.name if self._s.bind is not None else "sqlite"
        return postgresql if dialect == "postgresql" else sqlite

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None:
        increments = {k: v for k, v in counters.items() if v}
        if not increments:
            return
        values = {name: increments.get(name, 0) for name in USAGE_COUNTERS}
        await self._s.write(_ADD, {"instance_id": instance_id, "day": day.isoformat(), **values})
        if self._cache is not None:
            self._cached_add((instance_id, day.isoformat()), increments)

    def _cached_add(self, key: tuple[str, str], increments: dict[str, int]) -> None:
        mine = self._added.setdefault(key, {})
        for name, amount in increments.items():
            mine[name] = mine.get(name, 0) + amount
        self._touched.add(key)
        assert self._cache is not None
        rows = self._cache.usage

        def change(counters: dict[str, int]) -> None:
            for name, amount in increments.items():
                counters[name] = counters.get(name, 0) + amount

        def applied() -> None:
            rows.applied(key, change)
            self._added.pop(key, None)

        self._s.after_commit(applied, lambda: rows.committed(key))

    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        if self._cache is not None:
            # On the one writer nothing can add between this read and this add.
            current = (await self.day(instance_id, day))[counter]
            if current + amount > maximum:
                return None
            await self.add(instance_id, day, {counter: amount})
            return current + amount
        # The increment takes the row's write lock first, so check-and-add is atomic.
        await self.add(instance_id, day, {counter: amount})
        current = (await self.day(instance_id, day))[counter]
        if current > maximum:
            await self.add(instance_id, day, {counter: -amount})
            return None
        return current

    async def day(self, instance_id: str, day: date) -> dict[str, int]:
        cache, key = self._cache, (instance_id, day.isoformat())
        if cache is not None:
            if self._writes:
                await self._s.hold()
            hit = cache.usage.get(key)
            if hit is not None:
                for name, amount in self._added.get(key, {}).items():
                    hit[name] = hit.get(name, 0) + amount
                return {name: hit.get(name, 0) for name in USAGE_COUNTERS}
            version = cache.usage.version(key)
        t = usage_daily
        row = (
            await self._s.execute(select(t).where(t.c.instance_id == key[0], t.c.day == key[1]))
        ).first()
        counters = {name: int(getattr(row, name)) if row else 0 for name in USAGE_COUNTERS}
        # What the writer read includes this unit's own writes: kept only without them.
        if cache is not None and key not in self._touched:
            cache.usage.fill(key, counters, version, writer=self._writes)
        return counters

    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]:
        # From the first day, when there is none: '' sorts before every YYYY-MM-DD.
        values = {"instance_id": instance_id, "day": since.isoformat() if since else ""}
        rows = await self._s.fetch(_DAILY, values)
        return [
            (date.fromisoformat(r[0]), dict(zip(USAGE_COUNTERS, map(int, r[1:]), strict=True)))
            for r in rows
        ]

    async def totals(
        self, instance_ids: Sequence[str] | None, since: date | None
    ) -> dict[str, dict[str, int]]:
        t = usage_daily
        query = select(
            t.c.instance_id, *[func.sum(t.c[n]).label(n) for n in USAGE_COUNTERS]
        ).group_by(t.c.instance_id)
        if instance_ids is not None:
            query = query.where(t.c.instance_id.in_(list(instance_ids)))
        if since is not None:
            query = query.where(t.c.day >= since.isoformat())
        rows = await self._s.execute(query)
        return {r.instance_id: {n: int(getattr(r, n) or 0) for n in USAGE_COUNTERS} for r in rows}

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        # One statement: two refusals racing (PostgreSQL has no BEGIN IMMEDIATE) cannot both
        # see no row and then both insert, the second failing on the primary key.
        stmt = (
            self._dialect()
            .insert(limit_notices)
            .values(instance_id=instance_id, day=day.isoformat(), limit_name=limit)
            .on_conflict_do_nothing()
            .returning(limit_notices.c.limit_name)
        )
        # RETURNING rather than rowcount: the SQLite writer buffers writes it reads nothing of.
        return (await self._s.execute(stmt)).first() is not None
