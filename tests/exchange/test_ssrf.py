"""The outbound guard on partner URLs (no network needed: IP literals and localhost)."""

from __future__ import annotations

import pytest

from countersignal.errors import Forbidden, InvalidInput
from countersignal.exchange.ssrf import check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/taxii2/",
        "http://localhost/taxii2/",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/api/",
        "https://192.168.0.10/api/",
        "http://[::1]/api/",
        "http://[fe80::1]/api/",
        "http://0.0.0.0/api/",
        "http://224.0.0.1/api/",
    ],
)
def test_private_loopback_link_local_and_multicast_refused(url):
    with pytest.raises(Forbidden):
        check_url(url)
    check_url(url, allow_private=True)  # an explicit partner setting lets it through


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/x", "file:///etc/passwd", "http:///nohost", "https://u:p@1.1.1.1/"]
)
def test_bad_schemes_hosts_and_inline_credentials(url):
    with pytest.raises(InvalidInput):
        check_url(url, allow_private=True)


def test_public_address_allowed():
    check_url("https://93.184.216.34/taxii2/api/")
