"""Hostile and malformed requests get a clear 4xx problem, never a 500."""

from __future__ import annotations

import io
import socket
import time

import httpx
import numpy as np
from PIL import Image

from api.helpers import mistyped_tiff, png

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:countersignal:problem:")
    assert body["title"] and body["detail"] and body["instance"].startswith("/")
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_authentication_failures(server):
    with server.client() as anonymous:
        missing = anonymous.get("/v1/banks")
        assert_problem(missing, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        for token in ("nonsense", "cs_abcdefgh_" + "x" * 40, server.orgs["a"].tokens["admin"][:-1]):
            assert_problem(anonymous.get("/v1/banks", headers={"Authorization": f"Bearer {token}"}),
                           401)
        assert_problem(anonymous.get("/v1/banks", headers={"Authorization": "Basic eDp5"}), 401)


def test_revoked_token_stops_working(server):
    from countersignal.auth import Principal, issue_token, revoke_token

    operator = Principal.system("tests")
    sessions = server.sessions()
    with sessions.begin() as session:
        token, secret = issue_token(session, by=operator, organisation_id=server.orgs["b"].id,
                                    name="to revoke", roles=["reviewer"])
    with server.client(token=secret) as client:
        assert client.get("/v1/me").status_code == 200
        with sessions.begin() as session:
            revoke_token(session, token.id, by=operator)
        sessions.kw["bind"].dispose()
        time.sleep(0.7)  # the server trusts a good token for 0.5 s in these tests
        assert_problem(client.get("/v1/me"), 401)


def test_malformed_json_and_wrong_types(a):
    bad_json = a.post("/v1/banks", content=b'{"name": "x",', headers={
        "content-type": "application/json"})
    assert "JSON" in assert_problem(bad_json, 400)["title"]
    wrong_type = a.post("/v1/banks", json={"name": ["not", "a", "string"]})
    problem = assert_problem(wrong_type, 422)
    assert problem["errors"][0]["loc"] == ["body", "name"]
    assert "not" not in str(problem["errors"])  # the input is never echoed back
    assert_problem(a.post("/v1/banks", json=[1, 2, 3]), 422)
    assert_problem(a.post("/v1/banks", content=b"name=x",
                          headers={"content-type": "application/x-www-form-urlencoded"}), 422)
    assert_problem(a.post("/v1/match/signals", json={"signals": [{"type": "pdq", "value": 5}]}),
                   422)
    assert_problem(a.get("/v1/banks/x/items", params={"limit": "lots"}), 422)


def test_naive_datetimes_are_rejected(server):
    with server.client("a", "auditor") as auditor:
        assert_problem(auditor.get("/v1/audit", params={"since": "2024-01-01T00:00:00"}), 422)
        ok = auditor.get("/v1/audit", params={"since": "2024-01-01T00:00:00Z"})
        assert ok.status_code == 200
        assert_problem(auditor.get("/v1/audit", params={"before_seq": 10**40}), 422)


def test_unknown_routes_and_methods(a):
    assert_problem(a.get("/v1/nothing-here"), 404)
    assert_problem(a.put("/v1/banks"), 405)


def test_oversized_bodies(server, a):
    big = b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    assert_problem(a.post("/v1/banks", content=big, headers={"content-type": "application/json"}),
                   413)

    def chunks():
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    # Chunked transfer (no Content-Length): counted as it arrives.
    streamed = a.post("/v1/banks", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413)

    # A Content-Length that is not a number never reaches a route.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/banks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
                     b"Authorization: Bearer " + server.orgs["a"].tokens["curator"].encode()
                     + b"\r\ncontent-type: application/json\r\n\r\n{}")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 4")


def test_hostile_media(a):
    truncated = png(3)[:200]
    assert_problem(a.post("/v1/hash", files={"file": ("t.png", truncated, "image/png")}), 415)
    assert_problem(a.post("/v1/hash", files={"file": ("e.png", b"", "image/png")}), 415)
    mistyped = assert_problem(
        a.post("/v1/hash", files={"file": ("m.tif", mistyped_tiff(), "image/tiff")}), 415)
    assert "corrupt" in mistyped["detail"]

    bomb = io.BytesIO()  # 20000 x 20000 pixels of one colour: tiny file, 400 MP decoded
    Image.new("L", (20000, 20000)).save(bomb, "PNG")
    assert_problem(a.post("/v1/hash", files={"file": ("bomb.png", bomb.getvalue(),
                                                      "image/png")}), 413)

    not_utf8 = a.post("/v1/hash", files={"file": ("t.txt", b"\xff\xfe\xfa" * 100, "text/plain")})
    assert_problem(not_utf8, 415)

    no_file = a.post("/v1/hash", data={"dihedral": "true"})
    assert_problem(no_file, 422)

    random_bytes = np.random.default_rng(0).bytes(5000)
    digests = a.post("/v1/hash", files={"file": ("r.bin", random_bytes, "application/x-foo")})
    assert digests.status_code == 200
    assert {s["type"] for s in digests.json()["signals"]} == {"md5", "sha256"}
