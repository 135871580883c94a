"""Load benchmark of the HTTP API's hash-lookup path: POST /v1/match/signals with one PDQ hash
against a bank of N random PDQ hashes (default 1M), at 64 and 256 concurrent clients.

    .venv/bin/python bench/api_load.py                      # 1M, SQLite, wrk, 2 workers
    .venv/bin/python bench/api_load.py --n 100000 --duration 10 --workers 1

Steps: bulk-load the bank straight into the tables (one executemany per batch into
bank_items, signals and signal_changes — what a bank import does, minus per-row ORM cost),
build and save the matcher snapshot, start ``countersignal serve`` on a loopback port, then
drive it with ``wrk`` (Debian package; an httpx async client if wrk is absent). Half the
queries are stored hashes with 0-15 bits flipped (must match), half random (must not).
While the 256-client run goes, a separate client polls /healthz. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from host import describe

HMA_TARGET = "HMA: 4,000 lookups/s for a 10M bank (on much larger hardware)"
BATCH = 50_000

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local bodies = {}
for line in io.lines("%(queries)s") do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,' ..
    '"p99_us":%%d,"max_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,' ..
    '"status":%%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def to_hex(rows: np.ndarray) -> list[str]:
    flat = rows.tobytes().hex()
    return [flat[i : i + 64] for i in range(0, len(flat), 64)]


def bulk_load(database_url: str, n: int, seed: int) -> tuple[str, np.ndarray]:
    """Organisation, platform token and a bank of ``n`` random PDQ hashes; returns the token
    and the stored hashes (for making queries). Rows go in through the DB driver's executemany
    (values pre-rendered by the column types), which is what makes a 1M load take seconds."""
    from sqlalchemy import text

    from countersignal.auth import Principal, create_organisation, issue_token
    from countersignal.banks.models import Bank, Signal
    from countersignal.db import make_engine, migrate, new_id, session_factory, utcnow

    migrate(database_url)
    engine = make_engine(database_url)
    operator = Principal.system("bench")
    with session_factory(engine).begin() as session:
        org = create_organisation(session, by=operator, name="Bench platform", kind="platform",
                                  country="ZZ")
        _, token = issue_token(session, by=operator, organisation_id=org.id, name="bench",
                               roles=["platform-client"])
        bank = Bank(organisation_id=org.id, name="bench-1m", tlp="AMBER")
        session.add(bank)
        session.flush()
        bank_id, org_id = bank.id, org.id
    rng = np.random.default_rng(seed)
    stored = random_hashes(rng, n)
    dialect = engine.dialect
    now = Signal.__table__.c.created_at.type._cached_bind_processor(dialect)(utcnow())
    mark = "?" if dialect.paramstyle == "qmark" else "%s"

    def sql(table: str, columns: str) -> str:
        marks = ", ".join([mark] * len(columns.split(",")))
        return f"INSERT INTO {table} ({columns}) VALUES ({marks})"

    items_sql = sql("bank_items", "id, bank_id, source, note, created_at, updated_at")
    signals_sql = sql("signals", "id, item_id, bank_id, type, value, quality, created_at")
    changes_sql = sql("signal_changes", "seq, signal_id, type, value, op, at")
    started = time.monotonic()
    with engine.begin() as conn:
        cursor = conn.connection.cursor()
        for lo in range(0, n, BATCH):
            values = to_hex(stored[lo : lo + BATCH])
            ids = range(lo + 1, lo + 1 + len(values))
            items = [new_id("item") for _ in values]
            cursor.executemany(items_sql, [(i, bank_id, "bench", "", now, now) for i in items])
            cursor.executemany(signals_sql, [
                (sid, item, bank_id, "pdq", v, 100, now)
                for sid, item, v in zip(ids, items, values, strict=True)])
            cursor.executemany(changes_sql, [
                (sid, sid, "pdq", v, "add", now) for sid, v in zip(ids, values, strict=True)])
        if dialect.name == "postgresql":
            for table, column in (("signals", "id"), ("signal_changes", "seq")):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                                  f" (SELECT max({column}) FROM {table}))"))
    print(f"bulk-loaded {n:,} PDQ signals in {time.monotonic() - started:.1f} s "
          f"(org {org_id}, bank {bank_id})", file=sys.stderr)
    engine.dispose()
    return token, stored


def snapshot(database_url: str, index_dir: Path) -> float:
    from countersignal.db import make_engine, session_factory
    from countersignal.index.matcher import Matcher

    started = time.monotonic()
    engine = make_engine(database_url)
    matcher = Matcher(session_factory(engine), index_dir).load()
    matcher.save()
    engine.dispose()
    return time.monotonic() - started


def make_queries(stored: np.ndarray, count: int, seed: int, hit_ratio: float = 0.5) -> list[str]:
    """Near-copies of stored hashes (0-15 bits flipped) and random hashes, shuffled."""
    rng = np.random.default_rng(seed + 1)
    hits = int(count * hit_ratio)
    picks = stored[rng.integers(0, len(stored), hits)].copy()
    bits = np.unpackbits(picks, axis=1)
    for row in bits:
        flips = rng.choice(256, size=int(rng.integers(0, 16)), replace=False)
        row[flips] ^= 1
    near = np.packbits(bits, axis=1)
    queries = to_hex(near) + to_hex(random_hashes(rng, count - hits))
    rng.shuffle(queries)
    return [json.dumps({"signals": [{"type": "pdq", "value": q}]}) for q in queries]


def start_server(database_url: str, index_dir: Path, workers: int, port: int, log: Path):
    env = {**os.environ, "COUNTERSIGNAL_DATABASE_URL": database_url,
           "COUNTERSIGNAL_INDEX_DIR": str(index_dir), "COUNTERSIGNAL_API_RATE_LIMIT_PER_S": "0",
           "COUNTERSIGNAL_HOME": str(index_dir.parent)}
    cmd = [str(Path(sys.executable).parent / "countersignal"), "serve", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning", "--no-demo"]
    process = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    started = time.monotonic()
    ready = 0
    while ready < workers * 4:  # several ready answers: every worker has loaded its index
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            ready += httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        time.sleep(0.25)
    return process, time.monotonic() - started


class HealthProbe(threading.Thread):
    """Polls /healthz every 0.5 s during a run: the server must keep answering."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.ok, self.failed, self.latencies = url, 0, 0, []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.wait(0.5):
                started = time.perf_counter()
                try:
                    good = client.get(f"{self.url}/healthz").status_code == 200
                except httpx.HTTPError:
                    good = False
                self.latencies.append(time.perf_counter() - started)
                self.ok += good
                self.failed += not good


