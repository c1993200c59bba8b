"""The media fetcher against a real HTTP server on 127.0.0.1; names resolve through a
resolver the test hands in, so no lookup and no connection ever leaves 127.0.0.0/8."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme

from adapters.media.fetcher import HttpMediaFetcher
from domain.errors import ValidationFailed
from tests.local_http import PNG, local_http
from tests.realserver import free_port

NAME = "media.wamux-test.invalid"  # made up: only the test resolver knows it


class MapResolver:
    """Answers from a table and records every question."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return self.table[host]


@pytest.fixture(autouse=True)
def _no_system_lookup_of_the_made_up_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the fetcher to resolve the name again on its own (what DNS rebinding exploits),
    it would fail here instead of sending a DNS query out."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, (str, bytes)) and "wamux-test.invalid" in str(host):
            raise AssertionError(f"the system resolver was asked for {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def _port(base: str) -> int:
    port = urlsplit(base).port
    assert port is not None
    return port


async def test_policy_on_refuses_a_name_resolving_to_loopback_before_connecting() -> None:
    seen: list[tuple[str, str | None]] = []
    with local_http({"/a.png": (200, {"Content-Type": "image/png"}, PNG)}, seen) as base:
        port = _port(base)
        resolver = MapResolver({NAME: ["127.0.0.1"]})
        fetcher = HttpMediaFetcher(1_000_000, 5.0, allow_private=False, resolver=resolver)
        with pytest.raises(ValidationFailed) as err:
            await fetcher.fetch(f"http://{NAME}:{port}/a.png")
    assert err.value.details["reason"] == "private_address"
    assert "127.0.0.1" in err.value.message
    assert resolver.asked == [(NAME, port)]
    assert seen == []  # no connection was made


async def test_policy_off_connects_to_the_resolved_address_with_the_original_host() -> None:
    seen: list[tuple[str, str | None]] = []
    routes = {
        "/a.png": (200, {"Content-Type": "image/png"}, PNG),
        "/moved": (302, {"Location": "/a.png"}, b""),
    }
    with local_http(routes, seen) as base:
        port = _port(base)
        resolver = MapResolver({NAME: ["127.0.0.1"]})
        fetcher = HttpMediaFetcher(1_000_000, 5.0, allow_private=True, resolver=resolver)
        got = await fetcher.fetch(f"http://{NAME}:{port}/moved")
    assert got.data == PNG and got.mime_type == "image/png" and got.file_name == "a.png"
    # Each hop resolved once, by our resolver, and the server was asked for the name.
    assert resolver.asked == [(NAME, port), (NAME, port)]
    assert seen == [("/moved", f"{NAME}:{port}"), ("/a.png", f"{NAME}:{port}")]


async def test_the_next_checked_address_is_tried_when_one_refuses_the_connection() -> None:
    seen: list[tuple[str, str | None]] = []
    with local_http({"/a.png": (200, {"Content-Type": "image/png"}, PNG)}, seen) as base:
        port = _port(base)
        # 127.0.0.2 is loopback too, but nothing listens there on that port.
        resolver = MapResolver({NAME: ["127.0.0.2", "127.0.0.1"]})
        fetcher = HttpMediaFetcher(1_000_000, 5.0, allow_private=True, resolver=resolver)
        got = await fetcher.fetch(f"http://{NAME}:{port}/a.png")
    assert got.data == PNG
    assert seen == [("/a.png", f"{NAME}:{port}")]


async def test_every_resolved_address_must_be_public() -> None:
    # Only the check runs here (no fetch), so nothing is connected to even if it regressed.
    resolver = MapResolver(
        {
            "mixed.test": ["93.184.215.14", "10.0.0.5"],
            "shared.test": ["100.64.1.2"],
            "mapped.test": ["::ffff:127.0.0.1"],
            "public.test": ["93.184.215.14", "2606:4700:4700::1111"],
        }
    )
    fetcher = HttpMediaFetcher(1_000_000, 5.0, allow_private=False, resolver=resolver)
    for host in ("mixed.test", "shared.test", "mapped.test"):
        with pytest.raises(ValidationFailed) as err:
            await fetcher.addresses(f"https://{host}/x.png")
        assert err.value.details["reason"] == "private_address", host
    assert await fetcher.addresses("https://public.test/x.png") == [
        "93.184.215.14",
        "2606:4700:4700::1111",
    ]
    assert resolver.asked[-1] == ("public.test", 443)
    for literal in ("http://[fec0::1]/x", "http://[2002::1]/x", "http://100.64.0.1/x"):
        with pytest.raises(ValidationFailed):
            await fetcher.addresses(literal)


async def test_an_unknown_name_is_a_400_not_a_crash() -> None:
    fetcher = HttpMediaFetcher(1_000_000, 5.0, allow_private=False, resolver=MapResolver({}))
    with pytest.raises(ValidationFailed) as err:
        await fetcher.fetch(f"http://{NAME}/x.png")
    assert "cannot be resolved" in err.value.message


async def test_a_redirect_to_a_private_address_is_refused_at_that_hop() -> None:
    class FirstHopAllowed(HttpMediaFetcher):
        async def addresses(self, url: str) -> list[str]:
            if url.startswith(base + "/"):
                return ["127.0.0.1"]
            return await HttpMediaFetcher.addresses(self, url)

    # The second hop is loopback too, on a port where nothing listens: were the guard to
    # regress, the fetch would end in a refused connection ("fetch_failed"), never reach
    # another machine.
    closed = f"http://127.0.0.1:{free_port()}/secret"
    with local_http({"/hop": (302, {"Location": closed}, b"")}) as base:
        fetcher = FirstHopAllowed(1_000_000, 5.0, allow_private=False)
        with pytest.raises(ValidationFailed) as err:
            await fetcher.fetch(f"{base}/hop")
    assert err.value.details["reason"] == "private_address"


async def test_https_to_the_pinned_address_verifies_the_certificate_of_the_name() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(NAME).configure_cert(server_tls)
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc]
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    seen: list[tuple[str, str | None]] = []
    routes = {"/a.png": (200, {"Content-Type": "image/png"}, PNG)}
    with local_http(routes, seen, tls=server_tls) as base:
        port = _port(base)
        resolver = MapResolver({NAME: ["127.0.0.1"], "other.wamux-test.invalid": ["127.0.0.1"]})
        fetcher = HttpMediaFetcher(
            1_000_000, 5.0, allow_private=True, resolver=resolver, trust=client_tls
        )
        got = await fetcher.fetch(f"https://{NAME}:{port}/a.png")
        assert got.data == PNG
        assert names == [NAME] and seen == [("/a.png", f"{NAME}:{port}")]
        # The certificate is for NAME: asked under another name it does not verify.
        with pytest.raises(ValidationFailed) as err:
            await fetcher.fetch(f"https://other.wamux-test.invalid:{port}/a.png")
        assert err.value.details["reason"] == "fetch_failed"
    assert len(seen) == 1
