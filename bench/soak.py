"""Soak: a bounded run of mixed work at a steady rate against one ``countersignal serve`` on
loopback, watching for what MISP and HMA users report (memory growth, lock-ups under load).

    .venv/bin/python bench/soak.py                 # 10 minutes, SQLite
    .venv/bin/python bench/soak.py --minutes 1 --database-url postgresql+psycopg://...

Each tick (``--rate`` per second) sends: one upload submission (a fresh PNG; every other one a
copy of known content, which opens a case), one upload match, one decision on an open case,
one new bank signal; every fourth tick a partner pulls the TAXII collection. Every 5 s it
samples the server's RSS and open files. At the end it fits lines (least squares) to RSS, open
files and per-window median latency over time, and accounts for all work in the database:
submissions, cases, decisions, signals, audit chain, and every webhook at a loopback receiver.
Exits 1 on any 5xx, transport error or unaccounted work.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import psutil
from host import describe
from PIL import Image

SAMPLE_S = 5.0
KNOWN_IMAGES = 40


def png(seed: int) -> bytes:
    """A textured 256x256 image (PDQ quality well above 50), distinct per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((256, 256), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """The platform's webhook endpoint on loopback: counts deliveries per idempotency key."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        lock = threading.Lock()
        keys = self.keys

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    keys[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"


def prepare(database_url: str, home: Path, receiver_url: str) -> tuple[str, dict[str, str]]:
    """Migrated database, one organisation with a token per role, a webhook endpoint, a bank
    shared with a partner organisation (whose token pulls it over TAXII); returns the bank."""
    from countersignal.actions.crypto import Keyring
    from countersignal.actions.webhooks import register_endpoint
    from countersignal.auth import Principal, create_organisation, issue_token
    from countersignal.banks.service import create_bank
    from countersignal.db import make_engine, migrate, session_factory
    from countersignal.exchange.policy import (
        add_member,
        create_partner,
        create_sharing_group,
        share_bank,
    )
    from countersignal.settings import Settings

    migrate(database_url)
    operator = Principal.system("soak")
    engine = make_engine(database_url)
    tokens = {}
    with session_factory(engine).begin() as session:
        org = create_organisation(session, by=operator, name="Soak platform", kind="platform",
                                  country="DE")
        for role in ("curator", "reviewer", "platform-client", "admin"):
            tokens[role] = issue_token(session, by=operator, organisation_id=org.id,
                                       name=role, roles=[role])[1]
        register_endpoint(session, operator, url=receiver_url, organisation_id=org.id,
                          keyring=Keyring.from_settings(Settings(home=home,
                                                                 database_url=database_url)),
                          allow_private=True)
        bank = create_bank(session, organisation_id=org.id, name="soak")
        peer = create_organisation(session, by=operator, name="Soak partner", kind="platform",
                                   country="FR")
        tokens["partner"] = issue_token(session, by=operator, organisation_id=peer.id,
                                        name="partner", roles=["partner"])[1]
        group = create_sharing_group(session, organisation_id=org.id, name="soak-share")
        add_member(session, group, create_partner(
            session, organisation_id=org.id, partner_organisation_id=peer.id, name="peer"))
        share_bank(session, bank, group)
        bank_id = bank.id
    engine.dispose()
    return bank_id, tokens


def start_server(home: Path, database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "COUNTERSIGNAL_HOME": str(home),
           "COUNTERSIGNAL_DATABASE_URL": database_url,
           "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "10000",
           "COUNTERSIGNAL_API_RATE_LIMIT_BURST": "10000"}
    log = (home / "server.log").open("w")
    command = [str(Path(sys.executable).parent / "countersignal"), "serve", "--port", str(port),
               "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {(home / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server not ready in 120 s")


class Soak:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.clients = {role: httpx.Client(base_url=url, timeout=30, headers={
            "Authorization": f"Bearer {token}"}) for role, token in tokens.items()}
        self.records: list[tuple[float, str, float, int]] = []  # (t, op, seconds, status)
        self.open_cases: list[str] = []
        self.pulled_to = ""
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    def call(self, op: str, role: str, method: str, path: str, **kwargs) -> httpx.Response | None:
        began = time.monotonic()
        try:
            response = self.clients[role].request(method, path, **kwargs)
            status = response.status_code
        except httpx.TransportError:
            response, status = None, 0
        self.records.append((began - self.started, op, time.monotonic() - began, status))
        return response

    def setup(self, bank_id: str) -> list[bytes]:
        known = [png(seed) for seed in range(KNOWN_IMAGES)]
        values = []
        for image in known:
            hashed = self.call("setup", "curator", "POST", "/v1/hash",
                               files={"file": ("k.png", image, "image/png")}).json()
            values += [s["value"] for s in hashed["signals"] if s["type"] == "pdq"]
        self.call("setup", "curator", "POST", f"/v1/banks/{bank_id}/signals", json={
            "signals": [{"type": "pdq", "value": v} for v in values],
            "labels": [{"kind": "behaviour", "value": "glorification"}]})
        self.counts["signals"] += len(values)
        return known

    def tick(self, n: int, bank_id: str, known: list[bytes], collection: str | None) -> None:
        image = known[n % KNOWN_IMAGES] if n % 2 == 0 else png(10_000 + n)
        submitted = self.call("upload", "platform-client", "POST", "/v1/submissions",
                              files={"file": ("u.png", image, "image/png")},
                              data={"content_id": f"post-{n}", "uploader_id": f"user-{n % 97}"})
        if submitted is not None and submitted.status_code == 201:
            self.counts["submissions"] += 1
            if submitted.json()["case"]:
                self.open_cases.append(submitted.json()["case"]["id"])
        self.call("match", "platform-client", "POST", "/v1/match",
                  files={"file": ("m.png", png(20_000 + n), "image/png")})
        if self.open_cases:
            case_id = self.open_cases.pop(0)
            decided = self.call("decision", "reviewer", "POST", f"/v1/cases/{case_id}/decisions",
                                json={"action": "label", "ground_type": "terms_of_service",
                                      "ground": "ToS 4.2", "explanation": "Soak: labelled."})
            if decided is not None and decided.status_code == 201:
                self.counts["decisions"] += 1
        added = self.call("bank_add", "curator", "POST", f"/v1/banks/{bank_id}/signals",
                          json={"signals": [{"type": "pdq",
                                             "value": f"{(n * 2654435761) % 2**256:064x}"}]})
        if added is not None and added.status_code == 201:
            self.counts["signals"] += 1
        if collection and n % 4 == 0:  # an incremental pull, as a partner's sync does
            pulled = self.call("taxii_pull", "partner", "GET",
                               f"/taxii2/api/collections/{collection}/objects/",
                               params={"limit": 200, **({"added_after": self.pulled_to}
                                                        if self.pulled_to else {})},
                               headers={"Accept": "application/taxii+json;version=2.1"})
            if pulled is not None and pulled.status_code == 200:
                self.counts["pulled objects"] += len(pulled.json().get("objects") or [])
                self.pulled_to = pulled.headers.get("X-TAXII-Date-Added-Last",
                                                    self.pulled_to)


def sampler(process: psutil.Process, samples: list, stop: threading.Event, started: float):
    while not stop.wait(SAMPLE_S):
        with process.oneshot():
            samples.append((time.monotonic() - started, process.memory_info().rss / 2**20,
                            process.num_fds()))


def slope_per_minute(xs_s: list[float], ys: list[float]) -> float:
    if len(xs_s) < 2:
        return float("nan")
    return float(np.polyfit(np.asarray(xs_s) / 60.0, np.asarray(ys), 1)[0])


def account(database_url: str, soak: Soak, receiver: Receiver) -> dict:
    """Counts in the database against what the run was told succeeded."""
    from sqlalchemy import func, select

    from countersignal.actions.models import OutboxMessage
    from countersignal.audit import verify
    from countersignal.banks.models import Signal
    from countersignal.cases.models import Case, Decision, Submission
    from countersignal.db import make_engine, session_factory

    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            def count(model, *where):
                return session.scalar(select(func.count()).select_from(model).where(*where))

            outbox = count(OutboxMessage)
            delivered = count(OutboxMessage, OutboxMessage.status == "delivered")
            keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
            return {
                "submissions": (soak.counts["submissions"], count(Submission)),
                "decisions": (soak.counts["decisions"], count(Decision)),
                "cases": (soak.counts["decisions"] + len(soak.open_cases), count(Case)),
                "signals": (soak.counts["signals"], count(Signal)),
                "webhooks delivered": (outbox, delivered),
                "webhook keys at receiver": (len(keys), len(keys & set(receiver.keys))),
                "audit chain verifies": (True, verify(session).ok),
            }
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2.0, help="ticks per second")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="countersignal-soak-"))
    database_url = args.database_url or f"sqlite:///{home / 'soak.db'}"
    receiver = Receiver()
    bank_id, tokens = prepare(database_url, home, receiver.url)
    process, url = start_server(home, database_url)
    soak = Soak(url, tokens)
    try:
        known = soak.setup(bank_id)
        listed = soak.call("setup", "partner", "GET", "/taxii2/api/collections/",
                           headers={"Accept": "application/taxii+json;version=2.1"})
        collections = (listed.json().get("collections") or []) if listed is not None and \
            listed.status_code == 200 else []
        collection = collections[0]["id"] if collections else None
        samples: list = []
        stop = threading.Event()
        watcher = threading.Thread(target=sampler, args=(psutil.Process(process.pid), samples,
                                                         stop, soak.started), daemon=True)
        watcher.start()
        began = time.monotonic()
        period = 1.0 / args.rate
        n = 0
        while time.monotonic() - began < args.minutes * 60:
            soak.tick(n, bank_id, known, collection)
            n += 1
            time.sleep(max(0.0, began + n * period - time.monotonic()))
        stop.set()
        # let the worker deliver what the last decisions queued
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ledger = account(database_url, soak, receiver)
            if ledger["webhooks delivered"][0] == ledger["webhooks delivered"][1]:
                break
            time.sleep(1)
    finally:
        process.terminate()
        process.wait(30)

    return report(args, soak, samples, ledger, n, collection)


def report(args, soak: Soak, samples: list, ledger: dict, ticks: int, collection) -> int:
    by_op: dict[str, list[tuple[float, float]]] = defaultdict(list)
    statuses: Counter[int] = Counter()
    for t, op, seconds, status in soak.records:
        statuses[status] += 1
        if op != "setup":
            by_op[op].append((t, seconds * 1000))
    server_errors = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
    window = 30.0
    latency = {}
    for op, points in sorted(by_op.items()):
        windows: dict[int, list[float]] = defaultdict(list)
        for t, ms in points:
            windows[int(t // window)].append(ms)
        xs = [(w + 0.5) * window for w in sorted(windows)]
        medians = [statistics.median(windows[w]) for w in sorted(windows)]
        all_ms = sorted(ms for _, ms in points)
        latency[op] = {
            "requests": len(points),
            "p50_ms": round(statistics.median(all_ms), 1),
            "p99_ms": round(all_ms[int(0.99 * (len(all_ms) - 1))], 1),
            "first_window_p50_ms": round(medians[0], 1),
            "last_window_p50_ms": round(medians[-1], 1),
            "slope_ms_per_min": round(slope_per_minute(xs, medians), 3),
        }
    ts = [s[0] for s in samples]
    figures = {
        "machine": describe(memory=False, python=True),
        "minutes": args.minutes,
        "rate_per_s": args.rate,
        "ticks": ticks,
        "database": "postgresql" if args.database_url else "sqlite",
        "taxii_collection": collection,
        "taxii_objects_pulled": soak.counts["pulled objects"],
        "statuses": dict(sorted(statuses.items())),
        "server_errors_5xx_or_transport": server_errors,
        "rss_mb_start_end": [round(samples[0][1], 1), round(samples[-1][1], 1)] if samples else
        None,
        "rss_slope_mb_per_min": round(slope_per_minute(ts, [s[1] for s in samples]), 3),
        "open_files_start_end": [samples[0][2], samples[-1][2]] if samples else None,
        "open_files_slope_per_min": round(slope_per_minute(ts, [s[2] for s in samples]), 3),
        "latency": latency,
        "samples_t_s_rss_mib_open_files": [[round(t, 1), round(r, 1), f] for t, r, f in samples],
        "accounting": {k: list(v) for k, v in ledger.items()},
    }
    unaccounted = [k for k, (told, found) in ledger.items() if told != found]
    figures["unaccounted"] = unaccounted
    print(f"soak: {args.minutes:g} min at {args.rate:g} ticks/s on {figures['machine']}, "
          f"{figures['database']}")
    print(f"statuses {figures['statuses']}; 5xx/transport errors: {server_errors}; "
          f"objects pulled over TAXII: {soak.counts['pulled objects']}")
    print(f"RSS {figures['rss_mb_start_end']} MiB, slope {figures['rss_slope_mb_per_min']} "
          f"MiB/min; open files {figures['open_files_start_end']}, slope "
          f"{figures['open_files_slope_per_min']}/min")
    print("| op | requests | p50 ms | p99 ms | first p50 | last p50 | slope ms/min |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for op, row in latency.items():
        print(f"| {op} | {row['requests']} | {row['p50_ms']} | {row['p99_ms']} | "
              f"{row['first_window_p50_ms']} | {row['last_window_p50_ms']} | "
              f"{row['slope_ms_per_min']} |")
    print("| accounted | run said | database/receiver |")
    print("|---|---:|---:|")
    for name, (told, found) in ledger.items():
        print(f"| {name} | {told} | {found} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = server_errors == 0 and not unaccounted
    print("RESULT:", "OK" if ok else f"FAILED (unaccounted: {unaccounted})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
