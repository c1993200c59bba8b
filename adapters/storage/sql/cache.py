"""What every request re-reads (instances, today's usage counters), kept in memory.

Where this process is the database's one writer (SQLite): every write goes through the
repositories here, which update the cache when their unit's writes are applied
(write-through), so the cache never misses a change. A value read from the database is kept
only if nothing wrote that key while it was being read (the key's version did not move), so
a slow reader cannot put back a value older than a write.

On a server database (PostgreSQL) other processes write too (another server, a `wamux`
command): there only instances are kept, for `ttl_s` each (`INSTANCE_CACHE_TTL_MS`), and only
read-only units read them from here. This process's own writes still apply at once; another
process's are seen within the TTL, as with the credentials (`AUTH_CACHE_TTL_MS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Generic, TypeVar

from domain.entities import Instance

K = TypeVar("K")
V = TypeVar("V")

MAX_ENTRIES = 50_000


class RowCache(Generic[K, V]):
    """Values by key. A write is first *applied* (later units of the writer see it, it is
    not committed yet), then *committed*. Between the two the key is dirty: a reader on a
    pooled connection still sees the old row, so what it read is not kept."""

    def __init__(
        self,
        copy: Callable[[V], V],
        ttl_s: float | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._copy = copy
        self._ttl = ttl_s  # None: kept until written (the one writer's cache)
        self._now = now
        self._expires: dict[K, float] = {}
        self._values: dict[K, V] = {}
        self._versions: dict[K, int] = {}
        self._dirty: dict[K, int] = {}
        self._epoch = 0

    def _live(self, key: K) -> V | None:
        value = self._values.get(key)
        if value is not None and self._ttl is not None and self._expires[key] <= self._now():
            del self._values[key]
            return None
        return value

    def get(self, key: K) -> V | None:
        value = self._live(key)
        return None if value is None else self._copy(value)

    def __contains__(self, key: K) -> bool:
        return self._live(key) is not None

    def _keep(self, key: K, value: V) -> None:
        self._values[key] = self._copy(value)
        if self._ttl is not None:
            self._expires[key] = self._now() + self._ttl

    def version(self, key: K) -> tuple[int, int]:
        return self._epoch, self._versions.get(key, 0)

    def fill(self, key: K, value: V, version: tuple[int, int], *, writer: bool) -> None:
        """Keeps a value read from the database, unless `key` was written since `version`.
        A reader on a pooled connection does not see applied writes not committed yet, so
        what it read of a dirty key is not kept; the writer (a unit that did not write
        `key` itself) sees exactly what the cache holds."""
        if self.version(key) != version or (key in self._dirty and not writer):
            return
        if len(self._values) >= MAX_ENTRIES:
            self.clear()
            return
        self._keep(key, value)

    def _bump(self, key: K) -> None:
        self._versions[key] = self._versions.get(key, 0) + 1

    def applied(self, key: K, change: Callable[[V], None] | None = None) -> None:
        """A write to `key` was applied: `change` updates the cached value in place (for
        the units after it); without one the value is forgotten."""
        self._bump(key)
        self._dirty[key] = self._dirty.get(key, 0) + 1
        value = self._values.get(key)
        if value is None:
            return
        if change is None:
            del self._values[key]
        else:
            change(value)

    def committed(self, key: K) -> None:
        """The write `applied` announced is committed (or failed, and the cache cleared)."""
        self._bump(key)
        left = self._dirty.get(key, 0) - 1
        if left > 0:
            self._dirty[key] = left
        else:
            self._dirty.pop(key, None)

    def put(self, key: K, value: V) -> None:
        """A new row whose write was applied: kept at once (nobody can hold an older one)."""
        self._bump(key)
        self._keep(key, value)

    def clear(self) -> None:
        """Forgets every value; reads under way when this ran keep nothing."""
        self._epoch += 1
        self._values.clear()
        self._versions.clear()
        self._expires.clear()


def copy_instance(instance: Instance) -> Instance:
    """A copy the caller may change (use cases change an instance, then store it)."""
    copied = replace(instance)
    copied.webhook = replace(instance.webhook, headers=dict(instance.webhook.headers))
    copied.options = {k: dict(v) if isinstance(v, dict) else v for k, v in instance.options.items()}
    copied.limits = dict(instance.limits)
    return copied


def copy_counters(counters: dict[str, int]) -> dict[str, int]:
    return dict(counters)


class SqlCache:
    """`ttl_s=None`: this process is the database's one writer (SQLite), everything is kept
    until written. Otherwise (a server database) instances only, each for `ttl_s`."""

    def __init__(
        self, ttl_s: float | None = None, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.one_writer = ttl_s is None
        self.instances: RowCache[str, Instance] = RowCache(copy_instance, ttl_s, now)
        # (instance id, ISO day) -> counters; only while this process is the one writer
        self.usage: RowCache[tuple[str, str], dict[str, int]] = RowCache(copy_counters)

    def clear(self) -> None:
        self.instances.clear()
        self.usage.clear()
