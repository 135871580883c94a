"""Outbound request guard: a partner URL must not reach into our own network.

A partner entry is configuration that an administrator types (or pastes from an email), and
the worker fetches it with the server's network position: without this guard it could read
cloud metadata (169.254.169.254), loopback admin ports or the internal network. Every address
the host name resolves to must be a public one, unless the partner entry explicitly allows
private targets (a partner on the same private network; the loopback tests). Redirects are not
followed, so a public server cannot bounce a request inward.

Residual risk: DNS may answer differently between this check and the connection (rebinding);
deployments that need more should route partner traffic through an egress proxy.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from countersignal.errors import Forbidden, InvalidInput
from countersignal.netguard import is_public


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise unless ``url`` is http(s) to a host whose every address we may contact."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"partner URL must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise InvalidInput("partner URL has no host")
    if parts.username or parts.password:
        raise InvalidInput("put partner credentials in the partner entry, not in the URL")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"cannot resolve partner host {parts.hostname!r}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not is_public(address):
            raise Forbidden(
                f"partner host {parts.hostname!r} resolves to non-public address {address}; "
                "set allow_private_network on the partner entry if that is intended"
            )
