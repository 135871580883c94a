"""Getting content to hash: uploads (already spooled by the multipart parser, within the body
limit) and, when an operator switches it on, fetching by URL without opening an SSRF hole.

Fetching rules: ``COUNTERSIGNAL_API_FETCH_ENABLED`` must be true; the host must be on
``COUNTERSIGNAL_API_FETCH_ALLOWED_HOSTS`` (exact, or ``.example.org`` for subdomains); every
address the name resolves to must be public (no loopback, private, link-local, multicast or
reserved ranges), and the connection goes to the checked address (no second DNS lookup that a
rebinding attacker could answer differently), with TLS still verified against the name;
redirects are followed by hand (at most 3), each re-checked; the body is streamed with a byte
cap and the whole fetch has a deadline.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import BinaryIO

import httpx

from countersignal import netguard
from countersignal.errors import ContentTooLarge, Forbidden, InvalidInput
from countersignal.settings import ApiSettings, Limits
from countersignal.signals import Signal, hash_bytes, hash_file

IN_MEMORY_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 3
CHUNK = 1024 * 1024


def hash_upload(
    stream: BinaryIO,
    *,
    size: int | None,
    filename: str | None,
    content_type: str | None,
    dihedral: bool,
    limits: Limits,
) -> list[Signal]:
    """Hash an uploaded file: small ones from memory, large ones from a named temp file
    (the video hasher needs a path). Runs in a worker thread: it is CPU-bound."""
    stream.seek(0)
    if size is not None and size <= IN_MEMORY_BYTES:
        return hash_bytes(
            stream.read(), filename=filename, content_type=content_type, dihedral=dihedral,
            limits=limits,
        )
    with tempfile.NamedTemporaryFile(prefix="countersignal-upload-") as spooled:
        shutil.copyfileobj(stream, spooled, CHUNK)
        spooled.flush()
        return hash_file(spooled.name, dihedral=dihedral, limits=limits)


def host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("."):
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == entry:
            return True
    return False


def fetch_url(url: str, settings: ApiSettings) -> tuple[bytes, str | None]:
    """The body and declared content type of ``url``, under every rule in the module doc."""
    if not settings.fetch_enabled:
        raise Forbidden("fetching content by URL is switched off on this server")
    deadline = time.monotonic() + settings.fetch_timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        parts = netguard.parse_url(url, what="fetch")
        host = parts.hostname or ""
        if not host_allowed(host, settings.fetch_allowed_hosts):
            raise Forbidden(f"host {host!r} is not on the fetch allow-list")
        # Connect to the address that passed the check, never to the name again.
        pinned = netguard.pin(url, allow_private=settings.fetch_allow_private, what="fetch")
        target = httpx.URL(url)
        headers = {"Host": pinned.host_header, "Accept": "*/*"}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise InvalidInput(f"fetching {url} took longer than {settings.fetch_timeout_s} s")
        try:
            with httpx.Client(timeout=remaining, follow_redirects=False, trust_env=False) as client:
                request = client.build_request(
                    "GET", pinned.url, headers=headers,
                    extensions={"sni_hostname": pinned.sni_hostname},
                )
                response = client.send(request, stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        url = str(target.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise InvalidInput(f"fetching {url} gave HTTP {response.status_code}")
                    return _read_capped(response, settings, deadline), response.headers.get(
                        "content-type"
                    )
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise InvalidInput(f"fetching {url} failed: {type(exc).__name__}") from None
    raise InvalidInput(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, settings: ApiSettings, deadline: float) -> bytes:
    limit = settings.fetch_max_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ContentTooLarge(f"the fetched content is {declared} bytes; the limit is {limit}")
    body = bytearray()
    for chunk in response.iter_bytes(CHUNK):
        body += chunk
        if len(body) > limit:
            raise ContentTooLarge(f"the fetched content is over the limit of {limit} bytes")
        if time.monotonic() > deadline:
            raise InvalidInput(f"fetching took longer than {settings.fetch_timeout_s} s")
    return bytes(body)
