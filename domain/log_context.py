"""Which instance the running code is about, for the instance id on every log line.

Set around work done for one instance outside a request (engine events, deliveries); during
a request the route's `instance_id` is read by the log formatter itself (api/logs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_instance: ContextVar[str | None] = ContextVar("current_instance", default=None)


@contextmanager
def about_instance(instance_id: str) -> Iterator[None]:
    token = current_instance.set(instance_id)
    try:
        yield
    finally:
        current_instance.reset(token)
