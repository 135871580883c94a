"""The SSRF guard: which URLs and network addresses an outbound request may reach. One
implementation for every caller: webhook deliveries (``actions.ssrf``), TAXII partner pulls and
pushes (``exchange.ssrf``) and, through :func:`is_public`, content fetched by URL.

A URL must be http(s), name a host and carry no credentials; every address its host resolves
to must be public (:func:`is_public`), unless the caller's administrator explicitly allowed
private destinations. :func:`pin` returns the URL fixed to an address that passed, so the
connection goes where the check looked: a rebinding DNS server gets no second lookup to answer
differently. Callers never follow redirects.

``ipaddress.is_global`` alone is not enough: an IPv6 address can carry an IPv4 destination
(IPv4-mapped ``::ffff:127.0.0.1``, IPv4-compatible ``::127.0.0.1``, 6to4 ``2002:7f00:1::``,
NAT64 ``64:ff9b::7f00:1``, Teredo), and Python 3.11 calls several of those global. The carried
address must be public too. Multicast is never a request target.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from countersignal.errors import Forbidden, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedDestination(Forbidden):
    """The URL's host resolves to a private, loopback, link-local or otherwise internal
    address."""

    title = "Destination not allowed"


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


def parse_url(url: str, *, what: str = "outbound") -> SplitResult:
    """``url`` split, if it is http(s) with a host and no ``user:password@``; else
    :class:`InvalidInput` (``what`` names the URL in the message: "webhook", "partner")."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"{what} URL {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"{what} URL must be http(s)://host/..., not {parts.scheme!r}")
    if not parts.hostname:
        raise InvalidInput(f"{what} URL {url!r} has no host; it must be http(s)://host/...")
    try:
        parts.hostname.encode("idna")
    except UnicodeError as exc:
        raise InvalidInput(f"{what} URL {url!r} has a host name that cannot be used: {exc}") \
            from None
    if parts.username or parts.password:
        raise InvalidInput(
            f"{what} URLs must not carry credentials (user:password@); they are configured "
            "separately"
        )
    return parts


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, *, what: str = "outbound") -> list[IPAddress]:
    """Every address ``host`` resolves to (duplicates dropped, ``%zone`` stripped), or
    :class:`InvalidInput` when it resolves to none (also for names IDNA cannot encode)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"cannot resolve {what} host {host!r}: {exc}") from None
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos)
    )
    if not addresses:
        raise InvalidInput(f"{what} host {host!r} has no addresses")
    return addresses


def checked_addresses(
    url: str, *, allow_private: bool = False, what: str = "outbound", hint: str = ""
) -> list[IPAddress]:
    """Every address ``url``'s host resolves to, each allowed by the rules above; raises
    :class:`InvalidInput` for a bad URL or host and :class:`BlockedDestination` for an
    internal address (``hint`` says how an administrator may allow it)."""
    parts = parse_url(url, what=what)
    addresses = resolve(parts.hostname or "", default_port(parts), what=what)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise BlockedDestination(
                    f"{what} host {parts.hostname!r} resolves to {address}, which is not a "
                    f"public address; {hint or 'private destinations must be allowed explicitly'}"
                )
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A request target fixed to an address that passed the check: connecting by name would
    resolve again, and a rebinding DNS server could answer with an internal address."""

    url: str  # the checked address in place of the host name
    host_header: str
    sni_hostname: str  # TLS still verifies the certificate against the name


def pin(url: str, *, allow_private: bool = False, what: str = "outbound", hint: str = "") -> Pinned:
    """``url`` checked, with its host replaced by the first address that passed."""
    parts = parse_url(url, what=what)
    address = checked_addresses(url, allow_private=allow_private, what=what, hint=hint)[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Pinned(parts._replace(netloc=netloc).geturl(), parts.netloc, parts.hostname or "")
