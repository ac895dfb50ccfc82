"""
End-user IP addresses for per-IP limits: one key per person, not per spelling of an address.

IPv4-mapped IPv6 is its IPv4 address, a zone id is dropped, and IPv6 counts per network
(a /64 by default: one home or phone gets a whole /64, so per address is no limit at all).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

#: Where a proxy in front of the service usually sits: loopback and the private ranges.
DEFAULT_TRUSTED_PROXY_CIDRS: Final = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``text`` (zone id dropped, IPv4-mapped unmapped), or None if it is none."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def limit_key(text: str, ipv6_prefix_length: int = 64) -> str | None:
    """What the per-IP limit counts ``text`` as: an IPv4 address, or its IPv6 network."""
    address = parse_address(text)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.IPv6Network((address, ipv6_prefix_length), strict=False))


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """CIDR blocks (raises ValueError for one that is not)."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts)


def is_in(text: str, networks: Iterable[Network]) -> bool:
    """Whether the address in ``text`` is in one of ``networks``."""
    address = parse_address(text)
    return address is not None and any(address in network for network in networks)
