"""URL signals: ``url`` (python-threatexchange's name; exact match on a canonical URL) and
``url_domain`` (the registrable domain, from the Public Suffix List bundled in the
``publicsuffixlist`` package, so no network is needed).

Canonical form, chosen so that the same page shared through different apps hashes the same:
scheme and host lower-cased; host IDNA-encoded (UTS #46, so ``BÜCHER.de`` and
``xn--bcher-kva.de`` agree); user info, default ports and the fragment dropped; dot
segments resolved; percent-encoding normalised (unreserved characters decoded, other escapes
upper-case, raw non-ASCII encoded as UTF-8); a trailing ``/`` removed except for the root
path; tracking parameters removed (``utm_*``, ``fbclid``, ``gclid`` and the others in
``TRACKING_PARAMS``) and the remaining query pairs sorted. A URL without a scheme is read
as ``http://``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import idna
from publicsuffixlist import PublicSuffixList

from countersignal.errors import InvalidSignal
from countersignal.signals.base import ExactSignalType, Signal

MAX_URL_CHARS = 8192
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "mkt_tok", "ref_src",
        "ref_url", "oly_anon_id", "oly_enc_id", "vero_id", "wickedid", "_hsenc", "_hsmi",
        "s_cid", "srsltid", "si",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def canonical_url(url: str) -> str:
    """The canonical form of a URL (see the module docstring); raises InvalidSignal."""
    if not isinstance(url, str):
        raise InvalidSignal(f"url must be a string, not {type(url).__name__}")
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS or any(ord(c) < 32 for c in url):
        raise InvalidSignal(f"{url[:80]!r} is not a URL (empty, too long or control characters)")
    if not _SCHEME.match(url):
        url = "http://" + url.removeprefix("//")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidSignal(f"{url[:80]!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = canonical_host(parts.hostname or "")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = _normalise_escapes(_remove_dot_segments(parts.path), safe="/!$&'()*+,;=:@")
    if not path:
        path = "/"
    elif len(path) > 1:
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, _canonical_query(parts.query), ""))


def canonical_host(host: str) -> str:
    """Lower-case, IDNA-encoded host; IP addresses in their compressed standard form."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise InvalidSignal("URL has no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return idna.encode(unquote(host), uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidSignal(f"{host[:80]!r} is not a valid host name: {exc}") from None


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so ``/a/./b/../c`` and ``/a/c`` agree."""
    output: list[str] = []
    segments = path.split("/")
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            continue
        output.append(segment)
    if segments[-1] in (".", "..") and output and output[-1] != "":
        output.append("")
    joined = "/".join(output)
    return joined if not path.startswith("/") or joined.startswith("/") else "/" + joined


def _normalise_escapes(text: str, *, safe: str) -> str:
    """Decode escapes of unreserved characters, re-encode everything else consistently."""
    decoded = re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in _UNRESERVED else "%" + m[1].upper(),
        text,
    )
    return quote(decoded, safe=safe + "%")


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        plain_key = unquote(key.replace("+", " ")).lower()
        if plain_key in TRACKING_PARAMS or plain_key.startswith(TRACKING_PREFIXES):
            continue
        safe = "!$'()*+,;=:@/?"
        pairs.append(
            (_normalise_escapes(key, safe=safe), "=" in item, _normalise_escapes(value, safe=safe))
        )
    pairs.sort()
    return "&".join(f"{k}={v}" if has_value else k for k, has_value, v in pairs)


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """``www.bbc.co.uk`` -> ``bbc.co.uk``; hosts on a private suffix keep their own label
    (``a.github.io``), since each is a separate site. IPs and bare suffixes stay as they are.
    """
    host = canonical_host(host)
    if ":" in host or host.replace(".", "").isdigit():
        return host
    return _suffixes().privatesuffix(host) or host


class URL(ExactSignalType):
    name: ClassVar[str] = "url"

    @classmethod
    def validate(cls, value: str) -> str:
        return canonical_url(value)


class URLDomain(ExactSignalType):
    name: ClassVar[str] = "url_domain"

    @classmethod
    def validate(cls, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidSignal(f"url_domain must be a string, not {type(value).__name__}")
        host = canonical_host(value)
        if registrable_domain(host) != host:
            suggestion = registrable_domain(host)
            raise InvalidSignal(f"{value[:80]!r} is not a registrable domain; try {suggestion!r}")
        return host


def hash_url(url: str) -> list[Signal]:
    """``url`` and ``url_domain`` signals of a URL."""
    canonical = canonical_url(url)
    host = urlsplit(canonical).hostname or ""
    return [Signal(URL.name, canonical), Signal(URLDomain.name, registrable_domain(host))]
