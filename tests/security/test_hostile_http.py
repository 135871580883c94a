"""Hostile request bodies, encodings and names against the running server: each gets a clear
4xx, the server's memory stays flat, and it keeps answering. Complements tests/api (size
limits, malformed JSON, hostile media) with what those do not send."""

from __future__ import annotations

import gzip
import json
import secrets
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.budget import fuzz_settings

WRITE_METHODS = ("POST", "PUT", "PATCH")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _alive(stack) -> None:
    with stack.api(role=None) as client:
        assert client.get("/healthz").status_code == 200


def _api_write_routes(routes) -> list:
    return [r for r in routes if r.method in WRITE_METHODS and not r.path.startswith("/ui/")]


def test_deep_nesting_and_bad_utf8_in_every_json_route(stack, routes) -> None:
    bodies = {
        "deep arrays": b"[" * 200_000 + b"]" * 200_000,
        "deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "invalid UTF-8": b'{"name": "\xff\xfe\xc0\xaf"}',
        "lone surrogate escape": b'{"name": "\\ud800"}',
        "NaN": b'{"name": NaN}',
        "huge number": b'{"limit": 1' + b"0" * 5000 + b"}",
        "duplicate keys": b'{"name": "a", "name": {"$ne": 1}}',
    }
    with stack.api("admin") as admin:
        for route in _api_write_routes(routes):
            for name, body in bodies.items():
                content_type = ("application/taxii+json;version=2.1"
                                if route.path.startswith("/taxii2/") else "application/json")
                reply = admin.request(route.method, route.sample_path(), content=body,
                                      headers={"Content-Type": content_type})
                assert 400 <= reply.status_code < 500, (route.path, name, reply.status_code)
    _alive(stack)


def test_gzip_bodies_are_not_inflated(stack) -> None:
    """The server accepts no Content-Encoding: a 64 MiB gzip bomb (64 KiB on the wire) stays
    64 KiB of bytes that are not JSON, and the server's peak memory does not move."""
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), 9)
    inner = gzip.compress(json.dumps({"name": "gzipped"}).encode())
    before = _peak_rss_mib(stack.pid)
    with stack.api("admin") as admin:
        for body in (bomb, inner):
            reply = admin.post("/v1/banks", content=body, headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip"})
            assert 400 <= reply.status_code < 500, reply.status_code
    with stack.api("curator") as curator:
        upload = curator.post("/v1/hash", files={"file": ("bomb.gz", bomb, "application/gzip")})
        assert upload.status_code == 200  # hashed as the bytes it is, not unpacked
        assert {s["type"] for s in upload.json()["signals"]} == {"md5", "sha256"}
    assert _peak_rss_mib(stack.pid) - before < 48
    _alive(stack)


TRAVERSAL_NAMES = ["../../../../../../tmp/{tag}", "..\\..\\..\\tmp\\{tag}", "/tmp/{tag}",
                   "%2e%2e%2f%2e%2e%2ftmp%2f{tag}", "{tag}\x00.png", "C:\\tmp\\{tag}",
                   "....//....//tmp/{tag}", "\u202e{tag}gnp.exe"]


def test_uploaded_file_names_are_never_paths(stack, tmp_path) -> None:
    tag = f"cs-traversal-{secrets.token_hex(6)}"
    home = stack.log.parent
    with stack.api("curator") as curator:
        for template in TRAVERSAL_NAMES:
            name = template.format(tag=tag)
            reply = curator.post("/v1/hash",
                                 files={"file": (name, b"plain text body", "text/plain")})
            assert reply.status_code == 200, (name, reply.status_code)
    with stack.api("platform-client") as platform:
        for template in TRAVERSAL_NAMES:
            reply = platform.post("/v1/submissions", files={
                "file": (template.format(tag=tag), b"text " + secrets.token_bytes(8).hex().encode(),
                         "text/plain")}, data={"content_id": tag})
            assert reply.status_code in (201, 422), reply.text
    # The server's working folder (its home is inside), and where ../ and absolute names point.
    written = [*home.rglob(f"*{tag}*"), *Path("/tmp").glob(f"*{tag}*"), *Path("/").glob(f"*{tag}*")]
    assert not written, written


def test_multipart_abuse(stack) -> None:
    with stack.api("curator") as admin:
        many_files = [("file", (f"f{i}", b"x", "text/plain")) for i in range(5)]
        assert 400 <= admin.post("/v1/hash", files=many_files).status_code < 500
        many_fields = {f"field{i}": "x" for i in range(500)}
        reply = admin.post("/v1/hash", data=many_fields,
                           files={"file": ("a.txt", b"some text", "text/plain")})
        assert 400 <= reply.status_code < 500
        broken = admin.post("/v1/hash", content=b"--x\r\nContent-Disposition: form-data\r\n",
                            headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert 400 <= broken.status_code < 500
        no_boundary = admin.post("/v1/hash", content=b"abc",
                                 headers={"Content-Type": "multipart/form-data"})
        assert 400 <= no_boundary.status_code < 500
    _alive(stack)


def test_bad_bytes_in_paths_and_queries(stack) -> None:
    with stack.api("admin") as admin:
        for path in ("/v1/banks/%ff%fe", "/v1/banks/..%2f..%2f", "/v1/cases?status=%ff",
                     "/v1/banks?limit=99999999999999999999", "/v1/audit?after=%00",
                     "/v1/cases/" + "a" * 10_000):
            reply = admin.get(path)
            assert reply.status_code < 500, (path, reply.status_code)
    _alive(stack)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["name", "signals", "type", "value", "labels", "url", "events", "reason",
                         "until", "action", "text", "content_type", "tlp", "limit", "x"])
        | st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def write_routes(routes) -> list:
    return _api_write_routes(routes)


@fuzz_settings(examples=200, deadline_ms=10_000)
@given(data=st.data())
def test_random_json_to_every_write_route_is_never_a_server_error(stack, write_routes,
                                                                  data) -> None:
    route = data.draw(st.sampled_from(write_routes))
    body = data.draw(JSON_VALUES)
    with stack.api("admin") as admin:
        reply = admin.request(route.method, route.sample_path(), json=body)
    assert reply.status_code < 500, (route.method, route.path, body, reply.text[:300])
