"""The shutdown's budget: a close that hangs is abandoned at SHUTDOWN_TIMEOUT, not awaited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from api.app import shutdown
from api.serve import StopClock


class _Hanging:
    def __init__(self) -> None:
        self.started = False

    async def close(self) -> None:
        self.started = True
        await asyncio.Event().wait()  # never set


class _Quick:
    closed = False

    async def close(self) -> None:
        self.closed = True


async def test_a_hanging_close_is_abandoned_at_the_budget() -> None:
    hanging = _Hanging()
    started = time.monotonic()
    await shutdown(hanging, 0.2)  # type: ignore[arg-type]
    assert hanging.started
    # Returned (it did not wait forever); the bound is the budget, with room for a slow box.
    assert time.monotonic() - started < 30


async def test_a_close_within_budget_runs_to_its_end() -> None:
    quick: Any = _Quick()
    await shutdown(quick, 5)
    assert quick.closed


def test_the_budget_counts_from_the_signal() -> None:
    clock = StopClock(30)
    assert clock.remaining() == 30  # no signal yet: stopped another way, the whole budget
    clock.mark()
    first = clock.remaining()
    assert 0 < first <= 30
    clock.mark()  # a second signal does not restart the count
    assert clock.remaining() <= first
