"""A webhook transport that answers 200 and records the X-Webhook-Id of every post."""

from __future__ import annotations

import asyncio

from domain.webhooks import AttemptResult


class RecordingTransport:
    def __init__(self) -> None:
        self.posted: list[str] = []
        self._grew = asyncio.Event()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        self.posted.append(headers["X-Webhook-Id"])
        self._grew.set()
        return AttemptResult(200, None, 1)

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        """Returns once `count` posts were made; TimeoutError after a generous deadline."""
        async with asyncio.timeout(timeout_s):
            while len(self.posted) < count:
                self._grew.clear()
                await self._grew.wait()

    async def close(self) -> None:
        return None
