"""What kind of address an IP literal is, and whether it is this server's own listening address.

The one classifier for every request the server makes on a user's behalf (webhook targets
and media fetches), so "private" means the same thing everywhere. Addresses
that carry an IPv4 address inside IPv6 (mapped, NAT64, 6to4, Teredo) are judged by the IPv4
address they reach: `::ffff:127.0.0.1` is loopback, not an unusual IPv6 address. The Python
3.11 `is_global` alone gets several of those wrong (it calls 64:ff9b::7f00:1 global).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from enum import StrEnum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


class AddressKind(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link_local"
    SHARED = "shared"
    UNSPECIFIED = "unspecified"  # 0.0.0.0 and ::, which reach this host when dialled
    OTHER = "other"  # multicast, reserved, documentation and other non-routable ranges


def parse(text: str) -> IPAddress | None:
    """An IP literal (an IPv6 zone such as `%eth0` ignored), or None for a host name."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def effective(address: IPAddress) -> IPAddress:
    """The address a connection really reaches: the IPv4 one inside IPv6 forms that wrap it."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return address


def classify(address: IPAddress) -> AddressKind:
    a = effective(address)
    if a.is_unspecified:
        return AddressKind.UNSPECIFIED
    if a.is_loopback:
        return AddressKind.LOOPBACK
    if a.is_link_local:
        return AddressKind.LINK_LOCAL
    if isinstance(a, ipaddress.IPv4Address) and a in _SHARED:
        return AddressKind.SHARED
    if isinstance(a, ipaddress.IPv6Address) and a in _IPV4_COMPATIBLE:
        return AddressKind.OTHER
    if a.is_multicast or a.is_reserved:
        return AddressKind.OTHER
    if a.is_private:
        # 10/8, 172.16/12, 192.168/16, fc00::/7 — and the documentation ranges, which
        # Python files here too; none of them is reachable from the internet.
        return AddressKind.PRIVATE
    # The final word on "public" is the explicit range list below (the original address, so
    # 6to4 and Teredo are refused whatever they embed), not Python's version-dependent
    # `is_global`, which calls fec0::/10 and 2002::/16 global on 3.11.
    return AddressKind.PUBLIC if is_public_address(address) else AddressKind.OTHER


def is_public(address: IPAddress) -> bool:
    return classify(address) is AddressKind.PUBLIC


def assigned_here(address: IPAddress) -> bool:
    """Whether this machine has the address: binding to it (port 0) succeeds only then.

    No packet is sent. An answer other than "not available" (e.g. an IPv6 link-local address
    without its zone) counts as "ours": refusing a rare legitimate target beats a loop."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL
    return True


class ListeningAddress:
    """The server's own HOST:PORT. A target there would post back into this server.

    A wildcard HOST (0.0.0.0, ::) — or a host name, which may mean any of them — listens on
    every local address, so then any address of this machine on PORT is the server."""

    def __init__(
        self, host: str, port: int, *, is_local: Callable[[IPAddress], bool] = assigned_here
    ) -> None:
        parsed = parse(host)
        self._host = None if parsed is None else effective(parsed)
        self._port = port
        self._is_local = is_local

    def matches(self, address: IPAddress, port: int) -> bool:
        if port != self._port:
            return False
        target = effective(address)
        if target.is_unspecified:  # dialling 0.0.0.0 reaches this host
            return True
        if self._host is None or self._host.is_unspecified:
            return target.is_loopback or self._is_local(target)
        return target == self._host


# --- globally routable unicast: the explicit lists from IANA's special-purpose registries ---

_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata lives here)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)

# Only global unicast (2000::/3) can be public; everything outside it (loopback, ::,
# IPv4-compatible, unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
# multicast ff00::/8, discard 100::/64) is refused without a list.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments: Teredo (hides an IPv4 address), ORCHID, ...
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: embeds an IPv4 address, which may be a private one
        "3fff::/20",  # documentation
    )
)
# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached, so
# an IPv6-only host behind DNS64 can still fetch public media, but not private ones.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: IPAddress | str) -> bool:
    """True only for a globally routable unicast address (IPv4, or IPv6 with what it embeds)."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if address.scope_id or address not in _GLOBAL_UNICAST:
            return False
        return not any(address in net for net in _NOT_PUBLIC_V6)
    return not any(address in net for net in _NOT_PUBLIC_V4)