def server_cpu_s(pid: int) -> float:
    """CPU seconds used so far by the server and its worker processes."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def run_wrk(url: str, token: str, queries: Path, clients: int, seconds: int, tmp: Path) -> dict:
    script = tmp / "match.lua"
    script.write_text(WRK_SCRIPT % {"token": token, "queries": queries})
    threads = min(clients, max(1, (os.cpu_count() or 2) // 2))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(script), f"{url}/v1/match/signals"],
        capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
        "errors": sum(result[k] for k in ("connect", "read", "write", "timeout", "status")),
        "requests": result["requests"],
    }


async def _httpx_load(url: str, token: str, bodies: list[str], clients: int, seconds: float):
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=10) as client:
        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < deadline:
                i = (i + 1) % len(bodies)
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/match/signals", content=bodies[i])
                    errors += response.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(worker(c * 97) for c in range(clients)))
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50_ms": cuts[49] * 1000,
            "p99_ms": cuts[98] * 1000, "errors": errors, "requests": len(latencies)}


def check_answers(url: str, token: str, bodies: list[str], stored_hex: set[str]) -> int:
    """Sanity: near-copy queries match, random ones do not (wrong answers fast are no good)."""
    wrong = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        for body in bodies[:200]:
            result = client.post("/v1/match/signals", content=body,
                                 headers={"Content-Type": "application/json"}).json()
            for match in result["matches"]:
                wrong += match["signal_value"] not in stored_hex or match["distance"] > 31
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="PDQ signals in the bank")
    parser.add_argument("--clients", default="64,256", help="concurrent clients per run")
    parser.add_argument("--duration", type=int, default=20, help="seconds per run")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--hit-ratio", type=float, default=0.5,
                        help="share of queries that are near-copies of stored hashes")
    parser.add_argument("--warmup", type=int, default=5,
                        help="seconds of unmeasured load before the runs (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the loaded bank and snapshot here and reuse them next run")
    args = parser.parse_args()

    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="countersignal-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    index_dir = tmp / "indexes"
    prepared = tmp / "prepared.json"
    key = {"n": args.n, "seed": args.seed, "database_url": database_url}
    if prepared.is_file() and json.loads(prepared.read_text())["key"] == key:
        token = json.loads(prepared.read_text())["token"]
        stored = np.load(tmp / "stored.npy")
        print(f"reusing the bank and snapshot in {tmp}", file=sys.stderr)
    else:
        token, stored = bulk_load(database_url, args.n, args.seed)
        snap_s = snapshot(database_url, index_dir)
        print(f"snapshot built and saved in {snap_s:.1f} s", file=sys.stderr)
        if args.workdir:
            np.save(tmp / "stored.npy", stored)
            prepared.write_text(json.dumps({"key": key, "token": token}))
    bodies = make_queries(stored, 20_000, args.seed, args.hit_ratio)
    queries = tmp / "queries.jsonl"
    queries.write_text("\n".join(bodies) + "\n")

    port = 18000 + args.seed
    process, start_s = start_server(database_url, index_dir, args.workers, port, tmp / "srv.log")
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wrong = check_answers(url, token, bodies, set(to_hex(stored)))
        matched = sum(
            httpx.post(f"{url}/v1/match/signals", content=b, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=60,
            ).json()["matched"] for b in bodies[:200])
        if args.warmup:  # steady state: worker threads, DB connections and caches warm
            if use_wrk:
                run_wrk(url, token, queries, 64, args.warmup, tmp)
            else:
                asyncio.run(_httpx_load(url, token, bodies, 64, args.warmup))
        for clients in (int(c) for c in args.clients.split(",")):
            probe = HealthProbe(url)
            probe.start()
            cpu_before = server_cpu_s(process.pid)
            if use_wrk:
                result = run_wrk(url, token, queries, clients, args.duration, tmp)
            else:
                result = asyncio.run(_httpx_load(url, token, bodies, clients, args.duration))
            server_ms = (server_cpu_s(process.pid) - cpu_before) * 1000 / result["requests"]
            probe.stop.set()
            probe.join()
            result.update(clients=clients, health_ok=probe.ok, health_failed=probe.failed,
                          health_max_ms=max(probe.latencies, default=0) * 1000,
                          server_cpu_ms=server_ms, load=os.getloadavg()[0])
            rows.append(result)
            print(json.dumps(result), file=sys.stderr)
        alive = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nMachine: {describe(memory=False, python=True)}; "
          f"bank: {args.n:,} random PDQ hashes; "
          f"{args.workers} API worker(s) on {database_url.split(':')[0]}; load client: "
          f"{'wrk' if use_wrk else 'httpx async'} on the same machine; {args.duration} s per run "
          f"after {args.warmup} s of unmeasured warm-up."
          f"\nServer start (index snapshot load) {start_s:.1f} s; {matched}/200 sample queries "
          f"matched ({args.hit_ratio:.0%} are near-copies); wrong answers in sample: {wrong}; "
          f"server up after runs: {alive}.\n")
    # Server CPU per lookup does not depend on what else runs on the machine; throughput and
    # latency do (the load average at the end of each run says how busy it was).
    print("| clients | lookups/s | p50 ms | p99 ms | errors | /healthz ok / failed (max ms) "
          "| server CPU ms / lookup | load avg |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['errors']} | {r['health_ok']} / {r['health_failed']} "
              f"({r['health_max_ms']:.0f}) | {r['server_cpu_ms']:.2f} | {r['load']:.1f} |")
    print(f"\nAnchor: {HMA_TARGET}. Target here: >= 1,500 lookups/s, p99 < 50 ms at 64 "
          "clients, zero errors; health checks answered at 256 clients.")


if __name__ == "__main__":
    main()
