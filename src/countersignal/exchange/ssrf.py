"""Outbound request guard for partner URLs: a thin use of :mod:`countersignal.netguard`.

A partner entry is configuration that an administrator types (or pastes from an email), and
the worker fetches it with the server's network position: without this guard it could read
cloud metadata (169.254.169.254), loopback admin ports or the internal network. Every address
the host name resolves to must be public, unless the partner entry explicitly allows private
targets (a partner on the same private network; the loopback tests), in which case the name is
not even resolved here. A refused destination is :class:`~countersignal.netguard.
BlockedDestination` (a :class:`Forbidden`: the sync records it as a failure, never as a
malformed page). The client connects to the address that passed (``pin``) and follows no
redirects.
"""

from __future__ import annotations

from countersignal import netguard
from countersignal.netguard import BlockedDestination, Pinned

__all__ = ["BlockedDestination", "Pinned", "check_url", "pin"]

WHAT = "partner"
HINT = "set allow_private_network on the partner entry if that is intended"


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise unless ``url`` is http(s) to a host whose every address we may contact."""
    netguard.parse_url(url, what=WHAT)
    if not allow_private:
        netguard.checked_addresses(url, what=WHAT, hint=HINT)


def pin(url: str, *, allow_private: bool = False) -> Pinned | None:
    """``url`` fixed to an address that passed the check; ``None`` when private targets are
    allowed (then the name is connected to as it is)."""
    netguard.parse_url(url, what=WHAT)
    if allow_private:
        return None
    return netguard.pin(url, what=WHAT, hint=HINT)
