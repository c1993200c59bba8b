"""Delivers the webhook outbox: in order per instance, retried, surviving restarts.

Deliveries are rows written in the same transaction as their event, so nothing is lost
by a crash; a row stays `pending` until a receiver answered 2xx (then `succeeded`) or
every attempt failed (then `failed`). A delivery interrupted by a crash is sent again
with the same X-Webhook-Id, which receivers use to drop duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from domain.entities import Instance, User
from domain.ports import Clock, UnitOfWorkFactory, WebhookTransport
from domain.webhook_targets import RefusalReason, TargetRefused, WebhookTargetPolicy
from domain.webhooks import (
    AttemptResult,
    DeliveryStatus,
    Outcome,
    WebhookDelivery,
    headers_for,
)

log = logging.getLogger(__name__)

BATCH = 200  # deliveries of one instance read per query
LANE_QUEUE = 1_000  # deliveries an instance's lane keeps in memory before it reads them back
ALL_QUEUES = 100_000  # the same, for all lanes together
REMEMBERED = 5 * BATCH  # ids of recent outbox reads a lane keeps, to drop late hand-offs


class _Lane:
    """One instance's deliveries on their way: the worker, and what was handed over.

    `known` means every pending delivery of the instance is in `queue` or in the worker's
    hands, so the worker takes from `queue` and reads nothing. It becomes true only after a
    read of the outbox that found everything pending (and all of it due), and false again
    whenever the outbox may hold something the lane has not been handed: a retry scheduled,
    a manual retry, a full queue, a failed mark, a worker that died."""

    __slots__ = (
        "queue", "known", "collecting", "epoch", "nudge", "worker", "marking", "touched", "read",
    )  # fmt: skip

    def __init__(self) -> None:
        self.queue: deque[WebhookDelivery] = deque()
        self.known = False
        self.collecting = False  # an outbox read is under way: keep hand-offs for after it
        self.epoch = 0  # moved by every invalidation, so a read under way knows it is stale
        self.nudge = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None
        self.marking: set[asyncio.Future[None]] = set()  # outcomes not committed yet
        self.touched = time.monotonic()
        # Ids lately read from the outbox: a delivery's hand-off may come after a read that
        # already saw it committed (the read can end before the committing task resumes).
        self.read: dict[str, None] = {}

    def remember(self, batch: list[WebhookDelivery]) -> None:
        for delivery in batch:
            self.read[delivery.id] = None
        while len(self.read) > REMEMBERED:
            del self.read[next(iter(self.read))]

    def unread(self, deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
        """Those of `deliveries` no outbox read has returned (each is handed over once)."""
        if not self.read:
            return deliveries
        kept = []
        for delivery in deliveries:
            if delivery.id in self.read:
                del self.read[delivery.id]
            else:
                kept.append(delivery)
        return kept


class WebhookDispatcher:
    """Sends the outbox: one lane per instance, in order, at most one request in flight each.

    New deliveries are handed over by the recorder right after their commit, so the common
    case reads nothing back; the outbox itself is read on start, after a failure and by the
    poll (which also finds due retries). Outcomes of all lanes are stored together, one unit
    of work per round (`_Marks`). A crash loses nothing: a delivery is `pending` in the
    outbox until its outcome is committed, and is sent again (same X-Webhook-Id) after a
    restart if it was posted but not yet marked."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        transport: WebhookTransport,
        clock: Clock,
        targets: WebhookTargetPolicy,
        *,
        poll_interval_s: float = 1.0,
        max_parallel_instances: int = 64,
    ) -> None:
        self._uow = uow
        self._transport = transport
        self._targets = targets
        self._clock = clock
        self._poll = poll_interval_s
        self._slots = asyncio.Semaphore(max_parallel_instances)
        self._lanes: dict[str, _Lane] = {}
        self._queued = 0  # deliveries in all lanes' queues
        self._marks = _Marks(self._record, self._marks_failed)
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="webhooks:dispatcher")

    async def close(self) -> None:
        self._closing = True
        tasks = [self._loop_task] if self._loop_task is not None else []
        tasks += [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._marks.drain()  # what was answered is not sent again after a restart

    def handoff(self, instance_id: str, deliveries: list[WebhookDelivery]) -> None:
        """Deliveries just committed to the outbox (by the recorder, in commit order)."""
        lane = self._lane(instance_id)
        lane.touched = time.monotonic()
        deliveries = lane.unread(deliveries)
        if lane.known or lane.collecting:
            if (
                len(lane.queue) + len(deliveries) > LANE_QUEUE
                or self._queued + len(deliveries) > ALL_QUEUES
            ):
                self._invalidate(lane)  # too many to hold: the outbox has them
            else:
                lane.queue.extend(deliveries)
                self._queued += len(deliveries)
        self._go(instance_id, lane)

    def wake(self, instance_id: str) -> None:
        """The outbox of this instance changed otherwise (a manual retry): read it again."""
        lane = self._lane(instance_id)
        self._invalidate(lane)
        self._go(instance_id, lane)

    def _lane(self, instance_id: str) -> _Lane:
        lane = self._lanes.get(instance_id)
        if lane is None:
            lane = self._lanes[instance_id] = _Lane()
        return lane

    def _invalidate(self, lane: _Lane) -> None:
        lane.known = lane.collecting = False
        lane.epoch += 1
        self._queued -= len(lane.queue)
        lane.queue.clear()

    def _go(self, instance_id: str, lane: _Lane) -> None:
        if lane.worker is not None:
            lane.nudge.set()
        elif not self._closing:
            lane.nudge.clear()
            task = asyncio.create_task(
                self._worker(instance_id, lane), name=f"webhooks:{instance_id}"
            )
            lane.worker = task
            task.add_done_callback(lambda _: self._ended(instance_id, lane, task))

    def _ended(self, instance_id: str, lane: _Lane, task: asyncio.Task[None]) -> None:
        if lane.worker is not task:
            return
        lane.worker = None
        lane.touched = time.monotonic()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook lane of %s failed", instance_id, exc_info=task.exception())
            self._invalidate(lane)  # the poll starts it again from the outbox
            return
        # Handed something while finding nothing left: go again now, not at the next poll.
        if lane.nudge.is_set() and not self._closing:
            self._go(instance_id, lane)

    async def _run(self) -> None:
        while True:
            try:
                async with self._uow(read_only=True) as uow:
                    pending = await uow.webhooks.pending_instances()
                quiet = time.monotonic() - self._poll
                for instance_id in pending:
                    lane = self._lane(instance_id)
                    if lane.known:
                        # Pending rows of an idle lane that holds nothing: they can only be
                        # outcomes about to commit, or rows it was never handed. Once quiet
                        # for a whole interval, read them back.
                        if lane.worker or lane.queue or lane.marking or lane.touched > quiet:
                            continue
                        self._invalidate(lane)
                    if lane.worker is None:  # a busy or waiting lane reads when it is ready
                        self._go(instance_id, lane)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatcher poll failed; retrying")
            await asyncio.sleep(self._poll)

    async def _next(self, instance_id: str, lane: _Lane) -> list[WebhookDelivery] | None:
        """The lane's next deliveries in order: from memory when it knows them all, else read
        from the outbox. None when there is nothing left."""
        if lane.known:
            batch = [lane.queue.popleft() for _ in range(min(BATCH, len(lane.queue)))]
            self._queued -= len(batch)
            return batch or None
        # Outcomes of this lane still on their way would be read back as pending and sent twice.
        while lane.marking:
            await asyncio.wait(set(lane.marking))
        self._invalidate(lane)
        lane.collecting = True
        epoch = lane.epoch
        async with self._uow(read_only=True) as uow:
            batch = await uow.webhooks.pending(instance_id, BATCH)
        lane.remember(batch)
        if lane.epoch != epoch:
            return batch or await self._next(instance_id, lane)  # changed meanwhile: again
        lane.collecting = False
        now = self._clock.now()
        if len(batch) < BATCH and all(d.next_attempt_at <= now for d in batch):
            # The read found everything pending; what was handed over since it began either
            # is in it (committed before the read's snapshot) or came after all of it.
            found = {d.id for d in batch}
            later = [d for d in lane.queue if d.id not in found]
            self._queued += len(later) - len(lane.queue)
            lane.queue = deque(later)
            lane.known = True
        else:
            self._queued -= len(lane.queue)
            lane.queue.clear()
        return batch or None

    async def _worker(self, instance_id: str, lane: _Lane) -> None:
        """One instance's deliveries, oldest first; a failing head waits for its retry.

        At most one request of an instance is in flight, so a slow, hanging or looping
        receiver holds up only its own instance. Outcomes are stored in the background,
        together with other lanes' (a crash before that sends them again, with the same
        X-Webhook-Id, which receivers de-duplicate on anyway)."""
        while True:
            lane.nudge.clear()
            batch = await self._next(instance_id, lane)
            if batch is None:
                return
            head = batch[0]
            wait = (head.next_attempt_at - self._clock.now()).total_seconds()
            if wait > 0:
                self._invalidate(lane)  # read again once due
                # A retry is due later; a nudge (manual retry, new settings) may come first.
                try:
                    await asyncio.wait_for(lane.nudge.wait(), timeout=min(wait, 30.0))
                except TimeoutError:
                    pass
                continue
            async with self._uow(read_only=True) as uow:
                instance = await uow.instances.get(instance_id)
                # The owner's role now, not when the URL was saved (WEBHOOK_PRIVATE_URLS);
                # only the `admin` policy asks for it.
                owner = None
                if instance is not None and self._targets.needs_owner:
                    owner = await uow.users.get(instance.user_id)
            done: list[tuple[WebhookDelivery, AttemptResult]] = []
            try:
                for delivery in batch:
                    if delivery.next_attempt_at > self._clock.now():
                        self._invalidate(lane)  # not due yet: read again, wait at the top
                        break
                    # Slots bound concurrent requests, not waiting workers, so one
                    # instance's slow or failing receiver never holds up another's.
                    async with self._slots:
                        result = await self._send(delivery, instance, owner)
                    self._apply(delivery, result)
                    done.append((delivery, result))
                    if delivery.status is DeliveryStatus.PENDING:
                        # Failed, retry scheduled: later ones wait behind it, in the outbox.
                        self._invalidate(lane)
                        break
            finally:
                # Also on shutdown (or a bug) mid-batch: what was answered is not sent again.
                self._mark(lane, done)

    def _mark(self, lane: _Lane, done: list[tuple[WebhookDelivery, AttemptResult]]) -> None:
        if not done:
            return
        marked = self._marks.add(done)
        lane.marking.add(marked)
        marked.add_done_callback(lane.marking.discard)

    def _marks_failed(self, instance_ids: set[str]) -> None:
        # Sent, but still `pending` in the outbox: read back (and sent again) from there.
        for instance_id in instance_ids:
            self.wake(instance_id)

    async def attempt(
        self, delivery: WebhookDelivery, instance: Instance | None, owner: User | None
    ) -> AttemptResult:
        """Sends one attempt now and records its outcome."""
        result = await self._send(delivery, instance, owner)
        self._apply(delivery, result)
        await self._record([(delivery, result)])
        return result

    async def _send(
        self, delivery: WebhookDelivery, instance: Instance | None, owner: User | None
    ) -> AttemptResult:
        if instance is None or not instance.webhook_enabled or not instance.webhook_url:
            delivery.max_attempts = delivery.attempts + 1  # nowhere to send: give up now
            return AttemptResult(
                None, "webhooks are disabled for this instance", 0, Outcome.DISABLED
            )
        delivery.url = instance.webhook_url
        try:
            target = await self._targets.for_delivery(instance.webhook_url, owner)
        except TargetRefused as refused:
            failure = (
                Outcome.HOST_NOT_FOUND
                if refused.reason is RefusalReason.UNRESOLVABLE
                else Outcome.TARGET_REFUSED
            )
            return AttemptResult(None, f"refused: {refused.message}", 0, failure)
        body = delivery.body.encode("utf-8")
        return await self._transport.post(target, body, headers_for(delivery, instance))

    def _apply(self, delivery: WebhookDelivery, result: AttemptResult) -> None:
        now = self._clock.now()
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.last_duration_ms = result.duration_ms
        delivery.updated_at = now
        if result.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
        elif delivery.attempts >= delivery.max_attempts:
            delivery.status = DeliveryStatus.FAILED
            log.warning(
                "webhook %s (%s) of %s failed for good after %d attempt(s): %s",
                delivery.id,
                delivery.event,
                delivery.instance_id,
                delivery.attempts,
                result.error or result.status_code,
            )
        else:
            delivery.next_attempt_at = now + timedelta(milliseconds=delivery.retry_interval_ms)

    async def _record(self, done: list[tuple[WebhookDelivery, AttemptResult]]) -> None:
        """Stores a batch of outcomes in one transaction, with their webhookSent counts."""
        if not done:
            return
        sent: Counter[tuple[str, date]] = Counter(
            (d.instance_id, d.updated_at.date()) for d, result in done if result.ok
        )
        async with self._uow() as uow:
            await uow.webhooks.update_many([d for d, _ in done])
            # Counted in the same transaction: webhookSent never drifts.
            for (instance_id, day), count in sent.items():
                await uow.usage.add(instance_id, day, {"webhook_sent": count})
            await uow.commit()


class _Marks:
    """Outcomes of every lane, stored together: one unit of work per round, the next round
    gathering whatever finished while the last one was being committed."""

    def __init__(
        self,
        record: Callable[[list[tuple[WebhookDelivery, AttemptResult]]], Awaitable[None]],
        failed: Callable[[set[str]], None],
    ) -> None:
        self._record = record
        self._failed = failed
        self._waiting: list[tuple[WebhookDelivery, AttemptResult]] = []
        self._round: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def add(self, done: list[tuple[WebhookDelivery, AttemptResult]]) -> asyncio.Future[None]:
        """The future of the commit that will hold `done`."""
        self._waiting.extend(done)
        if self._round is None:
            self._round = asyncio.get_running_loop().create_future()
        if self._task is None:
            self._task = asyncio.create_task(self._flush(), name="webhooks:marks")
        return self._round

    async def _flush(self) -> None:
        try:
            while self._waiting:
                done, self._waiting = self._waiting, []
                marked, self._round = self._round, None
                assert marked is not None
                try:
                    await self._record(done)
                except Exception:
                    log.exception("storing %d webhook outcome(s) failed", len(done))
                    self._failed({d.instance_id for d, _ in done})
                finally:
                    marked.set_result(None)  # lanes waiting to read the outbox go on
        finally:
            self._task = None

    async def drain(self) -> None:
        while self._task is not None:
            await asyncio.shield(self._task)
