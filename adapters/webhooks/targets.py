"""Resolves a webhook URL and checks every address it names against the target rules."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from adapters.net.addresses import AddressKind, IPAddress, ListeningAddress, classify, parse
from domain.ports import HostResolver
from domain.webhook_targets import RefusalReason, TargetRefused, WebhookTarget


class CheckedTargets:
    """Implements the WebhookTargets port: DNS once, every answer checked, one address kept."""

    def __init__(self, resolver: HostResolver, own: ListeningAddress) -> None:
        self._resolver = resolver
        self._own = own

    async def resolve(self, url: str, *, allow_private: bool) -> WebhookTarget:
        host, port, literal = _split(url)
        if not host or port is None:
            raise TargetRefused(RefusalReason.INVALID_URL, "not an http(s) URL with a host")
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await self._resolver.resolve(host, port)
            except LookupError:
                addresses = []
            if not addresses:
                raise TargetRefused(RefusalReason.UNRESOLVABLE, f"host {host!r} not found")
        # Every address the name has must pass, not just the first: a name that answers
        # with a public and a private address is refused rather than raced.
        for text in addresses:
            address = _parse(text)
            if address is None:
                raise TargetRefused(RefusalReason.UNRESOLVABLE, f"host {host!r} not found")
            if self._own.matches(address, port):
                raise TargetRefused(
                    RefusalReason.OWN_ADDRESS,
                    f"{host}:{port} is this server's own address (a delivery loop)",
                )
            kind = _kind(address)
            if kind is not AddressKind.PUBLIC and not allow_private:
                shown = host if literal is not None else f"{host} ({address})"
                raise TargetRefused(
                    RefusalReason.PRIVATE_ADDRESS,
                    f"{shown} is a {kind.value.replace('_', '-')} address; such webhook "
                    "targets are allowed only where WEBHOOK_PRIVATE_URLS permits them "
                    "(by default: on instances owned by an admin)",
                )
        return WebhookTarget(url, str(_parse(addresses[0])))


# Both run once per delivery, on a handful of distinct URLs and addresses: cached, since the
# dispatcher's ceiling is set by the work it does per request.
@lru_cache(maxsize=4096)
def _split(url: str) -> tuple[str | None, int | None, IPAddress | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, None, None
    return parts.hostname, port, parse(parts.hostname)


@lru_cache(maxsize=4096)
def _parse(text: str) -> IPAddress | None:
    return parse(text)


@lru_cache(maxsize=4096)
def _kind(address: IPAddress) -> AddressKind:
    return classify(address)
