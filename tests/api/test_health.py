"""Health, readiness, OpenAPI and docs, metrics, request ids, and the demo seed."""

from __future__ import annotations

import re

from api.helpers import unique
from countersignal.api import create_app


def test_health_and_readiness(server):
    with server.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["sync_age_s"] < 5


def test_openapi_and_docs(server):
    with server.client() as anonymous:
        served = anonymous.get("/openapi.json").json()
        assert served == create_app().openapi()
        assert "/v1/match/signals" in served["paths"]
        problem = served["paths"]["/v1/banks"]["post"]["responses"]["422"]["content"]
        assert "application/problem+json" in problem
        docs = anonymous.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_request_id_is_echoed_or_made(server):
    with server.client() as anonymous:
        assert anonymous.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
            "x-request-id"] == "abc-123"
        unsafe = "not a safe id; drop table"
        made = anonymous.get("/healthz", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert made != unsafe and len(made) == 32 and made.isalnum()


def test_metrics_need_admin(server):
    with server.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with server.client("a", "curator") as curator:
        curator.post("/v1/banks", json={"name": unique("m")})
        assert curator.get("/metrics").status_code == 403
    with server.client("a", "admin") as admin:
        text = admin.get("/metrics").text
    assert 'countersignal_http_requests_total{method="POST",route="/v1/banks",status="201"}' in text
    assert re.search(r'countersignal_matcher_ready\{pid="\d+"\} 1\.0', text)
    assert "countersignal_http_request_duration_seconds_bucket" in text


def test_demo_is_seeded_once(server, sqlite_url):
    from countersignal.cli.serve import seed_demo
    from countersignal.db import make_engine, migrate, session_factory

    with server.client(token=server.demo_token) as demo:
        assert [b["name"] for b in demo.get("/v1/banks").json()["banks"]] == ["demo"]
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    assert seed_demo(sessions).startswith("cs_")
    assert seed_demo(sessions) is None
    engine.dispose()
