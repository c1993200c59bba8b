"""Database status and the live switch to another provider (`/api/db/*`, `wamux db switch`).

A switch opens the target, pings it and migrates it to this release's schema while the
server keeps serving. With `migrate`, a target must be empty or already hold exactly the
records of the current database (a previous copy with nothing written since: then nothing is
copied in bulk, so running the same switch twice leaves the same target); anything else is
refused. The records are copied from one snapshot of the source while writes go on (the
bulk copy), then what changed since is copied, writes still flowing, a few times over while
much changed (catch-ups, `domain/record_copy.py`); then writes are held at the gate (open
write units finish first, on the old database), a last catch-up copies what the last moment
changed, the choice is saved and the backend swapped; the held writes go on, on the target.
Writes wait only for that last catch-up; reads are never held. A failure anywhere before
the swap leaves the old provider in place and closes the target (a copy cut short leaves the
target partly filled: it must be emptied before the next try).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.entities import Instance, InstanceStatus, Principal
from domain.errors import Conflict, DomainError, Forbidden, ValidationFailed
from domain.ports import (
    Backend,
    Backends,
    Clock,
    Connections,
    LiveStorage,
    ProviderChoice,
)
from domain.record_copy import (
    WATERMARK_MARGIN,
    BulkHook,
    CaughtUp,
    Mirror,
    Progress,
    catch_up,
    copy_records,
    count_records,
    same_records,
)

log = logging.getLogger(__name__)

PROVIDERS = ("sqlite", "postgresql", "mongodb")
# Catch-ups before the one that holds writes: at most this many, fewer once one finds at most
# FLOWING_ENOUGH records (then what is left for the held one is what a moment of writes made).
FLOWING_PASSES = 3
FLOWING_ENOUGH = 1000


def _nothing(_: int) -> None:
    return None


@dataclass(frozen=True)
class DatabaseStatus:
    provider: str
    url: str
    healthy: bool
    counts: dict[str, int]


@dataclass(frozen=True)
class SwitchResult:
    provider: str
    message: str
    # The records per kind the target holds once switched; None: switched without copying.
    migrated: dict[str, int] | None = None
    already_copied: bool = False  # the target held the source's records: no bulk copy
    bulk_ms: float = 0.0  # how long the bulk copy took (writes flowing)
    held_ms: float = 0.0  # how long writes waited at the gate (the catch-up and the swap)


@dataclass(frozen=True)
class _Bulk:
    """The bulk copy's outcome, before writes are held."""

    watermark: datetime  # the catch-up copies what changed from here on
    already: bool
    ms: float  # how long it took
    mirror: Mirror = field(default_factory=dict)  # the target's whole-compared records


@dataclass
class _Refused(Exception):
    reason: str
    message: str
    details: dict[str, object] = field(default_factory=dict)


