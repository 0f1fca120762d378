"""Who is asking: the TCP peer, or, only when the peer is a proxy the operator trusts (`server.trusted-proxies`),
the address that proxy reports in X-Forwarded-For.

Limits keyed by the client (the keyless demo's per-address rate) must not take a new identity from a header any
script can write, and must not lump every visitor together behind nginx. So X-Forwarded-For is read from the right,
only through hops that are trusted proxies, and the first address that is not one is the client."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks ("10.0.0.0/8", "::1"); raises ValueError naming the entry that is neither."""
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """`peer`: the TCP peer; `forwarded_for`: every X-Forwarded-For header line, in order. Without trusted proxies
    (the default) this is the peer, whatever the headers say."""
    current = _address(peer or "")
    if current is None:
        return peer or "unknown"
    if not trusted or not _trusted(current, trusted):
        return str(current)
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # a garbled hop: nothing left of it can be believed; the last proxy is the client we know
        current = address
        if not _trusted(current, trusted):
            break
    return str(current)
