"""Fakes of the webhook ports: a transport that answers 200 and records, a resolver we control."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from domain.webhook_targets import WebhookTarget
from domain.webhooks import AttemptResult


class RecordingTransport:
    def __init__(self) -> None:
        self.posted: list[str] = []
        self.targets: list[WebhookTarget] = []
        self._grew = asyncio.Event()

    async def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        self.posted.append(headers["X-Webhook-Id"])
        self.targets.append(target)
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


class StaticResolver:
    """Answers from a table and nothing else: no test ever asks a real DNS server.

    Names not in the table do not exist (LookupError), so a URL with such a host is saved
    (it may exist later) but never posted to. `asked` records every lookup."""

    def __init__(self, table: Mapping[str, list[str]] | None = None) -> None:
        self.table = {"localhost": ["127.0.0.1"], **(table or {})}
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        found = self.table.get(host.lower().rstrip("."))
        if not found:
            raise LookupError(f"{host!r} cannot be resolved")
        return list(found)
