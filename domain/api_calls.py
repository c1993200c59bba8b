"""API calls counted in memory and written in batches, so counting never waits for a writer.

Every authenticated request on an instance is an API call. Writing each one would turn every
read into a write; instead the count lives here and is flushed every `interval_s` in one
unit of work. `maxApiCalls` stays exact in this process: an instance's count for a day is read
from storage once, then only ever changed here. What a crash can lose is the last interval's
calls (counts, never messages); statistics add what is not written yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date

from domain.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

Key = tuple[str, date]  # (instance id, UTC day)


class ApiCallCounter:
    def __init__(self, uow: UnitOfWorkFactory, interval_s: float) -> None:
        self._uow = uow
        self._interval = interval_s
        self._used: dict[Key, int] = {}  # the day's exact count, for the limit
        self._unflushed: dict[Key, int] = {}
        self._in_flight: dict[Key, int] = {}
        # Held while a flush writes, and by readers adding what is not written yet, so a
        # reader never counts a call both in storage and here.
        self._flushing = asyncio.Lock()
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def used(self, uow: UnitOfWork, instance_id: str, day: date) -> int:
        """The day's calls so far (read from storage the first time, in `uow`)."""
        key = (instance_id, day)
        known = self._used.get(key)
        if known is not None:
            return known
        stored = (await uow.usage.day(instance_id, day))["api_calls"]
        # Nothing of this key is counted before it is known, so `stored` is all of it; a
        # concurrent first reader may have set it meanwhile, and then counted on it.
        return self._used.setdefault(key, stored)

    def known(self, instance_id: str, day: date) -> int | None:
        return self._used.get((instance_id, day))

    def count(self, instance_id: str, day: date) -> None:
        """One more call; call `used` for the key first."""
        key = (instance_id, day)
        self._used[key] += 1
        self._unflushed[key] = self._unflushed.get(key, 0) + 1
        self._due.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            await asyncio.sleep(self._interval)
            self._due.clear()
            try:
                await self.flush()
            except Exception:  # kept for the next round; counting goes on meanwhile
                log.exception("writing the API call counts failed; retrying")
                self._due.set()

    async def flush(self) -> None:
        async with self._flushing:
            batch, self._unflushed = self._unflushed, {}
            if not batch:
                return
            self._in_flight = batch
            try:
                async with self._uow() as uow:
                    for (instance_id, day), calls in batch.items():
                        # an instance deleted meanwhile took its counters with it
                        if await uow.instances.get(instance_id) is not None:
                            await uow.usage.add(instance_id, day, {"api_calls": calls})
                    await uow.commit()
            except BaseException:
                for key, calls in batch.items():
                    self._unflushed[key] = self._unflushed.get(key, 0) + calls
                raise
            finally:
                self._in_flight = {}
            self._forget_old_days(max(day for _, day in batch))

    def _forget_old_days(self, today: date) -> None:
        for key in [k for k in self._used if k[1] < today and k not in self._unflushed]:
            del self._used[key]

    def not_written(self, instance_ids: list[str] | None) -> dict[Key, int]:
        """Calls counted but not in storage yet (of these instances; None: all). Hold
        `reading()` around the storage read this is added to."""
        pending: dict[Key, int] = {}
        for key, calls in self._unflushed.items():
            if instance_ids is None or key[0] in instance_ids:
                pending[key] = pending.get(key, 0) + calls
        return pending

    def reading(self) -> asyncio.Lock:
        """Held around a statistics read: no flush moves counts into storage meanwhile."""
        return self._flushing
