"""Posts webhook bodies with aiohttp to the address that was checked: timeout, 2xx is success.

aiohttp, not httpx: against the same local receiver in the same run it posts several times
faster (bench/webhooks.py prints both), and the dispatcher's ceiling is its client's.

The request goes to the checked IP literal with the URL's host in the Host header (and, for
https, in SNI and the certificate check), so the host is never resolved a second time. Pooled
connections are keyed by that IP (and SNI name): a connection opened for one check is reused
only by requests whose own check chose the same address.
"""

from __future__ import annotations

import asyncio
import errno
import time
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import aiohttp
from yarl import URL

from domain.webhook_targets import WebhookTarget
from domain.webhooks import AttemptResult, Outcome

MAX_ANSWER_BYTES = 64 * 1024  # read (and drop) at most this much of an answer's body


class HttpWebhookTransport:
    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # No pool-wide cap: the dispatcher bounds requests per instance, so one
                # tenant's hanging receiver cannot use up connections the others need.
                connector=aiohttp.TCPConnector(limit=0, use_dns_cache=False),
                timeout=self._timeout,
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str]
    ) -> AttemptResult:
        started = time.perf_counter()
        if not all(_sendable(k) and _sendable(v) for k, v in headers.items()):
            return AttemptResult(
                None,
                "invalid request: a header cannot be encoded for HTTP",
                _ms(started),
                Outcome.INVALID_REQUEST,
            )
        url, host_header, auth, server_hostname = _request_shape(target.url, target.address)
        sent = {**headers, "Host": host_header}
        try:
            async with self._client().post(
                url,
                data=body,
                headers=sent,
                auth=auth,
                allow_redirects=False,
                server_hostname=server_hostname,
            ) as response:
                status = response.status
                await _drain(response)
        except TimeoutError:
            return AttemptResult(None, "timeout", _ms(started), Outcome.TIMEOUT)
        except aiohttp.ClientConnectorError as exc:
            if exc.os_error.errno == errno.ECONNREFUSED:
                return AttemptResult(
                    None, "connection refused", _ms(started), Outcome.CONNECTION_REFUSED
                )
            return _failed(started)
        except (aiohttp.ClientError, OSError, ValueError, asyncio.IncompleteReadError):
            return _failed(started)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return AttemptResult(status, error, _ms(started))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@lru_cache(maxsize=4096)
def _request_shape(
    target_url: str, address: str
) -> tuple[URL, str, aiohttp.BasicAuth | None, str | None]:
    """Where to connect, the Host header, credentials and TLS name for a checked target:
    the same few targets come back on every delivery, so this is worked out once each."""
    parts = urlsplit(target_url)
    literal = f"[{address}]" if ":" in address else address
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    path = parts.path or "/"
    url = URL(
        f"{parts.scheme}://{literal}:{port}{path}" + (f"?{parts.query}" if parts.query else ""),
        encoded=True,
    )
    host = parts.hostname or ""
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    auth = None
    if parts.username is not None:
        auth = aiohttp.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    return url, host_header, auth, host if parts.scheme == "https" else None


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Reads a small answer whole so its connection is reused; a large one is cut off."""
    read = 0
    async for chunk in response.content.iter_chunked(16 * 1024):
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            response.close()
            return


def _sendable(text: str) -> bool:
    return text.isascii() and "\r" not in text and "\n" not in text


def _failed(started: float) -> AttemptResult:
    # Deliberately no exception text: what failed where is not the caller's business.
    return AttemptResult(None, "connection failed", _ms(started), Outcome.CONNECTION_FAILED)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
