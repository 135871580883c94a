"""Which network addresses an outbound request may reach: the one rule every SSRF guard
(webhooks, TAXII partners, fetch-by-URL) applies to each address a host name resolves to.

``ipaddress.is_global`` alone is not enough: an IPv6 address can carry an IPv4 destination
(IPv4-mapped ``::ffff:127.0.0.1``, IPv4-compatible ``::127.0.0.1``, 6to4 ``2002:7f00:1::``,
NAT64 ``64:ff9b::7f00:1``, Teredo), and Python 3.11 calls several of those global. The carried
address must be public too. Multicast is never a request target.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 destinations an IPv6 address stands for (none for a plain IPv6 address)."""
    carried = []
    if address.ipv4_mapped is not None:
        carried.append(address.ipv4_mapped)
    if int(address) >> 32 == 0:  # IPv4-compatible ::a.b.c.d (and ::, ::1)
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    return carried


def is_public(address: str | IPAddress) -> bool:
    """True when ``address`` (a literal; a ``%zone`` suffix is ignored) is globally routable,
    not multicast, and carries no IPv4 destination that is not."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return all(is_public(inner) for inner in carried_ipv4(ip))
    return True
