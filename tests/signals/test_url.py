"""URL canonical form and registrable domain."""

from __future__ import annotations

import pytest

from countersignal.errors import InvalidSignal
from countersignal.signals import hash_url
from countersignal.signals.url import canonical_url, registrable_domain


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7Euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/€", "https://example.com/%E2%82%AC"),
        ("https://example.com/p?b=2&a=1&a=0", "https://example.com/p?a=0&a=1&b=2"),
        ("https://example.com/p?utm_source=tw&UTM_Medium=x&id=7", "https://example.com/p?id=7"),
        ("https://example.com/p?fbclid=abc&gclid=def&si=x", "https://example.com/p"),
        ("https://example.com/p?q=a+b&flag", "https://example.com/p?flag&q=a+b"),
        ("https://example.com/p#section-2", "https://example.com/p"),
        ("https://user:secret@example.com/", "https://example.com/"),
        ("example.com/path", "http://example.com/path"),
        ("https://BÜCHER.de/", "https://xn--bcher-kva.de/"),
        ("https://example.com./", "https://example.com/"),
        ("http://[2001:DB8::0001]:80/", "http://[2001:db8::1]/"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical
    assert canonical_url(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.example.com", "example.com"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("someone.github.io", "someone.github.io"),
        ("t.me", "t.me"),
        ("192.0.2.7", "192.0.2.7"),
        ("co.uk", "co.uk"),
    ],
)
def test_registrable_domain(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


def test_hash_url_gives_both_signals() -> None:
    signals = hash_url("https://www.Example.com/watch?v=1&utm_campaign=x#t=30")
    assert [(s.type, s.value) for s in signals] == [
        ("url", "https://www.example.com/watch?v=1"),
        ("url_domain", "example.com"),
    ]


@pytest.mark.parametrize("bad", ["", "http://", "http://exa mple.com", "https://a..b/", "x" * 9000])
def test_invalid_urls(bad: str) -> None:
    with pytest.raises(InvalidSignal):
        canonical_url(bad)