class Databases:
    def __init__(
        self,
        *,
        live: LiveStorage,
        backends: Backends,
        choice: ProviderChoice,
        connections: Connections,
        on_swap: list[Callable[[Backend], None]],
        clock: Clock,
        gate_timeout_s: float = 30.0,
    ) -> None:
        self._live = live
        self._backends = backends
        self._choice = choice
        self._connections = connections
        self._on_swap = on_swap
        self._gate_timeout_s = gate_timeout_s
        self._clock = clock
        self._running = False
        # Awaited after each batch of the bulk copy, writes flowing (tests write there).
        self.after_bulk_batch: BulkHook | None = None

    @property
    def provider(self) -> str:
        return self._live.backend.provider

    @staticmethod
    def _admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("This action requires the admin role")

    async def status(self, principal: Principal) -> DatabaseStatus:
        self._admin(principal)
        backend = self._live.backend
        try:
            await backend.storage.ping()
            counts = await count_records(backend.inventory)
        except Exception as exc:  # an unreachable database is the answer here
            log.warning("database status: %s is unreachable: %s", backend.provider, exc)
            return DatabaseStatus(backend.provider, backend.url, False, {})
        return DatabaseStatus(backend.provider, backend.url, True, counts)

    async def switch(
        self, principal: Principal, provider: str, migrate: bool = False
    ) -> SwitchResult:
        self._admin(principal)
        return await self.run(provider, migrate)

    def _check(self, provider: str) -> None:
        if provider not in PROVIDERS:
            raise ValidationFailed(
                f"provider must be one of {', '.join(PROVIDERS)}",
                {"field": "provider", "reason": "unknown_provider"},
            )
        if self._backends.configured(provider) is None:
            variable = {"sqlite": "SQLITE_DATABASE_URL", "postgresql": "POSTGRES_DATABASE_URL"}
            name = variable.get(provider, "DATABASE_URL")
            raise ValidationFailed(
                f"{name} is not set: configure the {provider} database before switching to it",
                {"field": "provider", "reason": "not_configured"},
            )
        if provider == self._live.backend.provider:
            raise Conflict(
                f"The database provider is {provider} already", {"reason": "current_provider"}
            )
        if self._running:
            raise Conflict("A database switch is running already", {"reason": "switch_running"})

    async def run(
        self,
        provider: str,
        migrate: bool,
        on_total: Progress = _nothing,
        progress: Progress = _nothing,
        *,
        move_instances: bool = True,
    ) -> SwitchResult:
        """The switch itself (the console's `wamux db switch` calls it directly, with
        `move_instances=False`: no instance runs there)."""
        self._check(provider)
        self._running = True
        try:
            return await self._switch(provider, migrate, on_total, progress, move_instances)
        except _Refused as refused:
            log.warning("database switch to %s refused: %s", provider, refused.message)
            raise Conflict(refused.message, {"reason": refused.reason, **refused.details}) from None
        finally:
            self._running = False

    async def prepared(self, provider: str) -> Backend:
        """A provider's database, pinged and migrated, not in use (`wamux import --provider`);
        the caller closes it."""
        self._check(provider)
        try:
            target = self._backends.open(provider)
        except (ValueError, DomainError) as exc:
            message = f"The {provider} URL cannot be used: {_short(exc)}"
            raise Conflict(message, {"reason": "bad_url"}) from exc
        try:
            await self._prepare(target, migrate=False)
        except _Refused as refused:
            await _close_quietly(target)
            raise Conflict(refused.message, {"reason": refused.reason}) from None
        return target

    async def _switch(
        self,
        provider: str,
        migrate: bool,
        on_total: Progress,
        progress: Progress,
        move_instances: bool,
    ) -> SwitchResult:
        try:
            target = self._backends.open(provider)
        except (ValueError, DomainError) as exc:
            raise _Refused("bad_url", f"The {provider} URL cannot be used: {_short(exc)}") from exc
        swapped = False
        try:
            source = self._live.backend
            has_records = await self._prepare(target, migrate)
            bulk = (
                await self._bulk(source, target, has_records, on_total, progress)
                if migrate
                else None
            )
            since = None if bulk is None else await self._catch_ups_flowing(source, target, bulk)
            log.info("database switch to %s (%s): holding writes", provider, target.url)
            try:
                async with self._live.closed_for_writes(self._gate_timeout_s):
                    held = time.monotonic()
                    if bulk is not None and since is not None:
                        await self._catch_up(source, target, since, bulk, "final, writes held")
                    moving = move_instances and not migrate
                    before = await _instances(source) if moving else []
                    self._save(provider)
                    self._live.swap(target)
                    swapped = True
                    held_ms = (time.monotonic() - held) * 1000
                log.info("database switched to %s: writes were held %.0f ms", provider, held_ms)
            except TimeoutError:
                raise _Refused(
                    "writes_busy",
                    f"Write units still open after {self._gate_timeout_s:.0f} s; try again",
                ) from None
        finally:
            if not swapped:
                await _close_quietly(target)
        for hook in self._on_swap:
            try:
                hook(target)
            except Exception:  # the switch is done; a hook's failure must not undo its answer
                log.exception("after the database switch")
        if moving:
            await self._move_instances(before, target)
        migrated = None if bulk is None else await self._held_now(target)
        return SwitchResult(
            provider,
            f"Database provider switched to {provider}",
            migrated,
            bulk is not None and bulk.already,
            0.0 if bulk is None else bulk.ms,
            held_ms,
        )

    async def _prepare(self, target: Backend, migrate: bool) -> bool:
        """Ping and migrate the target; whether it holds records already."""
        try:
            await target.storage.ping()
        except Exception as exc:
            message = f"The {target.provider} database is unreachable: {_short(exc)}"
            raise _Refused("target_unreachable", message) from exc
        try:
            await target.storage.migrate()
        except Exception as exc:
            message = f"Migrating the {target.provider} database failed: {_short(exc)}"
            raise _Refused("migration_failed", message) from exc
        if not migrate:
            return False
        try:
            counts = await count_records(target.inventory)
        except Exception as exc:
            message = f"Reading the target failed: {_short(exc)}"
            raise _Refused("target_unreachable", message) from exc
        return any(counts.values())

    def _watermark(self) -> datetime:
        """From when the catch-up must look for changes: now, less the age of the oldest
        write unit open (it may commit after the snapshot began, stamped before), less a
        margin (a use case may read the clock a little before it opens its unit)."""
        age = timedelta(seconds=self._live.oldest_write_age_s())
        return self._clock.now() - age - WATERMARK_MARGIN

    async def _bulk(
        self,
        source: Backend,
        target: Backend,
        has_records: bool,
        on_total: Progress,
        progress: Progress,
    ) -> _Bulk:
        """The bulk copy, writes flowing: every record of one snapshot of the source, or
        none when the target holds exactly that snapshot's records already."""
        missing = set(source.inventory.kinds()) - set(target.inventory.kinds())
        if missing:
            raise _Refused("schema_mismatch", f"The target has no {sorted(missing)[0]}")
        began = time.monotonic()
        watermark = self._watermark()  # before the snapshot: what it misses comes after
        try:
            if has_records:
                if not await same_records(source.inventory, target.inventory):
                    raise _Refused(
                        "target_not_empty",
                        f"The {target.provider} database holds other records; switch with "
                        "migrate to an empty database (or without migrate to use it as it is)",
                        {"counts": await count_records(target.inventory)},
                    )
                log.info("database switch: the target holds these records already")
                return _Bulk(watermark, True, (time.monotonic() - began) * 1000)
            mirror: Mirror = {}
            copied = await copy_records(
                source.inventory,
                target.inventory,
                on_total,
                progress,
                self.after_bulk_batch,
                mirror,
            )
        except _Refused:
            raise
        except Exception as exc:
            log.exception("database switch: the copy failed")
            raise _Refused(
                "copy_failed",
                f"Copying the records failed ({_short(exc)}); the target is partly filled: "
                "empty it before trying again",
            ) from exc
        took = (time.monotonic() - began) * 1000
        log.info(
            "database switch: bulk copy of %d records in %.0f ms, writes flowing",
            sum(copied.values()),
            took,
        )
        return _Bulk(watermark, False, took, mirror)

    async def _catch_ups_flowing(self, source: Backend, target: Backend, bulk: _Bulk) -> datetime:
        """Catch-ups with writes flowing, each from the watermark of the one before, while
        they still find much: what the writes made during the bulk copy (at the bulk's rate),
        not the final catch-up, which holds writes. Answers the final one's watermark."""
        since = bulk.watermark
        for n in range(1, FLOWING_PASSES + 1):
            next_since = self._watermark()  # before this pass's snapshot
            done = await self._catch_up(source, target, since, bulk, f"{n}, writes flowing")
            since = next_since
            if done.total <= FLOWING_ENOUGH:
                break
        return since

    async def _catch_up(
        self, source: Backend, target: Backend, watermark: datetime, bulk: _Bulk, which: str
    ) -> CaughtUp:
        """What changed since `watermark`, and what was deleted."""
        began = time.monotonic()
        try:
            done = await catch_up(source.inventory, target.inventory, watermark, bulk.mirror)
        except Exception as exc:
            log.exception("database switch: the catch-up failed")
            raise _Refused(
                "copy_failed",
                f"Catching up failed ({_short(exc)}); the target is partly filled: "
                "empty it before trying again",
            ) from exc
        written = ", ".join(f"{k} {n}" for k, n in done.written.items() if n) or "nothing"
        deleted = ", ".join(f"{k} {n}" for k, n in done.deleted.items() if n) or "nothing"
        log.info(
            "database switch: catch-up (%s) since %s in %.0f ms: wrote %s; deleted %s",
            which,
            watermark.isoformat(),
            (time.monotonic() - began) * 1000,
            written,
            deleted,
        )
        return done

    async def _held_now(self, target: Backend) -> dict[str, int]:
        """The answer's counts: the target's records just after the swap (writes that landed
        in the instant since are in them)."""
        try:
            return await count_records(target.inventory)
        except Exception as exc:  # switched already: the counts are not worth an error
            log.warning("counting the records on %s failed: %s", target.provider, exc)
            return {}

    def _save(self, provider: str) -> None:
        try:
            self._choice.save(provider)
        except OSError as exc:
            raise _Refused("choice_not_saved", f"Saving the choice failed: {_short(exc)}") from exc

    async def _move_instances(self, before: list[Instance], target: Backend) -> None:
        """Without a copy: the old database's instances the target lacks stop here; the
        target's own instances start (unless logged out)."""
        after = await _instances(target)
        held = {i.id for i in after}
        running = {i.id for i in before}
        for instance in before:
            if instance.id not in held:
                await _quietly(self._connections.stop(instance), instance.id)
        for instance in after:
            if instance.id not in running and instance.status is not InstanceStatus.LOGGED_OUT:
                await _quietly(self._connections.start(instance), instance.id)


def _short(exc: BaseException) -> str:
    """A driver's error on one line, without SQLAlchemy's statement and background link."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first if len(first) <= 200 else first[:199] + "…"


async def _instances(backend: Backend) -> list[Instance]:
    async with backend.storage.unit_of_work(read_only=True) as uow:
        return await uow.instances.list()


async def _quietly(action: Awaitable[None], instance_id: str) -> None:
    try:
        await action
    except Exception as exc:
        log.warning("instance %s after the database switch: %s", instance_id, exc)


async def _close_quietly(backend: Backend) -> None:
    try:
        await backend.storage.close()
    except Exception as exc:
        log.warning("closing the %s database failed: %s", backend.provider, exc)
