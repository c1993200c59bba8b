"""The media fetcher's address classifier, on literal addresses only (no traffic is sent)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from adapters.net.addresses import is_public_address

NOT_PUBLIC = [
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "100.127.255.254",
    "2002::1",  # 6to4
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "fec0::1",  # site-local
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:100.64.0.1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "127.0.0.1",
    "127.255.0.9",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",  # unique local
    "fd12:3456::1",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",
    "192.0.2.1",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "2001:db8::1",
    "3fff::1",
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "192.0.0.9",  # IETF protocol assignments
    "192.88.99.1",  # 6to4 relay anycast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "2001::1",  # Teredo
    "2001:2::1",  # benchmarking
    "2001:20::1",  # ORCHIDv2
    "100::1",  # discard-only
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::1",  # local-use NAT64
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below the shared space
    "100.128.0.0",  # just above it
    "172.32.0.1",
    "192.0.3.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "2003::1",  # just past 6to4
    "::ffff:8.8.8.8",  # mapped public IPv4
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_not_globally_routable_addresses_are_refused(address: str) -> None:
    assert is_public_address(address) is False
    if "%" not in address:
        assert is_public_address(ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_globally_routable_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address) is True
    assert is_public_address(ip_address(address)) is True


def test_garbage_is_not_an_address() -> None:
    with pytest.raises(ValueError):
        is_public_address("localhost")
