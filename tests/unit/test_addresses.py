"""The shared address classifier, on literal addresses only: nothing is sent anywhere."""

from __future__ import annotations

import ipaddress

import pytest

from adapters.net.addresses import (
    AddressKind,
    ListeningAddress,
    assigned_here,
    classify,
    is_public,
    parse,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("127.0.0.1", AddressKind.LOOPBACK),
        ("127.255.0.9", AddressKind.LOOPBACK),
        ("::1", AddressKind.LOOPBACK),
        ("10.1.2.3", AddressKind.PRIVATE),
        ("172.16.0.1", AddressKind.PRIVATE),
        ("172.31.255.254", AddressKind.PRIVATE),
        ("192.168.1.10", AddressKind.PRIVATE),
        ("fd12:3456::1", AddressKind.PRIVATE),
        ("169.254.169.254", AddressKind.LINK_LOCAL),  # the cloud metadata service
        ("fe80::1", AddressKind.LINK_LOCAL),
        ("fe80::1%eth0", AddressKind.LINK_LOCAL),
        ("100.64.0.1", AddressKind.SHARED),
        ("100.127.255.254", AddressKind.SHARED),
        ("0.0.0.0", AddressKind.UNSPECIFIED),
        ("::", AddressKind.UNSPECIFIED),
        ("224.0.0.1", AddressKind.OTHER),  # multicast: Python calls it global
        ("255.255.255.255", AddressKind.OTHER),
        ("240.0.0.1", AddressKind.OTHER),
        # IPv4 inside IPv6 is judged by the IPv4 address it reaches
        ("::ffff:127.0.0.1", AddressKind.LOOPBACK),
        ("::ffff:10.0.0.1", AddressKind.PRIVATE),
        ("64:ff9b::7f00:1", AddressKind.LOOPBACK),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", AddressKind.LINK_LOCAL),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", AddressKind.LOOPBACK),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", AddressKind.OTHER),  # deprecated IPv4-compatible form
        ("8.8.8.8", AddressKind.PUBLIC),
        ("1.1.1.1", AddressKind.PUBLIC),
        ("172.32.0.1", AddressKind.PUBLIC),  # just outside 172.16/12
        ("100.128.0.1", AddressKind.PUBLIC),  # just outside 100.64/10
        ("2606:4700:4700::1111", AddressKind.PUBLIC),
        ("::ffff:8.8.8.8", AddressKind.PUBLIC),
        ("64:ff9b::808:808", AddressKind.PUBLIC),
    ],
)
def test_every_kind_of_literal_is_classified(text: str, kind: AddressKind) -> None:
    address = parse(text)
    assert address is not None
    assert classify(address) is kind
    assert is_public(address) is (kind is AddressKind.PUBLIC)


def test_host_names_are_not_literals() -> None:
    assert parse("localhost") is None
    assert parse("hooks.example.com") is None
    assert parse("[::1]") == ipaddress.ip_address("::1")


def test_bind_probe_knows_loopback_and_not_a_documentation_address() -> None:
    # bind() only: a probe sends no packet.
    assert assigned_here(ipaddress.ip_address("127.0.0.1"))
    assert not assigned_here(ipaddress.ip_address("192.0.2.1"))


def ours(*addresses: str) -> object:
    mine = {ipaddress.ip_address(a) for a in addresses}
    return lambda address: address in mine


def test_a_specific_listening_address_matches_itself_on_its_port_only() -> None:
    own = ListeningAddress("127.0.0.1", 3000, is_local=ours("127.0.0.1"))  # type: ignore[arg-type]
    assert own.matches(ipaddress.ip_address("127.0.0.1"), 3000)
    assert own.matches(ipaddress.ip_address("::ffff:127.0.0.1"), 3000)
    assert own.matches(ipaddress.ip_address("0.0.0.0"), 3000)  # dialling 0.0.0.0 lands here
    assert not own.matches(ipaddress.ip_address("127.0.0.1"), 3001)
    assert not own.matches(ipaddress.ip_address("127.0.0.2"), 3000)  # bound to .1 only


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "wamux.local"])
def test_a_wildcard_listening_address_is_every_local_address_on_its_port(host: str) -> None:
    own = ListeningAddress(host, 8080, is_local=ours("10.0.0.5", "fd00::5"))  # type: ignore[arg-type]
    for local in ("127.0.0.1", "127.0.0.2", "::1", "10.0.0.5", "fd00::5", "0.0.0.0", "::"):
        assert own.matches(ipaddress.ip_address(local), 8080), local
        assert not own.matches(ipaddress.ip_address(local), 8081), local
    assert not own.matches(ipaddress.ip_address("10.0.0.6"), 8080)  # another machine
    assert not own.matches(ipaddress.ip_address("8.8.8.8"), 8080)
