"""Fetching a designation list from its publisher: off by default, https only, bounded in size
and time, so a hostile or broken server cannot fill the disk or hang a worker."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx

from countersignal.errors import ContentTooLarge, Forbidden, InvalidInput, Unavailable
from countersignal.settings import get_settings


def _https_only(request: httpx.Request) -> None:
    """Refuse every request (redirects included) that is not https."""
    if request.url.scheme != "https":
        raise InvalidInput(f"designation lists are fetched over https only, not {request.url}")


def fetch_list(
    url: str | None = None,
    *,
    max_bytes: int | None = None,
    timeout_s: float | None = None,
    verify: ssl.SSLContext | bool = True,
) -> bytes:
    """Download a list (the configured official URL by default) and return its bytes.

    Raises ``Forbidden`` unless ``designations_fetch_enabled`` is set, ``InvalidInput`` for a
    non-https URL, ``ContentTooLarge`` past ``max_bytes`` and ``Unavailable`` on network errors.
    """
    settings = get_settings()
    if not settings.designations_fetch_enabled:
        raise Forbidden(
            "fetching designation lists is off; set COUNTERSIGNAL_DESIGNATIONS_FETCH_ENABLED=true"
            " or load a downloaded file"
        )
    url = url or settings.designations_url
    if urlsplit(url).scheme != "https":
        raise InvalidInput(f"designation lists are fetched over https only, not {url!r}")
    max_bytes = max_bytes or settings.limits.max_designation_list_bytes
    timeout = httpx.Timeout(timeout_s or settings.designations_fetch_timeout_s)
    chunks: list[bytes] = []
    received = 0
    try:
        with httpx.Client(timeout=timeout, verify=verify, follow_redirects=True,
                          max_redirects=5, event_hooks={"request": [_https_only]}) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                raise Unavailable(f"{url} answered HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise ContentTooLarge(f"{url} declares {declared} bytes; limit is {max_bytes}")
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise ContentTooLarge(f"{url} sent more than {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise Unavailable(f"could not fetch {url}: {exc}") from exc
    return b"".join(chunks)
