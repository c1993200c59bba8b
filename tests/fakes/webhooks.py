"""A webhook transport that answers 200 and records the X-Webhook-Id of every post."""

from __future__ import annotations

from domain.webhooks import AttemptResult


class RecordingTransport:
    def __init__(self) -> None:
        self.posted: list[str] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        self.posted.append(headers["X-Webhook-Id"])
        return AttemptResult(200, None, 1)

    async def close(self) -> None:
        return None
