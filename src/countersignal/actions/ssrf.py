"""Outbound request guard for webhooks: a thin use of :mod:`countersignal.netguard`.

A webhook URL is chosen by a tenant, so without a guard it could make this server call its
database, cloud metadata service (169.254.169.254) or anything on loopback. Every address the
host name resolves to must be public unless the endpoint is explicitly marked
``allow_private`` by its administrator (tests on loopback set it). The check runs when the
endpoint is registered and again before every delivery (DNS answers change), and the delivery
connects to the address that passed (``pin``). Redirects are never followed.

A refused destination is :class:`BlockedDestination`, an :class:`InvalidInput` here: a tenant's
URL that is not acceptable (422), and for a delivery one more failed attempt, like a network
error, never an exception out of the worker.
"""

from __future__ import annotations

from countersignal import netguard
from countersignal.errors import InvalidInput
from countersignal.netguard import Pinned

__all__ = ["BlockedDestination", "Pinned", "check_url", "checked_addresses", "pin"]

WHAT = "webhook"
HINT = "an administrator must allow private destinations explicitly"


class BlockedDestination(InvalidInput):
    """The URL resolves to a private, loopback, link-local or otherwise internal address."""

    title = "Destination not allowed"


def checked_addresses(url: str, *, allow_private: bool = False) -> list[netguard.IPAddress]:
    """Every address ``url``'s host resolves to, each allowed by the netguard rules."""
    try:
        return netguard.checked_addresses(url, allow_private=allow_private, what=WHAT, hint=HINT)
    except netguard.BlockedDestination as exc:
        raise BlockedDestination(exc.message) from None


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Return ``url`` if it is http(s) with a host whose every address is public (or private
    addresses are explicitly allowed); raise :class:`BlockedDestination` otherwise."""
    checked_addresses(url, allow_private=allow_private)
    return url


def pin(url: str, *, allow_private: bool = False) -> Pinned:
    """``url`` checked, with its host replaced by the first address that passed."""
    try:
        return netguard.pin(url, allow_private=allow_private, what=WHAT, hint=HINT)
    except netguard.BlockedDestination as exc:
        raise BlockedDestination(exc.message) from None
