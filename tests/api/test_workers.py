"""``countersignal serve --workers 2``: each process keeps its own matcher current from the
change log, so a write through one worker is matchable through every worker within a poll."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from api.conftest import Server, make_org, start_server, stop_server


@pytest.fixture
def two_workers(tmp_path) -> Iterator[Server]:
    """``serve --workers 2`` on SQLite with one organisation, "a"."""
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    process, base, log, _ = start_server(tmp_path, {"COUNTERSIGNAL_DATABASE_URL": url},
                                         ["--workers", "2"])
    try:
        server = Server(base, url, process, log, "")
        server.orgs["a"] = make_org(url, "Workers org")
        yield server
    finally:
        started = time.monotonic()
        stop_server(process)
        assert time.monotonic() - started < 10, "workers must shut down promptly"


@pytest.mark.slow
def test_two_workers_share_writes(two_workers):
    with two_workers.client("a", "curator") as client:
        bank = client.post("/v1/banks", json={"name": "shared"}).json()
        value = "3c" * 32
        client.post(f"/v1/banks/{bank['id']}/signals",
                    json={"signals": [{"type": "pdq", "value": value}]})
        deadline = time.monotonic() + 15
        streak = 0
        while streak < 10:  # consecutive answers, from whichever worker takes each one
            response = client.post("/v1/match/signals",
                                   json={"signals": [{"type": "pdq", "value": value}]},
                                   headers={"Connection": "close"})
            streak = streak + 1 if response.status_code == 200 and response.json()[
                "matched"] else 0
            assert time.monotonic() < deadline, "not every worker sees the write in 15 s"


@pytest.mark.slow
def test_metrics_add_up_across_workers(two_workers):
    """A scrape lands on one worker, yet reports every worker's requests (and that worker's
    own matcher state, labelled with its pid)."""
    pattern = re.compile(
        r'countersignal_http_requests_total\{method="GET",route="/v1/me",status="200"\} (\S+)'
    )
    pids = set()
    with two_workers.client("a", "admin") as client:
        for _ in range(40):  # new connections: both workers answer some
            assert client.get("/v1/me", headers={"Connection": "close"}).status_code == 200
        for _ in range(12):
            text = client.get("/metrics", headers={"Connection": "close"}).text
            assert float(pattern.search(text).group(1)) == 40.0
            pids.update(re.findall(r'countersignal_matcher_ready\{pid="(\d+)"\}', text))
    assert len(pids) == 2, "scrapes should have reached both workers"
