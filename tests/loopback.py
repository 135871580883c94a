"""Real HTTP on loopback for tests: serve a request handler, and wait for a server to answer.

Plain standard library plus httpx, no pytest: ``tests/scale/replicas.py`` also imports it when
run as a script.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


class LoopbackServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on 127.0.0.1 that knows its own base URL."""

    scheme = "http"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` when serving TLS), without a trailing slash."""
        return f"{self.scheme}://127.0.0.1:{self.server_port}"


@contextmanager
def serve_http(
    handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None
) -> Iterator[LoopbackServer]:
    """Serve ``handler`` on a free port of 127.0.0.1 from a background thread; yields the
    server (``.url``, ``.server_port``), then shuts it down and closes its socket.

    With ``tls`` (a server-side context holding the certificate) it serves HTTPS."""
    server = LoopbackServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps test output clean (no request log) and answers in one
    call."""

    def reply(self, status: int, body: bytes = b"", content_type: str | None = "application/json",
              headers: dict[str, str] | None = None) -> None:
        """Status, ``Content-Type`` (unless None), extra ``headers``, ``Content-Length``, body."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _tail(log: Path | None) -> str:
    if log is None or not log.is_file():
        return ""
    return "\n" + log.read_text(errors="replace")[-4000:]


def wait_http(
    url: str,
    *,
    auth=None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
    ready: Callable[[int], bool] = lambda status: status < 500,
    interval: float = 0.1,
) -> None:
    """Poll ``GET url`` (with ``auth`` and ``headers``) until its status satisfies ``ready``
    (by default: anything but a 5xx), for at most ``timeout`` seconds.

    With ``proc`` (the server's process) it fails fast with ``RuntimeError`` once that process
    has exited, and kills it on timeout; ``log`` (the process's output file) adds the output's
    tail to either error. A timeout raises ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode} before {url} answered{_tail(log)}"
            )
        try:
            if ready(httpx.get(url, auth=auth, headers=headers, timeout=2).status_code):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            if proc is not None:
                proc.kill()
                proc.wait()
            raise TimeoutError(f"{url} not ready in {timeout}s{_tail(log)}")
        time.sleep(interval)
