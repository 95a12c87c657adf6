"""IpAddress and NotIpAddress: IPv4 and IPv6 CIDR ranges (a bare address is a /32 or /128).
Addresses compare as integers; an IPv4 request never falls in an IPv6 range, nor the reverse. A
request value that is not an address makes the condition false. No policy variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from iamd.policy.conditions.base import Context, OperatorFamily, ValueMatcher, register

Range = tuple[int, int, int]  # (version, first address, last address)


def parse_range(text: str) -> Range | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address)


@lru_cache(maxsize=4096)
def parse_address(text: str) -> tuple[int, int] | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version, int(address)


def check_range(text: str) -> str | None:
    return None if parse_range(text) is not None else f"{text!r} is not an IP address or CIDR range"


def _compile(values: tuple[str, ...], substitute: bool) -> ValueMatcher:
    ranges = [r for r in (parse_range(v) for v in values) if r is not None]

    def match(value: str, context: Context) -> bool | None:
        address = parse_address(value)
        if address is None:
            return None
        version, number = address
        return any(v == version and lo <= number <= hi for v, lo, hi in ranges)

    return match


register(
    OperatorFamily("IpAddress", False, False, _compile, check_range),
    OperatorFamily("NotIpAddress", True, False, _compile, check_range),
)
