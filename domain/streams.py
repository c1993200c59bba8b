"""Open live streams (GraphQL subscriptions) per user: each one holds a bus subscription and a
socket, so a user may hold at most a set number at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from domain.errors import LimitExceeded


class StreamSlots:
    """Counts the streams each user holds in this process (a cluster counts per node)."""

    def __init__(self, max_per_user: int | None) -> None:
        self._max = max_per_user
        self._open: Counter[str] = Counter()

    def open_for(self, user_id: str) -> int:
        return self._open[user_id]

    @contextmanager
    def hold(self, user_id: str) -> Iterator[None]:
        """One slot for as long as the block runs; LimitExceeded when all are taken."""
        if self._max is not None and self._open[user_id] >= self._max:
            raise LimitExceeded(
                f"Too many open subscriptions: at most {self._max} per user; "
                "complete one before starting another",
                {"limit": "maxSubscriptions", "max": self._max},
            )
        self._open[user_id] += 1
        try:
            yield
        finally:
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]
