"""Downloads media from a URL with a size cap, a timeout and an SSRF guard.

The guard resolves the host once, checks every address it resolves to, and then connects
to a checked address itself (the request keeps the original Host header and TLS server
name), so a DNS answer that changes between the check and the connection (DNS rebinding)
cannot lead the download to an internal address. Every redirect hop is checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from email.message import Message as HeaderMessage
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from adapters.net.addresses import is_public_address
from domain.errors import ValidationFailed
from domain.ports import FetchedFile

MAX_REDIRECTS = 5

# (host, port) -> the addresses to try, in order. Replaced in tests to map a made-up name.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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


def _refusal(address: str) -> ValidationFailed:
    return ValidationFailed(
        f"'url' points to a private or local address ({address}); "
        "set MEDIA_ALLOW_PRIVATE_URLS=true to allow it",
        {"field": "url", "reason": "private_address"},
    )


class HttpMediaFetcher:
    def __init__(
        self,
        max_bytes: int,
        timeout_s: float,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        trust: ssl.SSLContext | None = None,
    ) -> None:
        """`resolver` and `trust` (the CAs to verify servers with) default to the system's."""
        self._max = max_bytes
        self._timeout = timeout_s
        self._allow_private = allow_private
        self._resolve = resolver
        self._verify: ssl.SSLContext | bool = trust or True

    async def addresses(self, url: str) -> list[str]:
        """The checked addresses to connect to for `url`; raises ValidationFailed if refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed("'url' must be an http:// or https:// URL", {"field": "url"})
        host = parts.hostname
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                found = await self._resolve(host, port)
            except (OSError, UnicodeError, ValueError):
                found = []
            if not found:
                raise ValidationFailed(f"'url' host {host!r} cannot be resolved", {"field": "url"})
        if not self._allow_private:
            # All of them, not just the first: the one connected to must be a checked one,
            # and a name mixing public and private answers is refused outright.
            for address in found:
                if not is_public_address(address):
                    raise _refusal(address)
        return found

    async def fetch(self, url: str) -> FetchedFile:
        try:
            # trust_env=False: an HTTP_PROXY from the environment would resolve the name
            # again on its side, which is exactly what the pinned address prevents.
            async with httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, trust_env=False, verify=self._verify
            ) as client:
                return await asyncio.wait_for(self._fetch(client, url), self._timeout)
        except TimeoutError:
            raise ValidationFailed(
                f"'url' did not answer within {self._timeout:g} s",
                {"field": "url", "reason": "timeout"},
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ValidationFailed(
                f"'url' could not be fetched: {type(exc).__name__}",
                {"field": "url", "reason": "fetch_failed"},
            ) from None

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> FetchedFile:
        for _ in range(MAX_REDIRECTS + 1):
            # Every hop is checked: a public URL may redirect to an internal one.
            response = await self._open(client, url, await self.addresses(url))
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return await self._read(response, url)
            finally:
                await response.aclose()
        raise ValidationFailed(
            "'url' redirects too many times", {"field": "url", "reason": "redirects"}
        )

    async def _open(
        self, client: httpx.AsyncClient, url: str, addresses: list[str]
    ) -> httpx.Response:
        """GET `url` from the first of `addresses` that accepts a connection."""
        original = httpx.URL(url)
        failure: httpx.ConnectError | None = None
        for address in addresses:
            request = client.build_request(
                "GET",
                original.copy_with(host=address),
                # The server and its certificate are still asked for by name.
                headers={"Host": original.netloc.decode("ascii")},
                extensions={"sni_hostname": original.raw_host.decode("ascii")},
            )
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc  # e.g. an IPv6 answer on a host without IPv6: try the next
        assert failure is not None  # addresses() never answers an empty list
        raise failure

    async def _read(self, response: httpx.Response, url: str) -> FetchedFile:
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

    def _too_large(self) -> ValidationFailed:
        return ValidationFailed(
            f"'url' serves more than the {self._max} bytes allowed",
            {"field": "url", "reason": "too_large"},
        )
