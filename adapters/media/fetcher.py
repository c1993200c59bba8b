"""Downloads media from a URL with a size cap, a timeout and an SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from email.message import Message as HeaderMessage
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from domain.errors import ValidationFailed
from domain.ports import FetchedFile

MAX_REDIRECTS = 5


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _file_name(response: httpx.Response, url: str) -> str | None:
    disposition = response.headers.get("content-disposition")
    if disposition:
        header = HeaderMessage()
        header["content-disposition"] = disposition
        name = header.get_filename()
        if name:
            return name
    path = unquote(urlsplit(url).path)
    tail = path.rsplit("/", 1)[-1]
    return tail or None


class HttpMediaFetcher:
    def __init__(self, max_bytes: int, timeout_s: float, allow_private: bool) -> None:
        self._max = max_bytes
        self._timeout = timeout_s
        self._allow_private = allow_private

    async def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("'url' must be an http:// or https:// URL", {"field": "url"})
        if self._allow_private:
            return
        host = parts.hostname
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host,
                parts.port or (443 if parts.scheme == "https" else 80),
                type=socket.SOCK_STREAM,
            )
        except (socket.gaierror, UnicodeError):
            raise ValidationFailed(
                f"'url' host {host!r} cannot be resolved", {"field": "url"}
            ) from None
        for info in infos:
            address = ipaddress.ip_address(re.sub(r"%.*$", "", str(info[4][0])))
            if _refused(address):
                raise ValidationFailed(
                    f"'url' points to a private or local address ({address}); "
                    "set MEDIA_ALLOW_PRIVATE_URLS=true to allow it",
                    {"field": "url", "reason": "private_address"},
                )

    async def fetch(self, url: str) -> FetchedFile:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                return await asyncio.wait_for(self._fetch(client, url), self._timeout)
        except TimeoutError:
            raise ValidationFailed(
                f"'url' did not answer within {self._timeout:g} s",
                {"field": "url", "reason": "timeout"},
            ) from None
        except httpx.HTTPError as exc:
            raise ValidationFailed(
                f"'url' could not be fetched: {type(exc).__name__}",
                {"field": "url", "reason": "fetch_failed"},
            ) from None

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> FetchedFile:
        for _ in range(MAX_REDIRECTS + 1):
            # Every hop is checked: a public URL may redirect to an internal one.
            await self._check_host(url)
            async with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise ValidationFailed(
                        f"'url' answered HTTP {response.status_code}",
                        {"field": "url", "reason": "http_error", "status": response.status_code},
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self._max:
                    raise self._too_large()
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max:
                        raise self._too_large()
                    chunks.append(chunk)
                mime = response.headers.get("content-type", "").split(";", 1)[0].strip() or None
                return FetchedFile(b"".join(chunks), mime, _file_name(response, url))
        raise ValidationFailed(
            "'url' redirects too many times", {"field": "url", "reason": "redirects"}
        )

    def _too_large(self) -> ValidationFailed:
        return ValidationFailed(
            f"'url' serves more than the {self._max} bytes allowed",
            {"field": "url", "reason": "too_large"},
        )
