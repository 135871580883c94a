"""A small TAXII 2.1 client (httpx): what pull and push need, with hostile-peer limits.

Every request goes through the SSRF guard (and connects to the address it checked), carries
the TAXII media type, never follows redirects, has a timeout and a cap on the bytes read.
Errors become :class:`Unavailable` (try again later: network, 5xx, 429) or
:class:`InvalidInput` (the peer sent something malformed), which the sync code treats
differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from countersignal.actions.crypto import DecryptionFailed, Sealer
from countersignal.errors import Forbidden, InvalidInput, NotFound, Unavailable
from countersignal.exchange.models import credential_sealer
from countersignal.exchange.ssrf import pin

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"


@dataclass(frozen=True)
class PartnerEndpoint:
    """Everything needed to talk to one partner server (a plain copy, no DB session). The
    credentials are in clear here, in memory only: never in its ``repr``."""

    api_root_url: str
    collection_id: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    allow_private_network: bool = False

    @classmethod
    def of(cls, partner, sealer: Sealer | None = None) -> PartnerEndpoint:
        """The endpoint of a partner row, its sealed credentials opened with ``sealer``
        (default: this process's key; see ``credential_sealer``)."""
        if not partner.api_root_url:
            raise InvalidInput(f"partner {partner.name!r} has no API root URL")
        credentials = {"auth_token": None, "password": None}
        if partner.has_credentials:
            try:
                credentials = partner.credentials(sealer or credential_sealer())
            except DecryptionFailed:
                raise DecryptionFailed(
                    f"partner {partner.name!r}: its stored credentials do not open with this "
                    "deployment's key (COUNTERSIGNAL_VAULT_KEY or <home>/vault.key); install "
                    "the key they were sealed with, or set them again"
                ) from None
        return cls(
            partner.api_root_url,
            partner.collection_id,
            credentials["auth_token"],
            partner.username,
            credentials["password"],
            partner.allow_private_network,
        )


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    body: object
    # Why the body could not be read, when it could not (its headers may still be useful).
    malformed: str | None = None


class TaxiiClient:
    def __init__(
        self,
        endpoint: PartnerEndpoint,
        *,
        timeout: float = 30.0,
        max_bytes: int = 64 * 1024 * 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.root = endpoint.api_root_url.rstrip("/") + "/"
        self.max_bytes = max_bytes
        auth = None
        headers = {"Accept": TAXII_MEDIA}
        if endpoint.auth_token:
            headers["Authorization"] = f"Bearer {endpoint.auth_token}"
        elif endpoint.username:
            auth = httpx.BasicAuth(endpoint.username, endpoint.password or "")
        self.http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers=headers,
            auth=auth,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs) -> Response:
        url = urljoin(self.root, path)
        # Connect to the address that passed the SSRF check, not to the name (a rebinding DNS
        # server would get a second lookup); TLS still verifies the certificate for the name.
        target = pin(url, allow_private=self.endpoint.allow_private_network)
        if target is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), "Host": target.host_header}
            kwargs["extensions"] = {"sni_hostname": target.sni_hostname}
        try:
            with self.http.stream(method, target.url if target else url, **kwargs) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InvalidInput(f"response from {url} is over {self.max_bytes} bytes")
                    chunks.append(chunk)
                raw = b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"timed out talking to {url}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach {url}: {exc}") from None
        status = resp.status_code
        if status in (429, 502, 503, 504) or status >= 500:
            raise Unavailable(f"{url} answered {status}")
        if status in (401, 403):
            raise Forbidden(f"{url} refused our credentials ({status})")
        if status == 404:
            raise NotFound(f"{url} answered 404")
        if 300 <= status < 400:
            raise InvalidInput(f"{url} answered a redirect ({status}); not followed")
        try:
            body, malformed = (json.loads(raw) if raw else None), None
        except (ValueError, RecursionError):
            body, malformed = None, f"{url} sent a body that is not JSON"
        if status >= 400:
            detail = body.get("title") or body.get("description") if isinstance(body, dict) else ""
            raise InvalidInput(f"{url} answered {status}: {detail!s:.200}")
        return Response(status, resp.headers, body, malformed)

    # --- TAXII resources ----------------------------------------------------------------

    def api_root(self) -> dict:
        return self._object(self.request("GET", ""))

    def collections(self) -> list[dict]:
        body = self._object(self.request("GET", "collections/"))
        return list(body.get("collections") or [])

    def get_objects(
        self,
        collection_id: str,
        *,
        added_after: str | None = None,
        next_token: str | None = None,
        limit: int | None = None,
        types: list[str] | None = None,
    ) -> Response:
        params: dict[str, str] = {}
        if added_after:
            params["added_after"] = added_after
        if next_token:
            params["next"] = next_token
        if limit:
            params["limit"] = str(limit)
        if types:
            params["match[type]"] = ",".join(types)
        return self.request("GET", f"collections/{collection_id}/objects/", params=params)

    def add_objects(self, collection_id: str, objects: list[dict]) -> dict:
        resp = self.request(
            "POST",
            f"collections/{collection_id}/objects/",
            content=json.dumps({"objects": objects}).encode(),
            headers={"Content-Type": TAXII_MEDIA},
        )
        return self._object(resp)

    @staticmethod
    def _object(resp: Response) -> dict:
        if resp.malformed:
            raise InvalidInput(resp.malformed)
        if not isinstance(resp.body, dict):
            raise InvalidInput("the partner sent a body that is not a JSON object")
        return resp.body
