"""An event bus that records what was published."""

from __future__ import annotations

from typing import Any

from domain.entities import Event


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)

    def subscribe(self, instance_id: str) -> Any:
        raise NotImplementedError("unit tests do not subscribe")

    def subscribe_all(self) -> Any:
        raise NotImplementedError("unit tests do not subscribe")

    async def close(self) -> None:
        return None
