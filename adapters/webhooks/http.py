"""Posts webhook bodies with httpx: per-request timeout, any 2xx is success."""

from __future__ import annotations

import time

import httpx

from domain.webhooks import AttemptResult


class HttpWebhookTransport:
    def __init__(self, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return AttemptResult(None, "timeout", _ms(started))
        except httpx.HTTPError as exc:
            return AttemptResult(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        except Exception as exc:
            # Any failure to send is a failed attempt, never an error out of the dispatcher.
            return AttemptResult(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        error = None if response.is_success else f"HTTP {response.status_code}"
        return AttemptResult(response.status_code, error, _ms(started))

    async def close(self) -> None:
        await self._client.aclose()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
