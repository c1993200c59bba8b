"""The server's Prometheus registry: what /metrics shows.

Counters move where things happen (requests, published events, webhook attempts, storage
commits); gauges are read when /metrics is scraped (`refresh`), from storage and from the
engine workers, so nothing is polled in between. One registry per app, not the process-wide
default, so several apps in one test process never share counts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from domain.ports import StorageGauges
from domain.wire import WorkerInfo

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Request latency: from a cached read (~1 ms) to a slow engine call (a minute).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


class _Snapshot(Collector):
    """The gauges read at scrape time; `refresh` replaces them all at once."""

    def __init__(self) -> None:
        self.storage = StorageGauges({}, 0)
        self.workers: list[WorkerInfo] = []

    def collect(self) -> Iterable[Metric]:
        instances = GaugeMetricFamily(
            "wamux_instances", "Instances by engine and status", labels=["engine", "status"]
        )
        for (engine, status), n in sorted(self.storage.instances.items()):
            instances.add_metric([engine, status], n)
        yield instances
        yield GaugeMetricFamily(
            "wamux_webhook_queue_depth",
            "Webhook deliveries waiting for their first or next attempt",
            value=self.storage.webhook_queue,
        )
        by_status: dict[str, int] = {}
        rss = GaugeMetricFamily(
            "wamux_engine_worker_memory_bytes",
            "Resident memory of each engine worker process",
            labels=["worker"],
        )
        restarts = CounterMetricFamily(
            "wamux_engine_worker_restarts",
            "Times each engine worker process was replaced after it died",
            labels=["worker"],
        )
        for worker in self.workers:
            by_status[worker.status] = by_status.get(worker.status, 0) + 1
            if worker.rss_bytes is not None:
                rss.add_metric([worker.id], worker.rss_bytes)
            restarts.add_metric([worker.id], worker.restarts)
        workers = GaugeMetricFamily(
            "wamux_engine_workers", "Engine worker processes by status", labels=["status"]
        )
        for status, n in sorted(by_status.items()):
            workers.add_metric([status], n)
        yield workers
        yield rss
        yield restarts


class Metrics:
    """Every metric of one server. The `observe_*` methods are the hooks the rest calls."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter(
            "wamux_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "wamux_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.messages = Counter(
            "wamux_messages",
            "Messages sent and received (sent: accepted by the engine for sending)",
            ["direction"],
            registry=r,
        )
        self.events = Counter(
            "wamux_events", "Instance events recorded, by type", ["type"], registry=r
        )
        self.reconnects = Counter(
            "wamux_instance_reconnects",
            "Instances that connected again after having been connected in this process",
            registry=r,
        )
        self.webhook_attempts = Counter(
            "wamux_webhook_attempts",
            "Webhook delivery attempts by outcome (delivered, http_status, timeout, ...)",
            ["outcome"],
            registry=r,
        )
        self.webhook_failures = Counter(
            "wamux_webhook_failures",
            "Webhook delivery attempts that did not deliver, by outcome",
            ["outcome"],
            registry=r,
        )
        self.webhook_latency = Histogram(
            "wamux_webhook_delivery_latency_seconds",
            "From the event's enqueueing to its delivery's 2xx answer, retries included",
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.write_batches = Histogram(
            "wamux_storage_write_batch_units",
            "Units of work committed together by the storage writer (group commit)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.commit_latency = Histogram(
            "wamux_storage_commit_seconds",
            "Time one storage COMMIT took",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self._snapshot = _Snapshot()
        r.register(self._snapshot)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._connected: set[str] = set()

    # --- hooks --------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: once per key
            if method not in METHODS:
                method = "OTHER"
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_event(self, instance_id: str, event_type: str) -> None:
        self.events.labels(event_type).inc()
        if event_type == "message_sent":
            self.messages.labels("sent").inc()
        elif event_type == "message_received":
            self.messages.labels("received").inc()
        elif event_type == "connected":
            if instance_id in self._connected:
                self.reconnects.inc()
            self._connected.add(instance_id)

    def observe_webhook_attempt(self, outcome: str, enqueued_at: datetime | None) -> None:
        self.webhook_attempts.labels(outcome).inc()
        if outcome != "delivered":
            self.webhook_failures.labels(outcome).inc()
        elif enqueued_at is not None:
            lag = datetime.now(enqueued_at.tzinfo) - enqueued_at
            self.webhook_latency.observe(max(lag.total_seconds(), 0.0))

    def write_batch(self, units: int, commit_seconds: float) -> None:
        """domain.ports.StorageTelemetry: the writer calls this after each COMMIT."""
        self.write_batches.observe(units)
        self.commit_latency.observe(commit_seconds)

    # --- scrape ---------------------------------------------------------------------------

    async def render(
        self,
        storage: Callable[[], Awaitable[StorageGauges]],
        workers: Callable[[], Awaitable[list[WorkerInfo]]],
    ) -> bytes:
        self._snapshot.storage = await storage()
        self._snapshot.workers = await workers()
        return generate_latest(self.registry)
