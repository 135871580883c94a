"""Rate limits, failed-login throttling and URL fetching (SSRF rules), on a server configured
with small limits and fetching switched on for loopback (tests only)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from api.helpers import png
from countersignal.api.content import fetch_url, host_allowed
from countersignal.errors import ContentTooLarge, Forbidden, InvalidInput
from countersignal.settings import ApiSettings
from loopback import QuietHandler, serve_http

IMAGE = png(11)


class ContentHandler(QuietHandler):
    def do_GET(self):
        if self.path == "/image.png":
            self.reply(200, IMAGE, "image/png")
        elif self.path == "/big":
            self.reply(200, b"x" * 200_000, "application/octet-stream")
        elif self.path.startswith("/redirect"):
            self.reply(302, headers={"Location": self.path.removeprefix("/redirect?to=")})
        else:
            self.reply(404)


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with serve_http(ContentHandler) as server:
        yield server.url


@pytest.fixture(scope="module")
def limited(tmp_path_factory, origin):
    from api.conftest import Server, make_org, start_server, stop_server

    tmp = tmp_path_factory.mktemp("limited")
    url = f"sqlite:///{tmp / 'limited.db'}"
    env = {
        "COUNTERSIGNAL_DATABASE_URL": url,
        "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "2",
        "COUNTERSIGNAL_API_RATE_LIMIT_BURST": "3",
        "COUNTERSIGNAL_API_AUTH_FAILURES_PER_MINUTE": "3",
        "COUNTERSIGNAL_API_FETCH_ENABLED": "true",
        "COUNTERSIGNAL_API_FETCH_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        "COUNTERSIGNAL_API_FETCH_ALLOW_PRIVATE": "true",
        "COUNTERSIGNAL_API_FETCH_MAX_BYTES": "100000",
    }
    process, base, log, _ = start_server(tmp, env, [])
    try:
        srv = Server(base, url, process, log, "")
        srv.orgs["a"] = make_org(url, "Limited org")
        yield srv
    finally:
        stop_server(process)


def test_rate_limit_per_token(limited):
    with limited.client("a", "reviewer") as client:
        statuses = [client.get("/v1/me").status_code for _ in range(6)]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        limited_response = client.get("/v1/me")
        assert limited_response.status_code == 429
        assert limited_response.headers["content-type"] == "application/problem+json"
        assert int(limited_response.headers["retry-after"]) >= 1
        with limited.client("a", "auditor") as other:  # another token has its own bucket
            assert other.get("/v1/me").status_code == 200
        time.sleep(1.1)
        assert client.get("/v1/me").status_code == 200


def _polite_post(client, url: str, **kwargs):
    """POST as a good client does on this tightly limited server: honour Retry-After."""
    while True:
        response = client.post(url, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(int(response.headers["retry-after"]))


def test_fetch_by_url(limited, origin):
    with limited.client("a", "curator") as client:
        def fetch(path: str, route: str = "/v1/hash/url"):
            return _polite_post(client, route, json={"url": path})

        uploaded = _polite_post(client, "/v1/hash",
                                files={"file": ("i.png", IMAGE, "image/png")}).json()
        fetched = fetch(f"{origin}/image.png")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == uploaded
        assert fetch(f"{origin}/redirect?to=/image.png").json() == uploaded
        assert fetch(f"{origin}/image.png", "/v1/match/url").json()["matched"] is False
        assert fetch(f"{origin}/redirect?to=http://localhost:1/x").status_code == 403
        assert fetch(f"{origin}/big").status_code == 413
        assert fetch(f"{origin}/missing").status_code == 422
        assert fetch("file:///etc/passwd").status_code == 422


def test_fetch_is_off_by_default(server):
    with server.client("a", "curator") as client:
        response = client.post("/v1/hash/url", json={"url": "https://example.org/a.png"})
        assert response.status_code == 403 and "switched off" in response.json()["detail"]


def test_fetch_rules_without_escape_hatch(origin):
    settings = ApiSettings(fetch_enabled=True, fetch_allowed_hosts=["127.0.0.1", ".example.org"])
    with pytest.raises(Forbidden, match="not a public address"):
        fetch_url(f"{origin}/image.png", settings)
    for url in ("http://user:pw@127.0.0.1/", "gopher://127.0.0.1/", "http:///nohost"):
        with pytest.raises(InvalidInput):
            fetch_url(url, settings)
    with pytest.raises(Forbidden, match="allow-list"):
        fetch_url("http://169.254.169.254/latest/meta-data/", settings)
    assert host_allowed("cdn.example.org", [".example.org"])
    assert not host_allowed("example.org.evil.com", [".example.org"])
    assert not host_allowed("badexample.org", [".example.org"])
    capped = ApiSettings(fetch_enabled=True, fetch_allowed_hosts=["127.0.0.1"],
                         fetch_allow_private=True, fetch_max_bytes=1000)
    with pytest.raises(ContentTooLarge):
        fetch_url(f"{origin}/big", capped)


def test_failed_authentication_is_throttled(limited):
    """Runs last in this module: it uses up this client address's failure budget."""
    with limited.client() as anonymous:
        bad = {"Authorization": "Bearer cs_abcdefgh_" + "x" * 40}
        statuses = [anonymous.get("/v1/me", headers=bad).status_code for _ in range(5)]
        assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429
