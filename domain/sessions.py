"""Who is calling, kept honest over time: the principal cache and live sessions.

A request resolves its caller once. A GraphQL websocket lives for hours, so its caller is
resolved again for every operation (`LiveSession.principal`), and a running subscription is
ended as soon as the caller loses the right to it (`LiveSession.guard`): the session wakes
on an account notice (published by `Accounts` after every change that can take rights away),
when the token expires, and every `recheck_s` (changes made on another server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from domain.entities import Principal
from domain.errors import DomainError
from domain.ports import AccountNotices, Clock

if TYPE_CHECKING:
    from domain.users import Accounts

log = logging.getLogger(__name__)

T = TypeVar("T")
# Raises a DomainError when the principal may no longer see what it subscribed to.
AccessCheck = Callable[[Principal], Awaitable[object]]

# A token is re-checked this long after its expiry, so the check surely sees it expired.
_EXPIRY_MARGIN_S = 0.05


@dataclass(frozen=True)
class Credential:
    """What a caller presented: a bearer token or an API key."""

    token: str | None = None
    api_key: str | None = None


class SessionRevoked(Exception):
    """A live session's caller lost the right to what it streams; `reason` says why."""

    def __init__(self, reason: DomainError) -> None:
        super().__init__(reason.message)
        self.reason = reason


class PrincipalCache:
    """Who a credential belongs to, for a moment: saves a lookup on every request.

    Any account change in this process clears it at once; another server sees a change
    within the TTL (0 turns the cache off). A lookup that started before a clear does not
    store its (possibly stale) answer: `put` takes the generation read before the lookup."""

    def __init__(self, ttl_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._now = now
        self._entries: dict[str, tuple[float, Principal]] = {}
        self.generation = 0

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._now():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal, generation: int) -> Principal:
        if self._ttl > 0 and generation == self.generation:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (self._now() + self._ttl, principal)
        return principal

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


class LiveSession:
    """The caller of one long-lived connection, from the credential it opened with."""

    def __init__(
        self,
        accounts: Accounts,
        notices: AccountNotices,
        clock: Clock,
        credential: Credential,
        recheck_s: float,
    ) -> None:
        self._accounts = accounts
        self._notices = notices
        self._clock = clock
        self._credential = credential
        self._recheck_s = recheck_s

    async def principal(self) -> Principal:
        """The caller now (same cache and invalidation as a request); raises Unauthorized."""
        return await self._accounts.authenticate(self._credential)

    async def guard(
        self, principal: Principal, items: AsyncIterator[T], still_allowed: AccessCheck
    ) -> AsyncGenerator[T, None]:
        """`items` for as long as the caller may see them; then raises SessionRevoked.

        `still_allowed` is run on the caller re-resolved after every wake-up."""
        watcher = asyncio.create_task(self._until_revoked(principal, still_allowed))
        pending: asyncio.Task[T] | None = None
        try:
            while True:
                pending = asyncio.create_task(_next(items))
                await asyncio.wait({pending, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():  # a revocation wins over an item that came with it
                    raise SessionRevoked(watcher.result())
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                yield item
        finally:
            for task in (pending, watcher):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await task
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _until_revoked(self, principal: Principal, still_allowed: AccessCheck) -> DomainError:
        async with self._notices.watch(principal.user_id) as watch:
            current = principal
            while True:
                # First check at once: a change between the caller's own check and the
                # watch's start would otherwise wait for the next wake-up.
                try:
                    current = await self.principal()
                    await still_allowed(current)
                except DomainError as exc:
                    log.info("live session of user %s revoked: %s", principal.user_id, exc)
                    return exc
                except Exception:
                    # Storage trouble is not a revocation: try again at the next wake-up.
                    log.warning("re-checking a live session failed", exc_info=True)
                await watch.changed(self._wait_s(current))

    def _wait_s(self, principal: Principal) -> float:
        if principal.expires_at is None:
            return self._recheck_s
        left = (principal.expires_at - self._clock.now()).total_seconds()
        return min(self._recheck_s, max(0.0, left) + _EXPIRY_MARGIN_S)


async def _next(items: AsyncIterator[T]) -> T:
    return await anext(items)
