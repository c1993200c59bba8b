"""Which IP addresses the media fetcher may connect to: globally routable ones only.

`ipaddress.is_private`/`is_global` differ between Python versions and miss ranges that are
not public (3.11 calls 2002::/16 and fec0::/10 global and lets 100.64.0.0/10 through
`is_private`), so the ranges are listed here from IANA's special-purpose address registries.
One function, `is_public_address`, so the webhook policy's classifier can replace it.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

_NOT_PUBLIC_V4 = tuple(
    IPv4Network(net)
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
_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NOT_PUBLIC_V6 = tuple(
    IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments: Teredo (hides an IPv4 address), ORCHID, ...
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: embeds an IPv4 address, which may be a private one
        "3fff::/20",  # documentation
    )
)
# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached, so
# an IPv6-only host behind DNS64 can still fetch public media, but not private ones.
_NAT64 = IPv6Network("64:ff9b::/96")


def is_public_address(ip: IPAddress | str) -> bool:
    """True only for a globally routable unicast address (IPv4, or IPv6 with what it embeds)."""
    address = ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if address.scope_id or address not in _GLOBAL_UNICAST:
            return False
        return not any(address in net for net in _NOT_PUBLIC_V6)
    return not any(address in net for net in _NOT_PUBLIC_V4)
