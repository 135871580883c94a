"""Several real ``countersignal serve`` replicas sharing one PostgreSQL database.

Each replica has its own home (its own snapshot folder), as separate hosts behind a load
balancer would. Used by the replication tests; run as a script it measures how long an add
through one replica takes to become matchable through another, with and without NOTIFY:

    .venv/bin/python tests/scale/replicas.py --adds 200
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: tests/ (shared helpers) is not on the path yet
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback import wait_http

COUNTERSIGNAL = str(Path(sys.executable).parent / "countersignal")
PG_ADMIN_URL = os.environ.get(
    "COUNTERSIGNAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_database(name: str, *, create: bool) -> None:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def curator_token(database_url: str) -> str:
    """A new organisation's curator token, made in the database as an operator would."""
    from countersignal.auth import Principal, create_organisation, issue_token
    from countersignal.db import make_engine, session_factory

    engine = make_engine(database_url)
    operator = Principal.system("tests")
    try:
        with session_factory(engine).begin() as session:
            org = create_organisation(session, by=operator, name="Scale org", kind="platform",
                                      country="DE")
            _, secret = issue_token(session, by=operator, organisation_id=org.id,
                                    name="curator", roles=["curator"])
    finally:
        engine.dispose()
    return secret


@dataclass
class Replica:
    home: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> None:
        """Start and wait until ``/readyz`` answers 200 (indexes loaded and caught up)."""
        self.start_in_background()
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_http(
            f"{self.url}/readyz",
            ready=lambda status: status == 200,
            timeout=START_TIMEOUT_S,
            proc=self.process,
            log=self.log,
        )

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def start_in_background(self) -> None:
        """Start without waiting (to watch readiness while it loads)."""
        port = free_port()
        env = {**os.environ, "COUNTERSIGNAL_HOME": str(self.home / "home"), **self.env}
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [COUNTERSIGNAL, "serve", "--port", str(port), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home,
            )
        self.url = f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown snapshot."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown (writes a last snapshot)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def manifest(self) -> Path:
        return self.home / "home" / "indexes" / "matcher.json"


@dataclass
class Cluster:
    database_url: str
    replicas: list[Replica]
    headers: dict[str, str] = field(default_factory=dict)
    bank_id: str = ""

    def client(self, replica: int) -> httpx.Client:
        return httpx.Client(base_url=self.replicas[replica].url, headers=self.headers, timeout=30)

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()


def random_pdq() -> str:
    return secrets.token_hex(32)


def add_signal(client: httpx.Client, bank_id: str, value: str) -> str:
    response = client.post(f"/v1/banks/{bank_id}/items", json={
        "signals": [{"type": "pdq", "value": value}], "external_id": value[:16],
    })
    assert response.status_code == 201, response.text
    return response.json()["id"]


def match_items(client: httpx.Client, value: str) -> list[str]:
    """Item ids of every exact (distance 0) match of ``value`` through this replica."""
    response = client.post("/v1/match/signals", json={
        "signals": [{"type": "pdq", "value": value}], "thresholds": {"pdq": 0},
    })
    assert response.status_code == 200, response.text
    return [m["item_id"] for m in response.json()["matches"]]


def wait_visible(client: httpx.Client, value: str, timeout_s: float = 10.0) -> float:
    """Seconds until ``value`` matches through ``client`` (asserts it does within timeout)."""
    started = time.perf_counter()
    while not match_items(client, value):
        assert time.perf_counter() - started < timeout_s, f"{value} not visible in {timeout_s}s"
    return time.perf_counter() - started


def start_cluster(tmp: Path, count: int, env: dict[str, str]) -> Cluster:
    """A fresh PostgreSQL database, ``count`` replicas over it, an org, a bank and a token."""
    name = f"cs_scale_{secrets.token_hex(6)}"
    pg_database(name, create=True)
    database_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    common = {
        "COUNTERSIGNAL_DATABASE_URL": database_url,
        "COUNTERSIGNAL_API_RUN_WORKER": "false",
        "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "0",
        **env,
    }
    replicas = []
    for number in range(count):
        home = tmp / f"replica{number}"
        home.mkdir(parents=True)
        replicas.append(Replica(home, common))
    cluster = Cluster(database_url, replicas)
    try:
        replicas[0].start()  # migrates; the others then find the schema in place
        for replica in replicas[1:]:
            replica.start_in_background()
        for replica in replicas[1:]:
            replica.wait_ready()
        cluster.headers = {"Authorization": f"Bearer {curator_token(database_url)}"}
        with cluster.client(0) as client:
            response = client.post("/v1/banks", json={"name": "replicated"})
            assert response.status_code == 201, response.text
            cluster.bank_id = response.json()["id"]
    except BaseException:
        cluster.stop()
        pg_database(name, create=False)
        raise
    return cluster


def drop_cluster(cluster: Cluster) -> None:
    cluster.stop()
    pg_database(cluster.database_url.rsplit("/", 1)[1], create=False)


def add_to_visible_latencies(cluster: Cluster, adds: int) -> list[float]:
    """Seconds from an add's 201 on one replica to its first match on the next one."""
    clients = [cluster.client(i) for i in range(len(cluster.replicas))]
    try:
        warm_up = random_pdq()  # first requests: connection set-up, caches
        add_signal(clients[0], cluster.bank_id, warm_up)
        for client in clients:
            wait_visible(client, warm_up)
        latencies = []
        for number in range(adds):
            writer = number % len(clients)
            value = random_pdq()
            add_signal(clients[writer], cluster.bank_id, value)
            latencies.append(wait_visible(clients[(writer + 1) % len(clients)], value))
        return latencies
    finally:
        for client in clients:
            client.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description="add -> visible on another replica")
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--poll-s", type=float, default=0.5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.replicas} replicas, poll {args.poll_s} s, {args.adds} adds")
    print("| wake-up | p50 ms | p99 ms | max ms |\n|---|---|---|---|")
    for listen in ("true", "false"):
        env = {"COUNTERSIGNAL_API_MATCHER_POLL_S": str(args.poll_s),
               "COUNTERSIGNAL_API_MATCHER_LISTEN": listen}
        with tempfile.TemporaryDirectory() as tmp:
            cluster = start_cluster(Path(tmp), args.replicas, env)
            try:
                found = add_to_visible_latencies(cluster, args.adds)
            finally:
                drop_cluster(cluster)
        name = "NOTIFY + poll" if listen == "true" else "poll only"
        print(f"| {name} | {percentile(found, 50) * 1000:.0f} | "
              f"{percentile(found, 99) * 1000:.0f} | {max(found) * 1000:.0f} |", flush=True)


if __name__ == "__main__":
    main()
