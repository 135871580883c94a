"""TAXII 2.1 server (OASIS): discovery, one API root, collections = sharing groups.

    GET    /taxii2/                                             discovery
    GET    /taxii2/api/                                         API root
    GET    /taxii2/api/status/{status_id}/                      status of a POST
    GET    /taxii2/api/collections/                             collections the caller may use
    GET    /taxii2/api/collections/{id}/                        one collection
    GET    /taxii2/api/collections/{id}/objects/                objects (envelope)
    POST   /taxii2/api/collections/{id}/objects/                add objects (partners)
    GET    /taxii2/api/collections/{id}/objects/{object_id}/    one object
    DELETE /taxii2/api/collections/{id}/objects/{object_id}/    revoke / withdraw
    GET    /taxii2/api/collections/{id}/objects/{object_id}/versions/
    GET    /taxii2/api/collections/{id}/manifest/

Authentication: ``Authorization: Bearer cs_...`` or HTTP Basic with the token as the password
(many TAXII clients only do Basic); the caller needs the ``exchange`` permission. Errors are
TAXII error messages (``application/taxii+json;version=2.1``), not problem documents, because
TAXII clients expect that shape.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from countersignal.api.deps import audit_reason, get_principal, get_session, sync_matcher
from countersignal.audit import Target, record
from countersignal.auth import Principal, require
from countersignal.errors import CountersignalError, InvalidInput, NotFound, Unauthorized
from countersignal.exchange import feed, server, stix
from countersignal.exchange.settings import get_exchange_settings

TAXII_MEDIA = "application/taxii+json;version=2.1"
ACCEPTABLE = ("application/taxii+json", "application/json", "*/*", "application/*")
API_ROOT = "/taxii2/api/"


def taxii_json(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    content = json.dumps(body if body is not None else {}, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=TAXII_MEDIA, headers=headers)


def taxii_error(exc: CountersignalError) -> Response:
    body = {
        "title": exc.title,
        "description": exc.message,
        "http_status": str(exc.http_status),
    }
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer, Basic realm="taxii"'
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return taxii_json(body, exc.http_status, headers)


class TaxiiRoute(APIRoute):
    """Every error on these routes, dependencies included, as a TAXII error message."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            accept = request.headers.get("accept", "*/*").lower()
            if not any(kind in accept for kind in ACCEPTABLE):
                return taxii_json(
                    {"title": "Not acceptable", "description": f"send Accept: {TAXII_MEDIA}"},
                    406,
                )
            try:
                return await handler(request)
            except CountersignalError as exc:
                return taxii_error(exc)

        return taxii_handler


router = APIRouter(prefix="/taxii2", tags=["taxii"], route_class=TaxiiRoute)


async def taxii_principal(request: Request) -> Principal:
    """Bearer token, or Basic auth whose password is the token; needs ``exchange``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            _, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    elif scheme.lower() == "bearer" and value.strip():
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=value.strip())
    else:
        credentials = None
    principal = await get_principal(request, credentials)
    require(principal, "exchange")
    return principal


Caller = Annotated[Principal, Depends(taxii_principal)]
DbSession = Annotated[Session, Depends(get_session)]


# --- discovery, API root, status ------------------------------------------------------------


@router.get("/")
def discovery(request: Request, principal: Caller) -> Response:
    root = str(request.url_for("api_root"))
    return taxii_json(
        {
            "title": "Countersignal TAXII 2.1",
            "description": "Signals of terrorist and violent extremist content, with opinions.",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get("/api/")
def api_root(principal: Caller) -> Response:
    return taxii_json(
        {
            "title": "Countersignal",
            "versions": [TAXII_MEDIA],
            "max_content_length": get_exchange_settings().max_response_bytes,
        }
    )


@router.get("/api/status/{status_id}/")
def get_status(status_id: str, principal: Caller, session: DbSession) -> Response:
    return taxii_json(server.status_resource(server.get_status(session, principal, status_id)))


# --- collections --------------------------------------------------------------------------


@router.get("/api/collections/")
def list_collections(principal: Caller, session: DbSession) -> Response:
    resources = [a.resource() for a in server.collections_for(session, principal)]
    return taxii_json({"collections": resources} if resources else {})


@router.get("/api/collections/{collection_id}/")
def get_collection(collection_id: str, principal: Caller, session: DbSession) -> Response:
    return taxii_json(server.collection_for(session, principal, collection_id).resource())


def _filters(request: Request, *, object_id: str | None = None) -> feed.Filters:
    params = request.query_params
    settings = get_exchange_settings()
    try:
        limit = int(params.get("limit", settings.page_limit))
    except ValueError:
        raise InvalidInput("limit must be an integer") from None
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    added_after = params.get("added_after")
    token = params.get("next")
    spec = params.get("match[spec_version]")
    types = _split(params.get("match[type]"))
    ids = _split(params.get("match[id]"))
    if object_id is not None:
        ids = frozenset({object_id}) if ids is None or object_id in ids else frozenset()
    if spec is not None and "2.1" not in spec.split(","):
        types = frozenset()  # only STIX 2.1 lives here
    return feed.Filters(
        types=types,
        ids=ids,
        versions=params.get("match[version]", "last"),
        added_after=stix.parse_timestamp(added_after) if added_after else None,
        after=feed.Position.decode(token) if token else None,
        limit=min(limit, settings.max_page_limit),
    )


def _split(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def _page(session: Session, principal: Principal, collection_id: str, filters: feed.Filters):
    access = server.collection_for(session, principal, collection_id)
    server.require_read(access)
    return feed.read_page(session, access.reader, filters)


def _headers(page: feed.Page) -> dict[str, str]:
    if not page.entries:
        return {}
    return {
        "X-TAXII-Date-Added-First": stix.timestamp(page.first_added),
        "X-TAXII-Date-Added-Last": stix.timestamp(page.last_added),
    }


def _envelope(page: feed.Page, objects: list[dict]) -> dict:
    body: dict = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if objects:
        body["objects"] = objects
    return body


@router.get("/api/collections/{collection_id}/objects/")
def get_objects(
    collection_id: str, request: Request, principal: Caller, session: DbSession
) -> Response:
    page = _page(session, principal, collection_id, _filters(request))
    objects = [entry.build() for entry in page.entries]
    return taxii_json(_envelope(page, objects), headers=_headers(page))


@router.get("/api/collections/{collection_id}/objects/{object_id}/")
def get_object(
    collection_id: str, object_id: str, request: Request, principal: Caller, session: DbSession
) -> Response:
    page = _page(session, principal, collection_id, _filters(request, object_id=object_id))
    if not page.entries:
        raise_not_found(object_id)
    objects = [entry.build() for entry in page.entries]
    return taxii_json(_envelope(page, objects), headers=_headers(page))


def raise_not_found(object_id: str) -> None:
    raise NotFound(f"no object {object_id!r} in this collection")


@router.get("/api/collections/{collection_id}/objects/{object_id}/versions/")
def get_versions(
    collection_id: str, object_id: str, request: Request, principal: Caller, session: DbSession
) -> Response:
    filters = _filters(request, object_id=object_id)
    filters.versions = "all"
    page = _page(session, principal, collection_id, filters)
    if not page.entries:
        raise_not_found(object_id)
    versions = sorted({stix.timestamp(e.version) for e in page.entries})
    return taxii_json({"more": page.more, "versions": versions}, headers=_headers(page))


@router.get("/api/collections/{collection_id}/manifest/")
def get_manifest(
    collection_id: str, request: Request, principal: Caller, session: DbSession
) -> Response:
    page = _page(session, principal, collection_id, _filters(request))
    records = [
        {
            "id": e.stix_id,
            "date_added": stix.timestamp(e.position.date_added),
            "version": stix.timestamp(e.version),
            "media_type": "application/stix+json;version=2.1",
        }
        for e in page.entries
    ]
    return taxii_json(_envelope(page, records), headers=_headers(page))


# --- writes ---------------------------------------------------------------------------------


@router.post("/api/collections/{collection_id}/objects/")
async def add_objects(
    collection_id: str,
    request: Request,
    principal: Caller,
    session: DbSession,
    reason: Annotated[str | None, Depends(audit_reason)],
) -> Response:
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith(("application/taxii+json", "application/json")):
        return taxii_json(
            {"title": "Unsupported media type", "description": f"send {TAXII_MEDIA}"}, 415
        )
    try:
        envelope = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not JSON") from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise InvalidInput('send a TAXII envelope: {"objects": [...]}')
    return await run_in_threadpool(_add_objects, session, principal, collection_id, objects, reason)


def _add_objects(session, principal, collection_id, objects, reason) -> Response:
    access = server.collection_for(session, principal, collection_id)
    status = server.add_objects(session, access, objects)
    record(
        session,
        actor=principal.actor,
        action="exchange.objects.add",
        target=Target("collection", collection_id),
        organisation_id=access.group.organisation_id,
        reason=reason,
        details={
            "partner_id": access.partner.id if access.partner else None,
            "total": status.total_count,
            "failed": status.failure_count,
        },
    )
    session.commit()
    return taxii_json(server.status_resource(status), 202)


@router.delete("/api/collections/{collection_id}/objects/{object_id}/")
def delete_object(
    collection_id: str,
    object_id: str,
    principal: Caller,
    session: DbSession,
    reason: Annotated[str | None, Depends(audit_reason)],
    request: Request,
) -> Response:
    access = server.collection_for(session, principal, collection_id)
    outcome = server.delete_object(session, access, principal, object_id)
    record(
        session,
        actor=principal.actor,
        action=f"exchange.object.{outcome}",
        target=Target("stix", object_id),
        organisation_id=access.group.organisation_id,
        reason=reason,
        details={"collection_id": collection_id},
    )
    session.commit()
    if outcome == "revoked":
        sync_matcher(request)
    return taxii_json(None, 200)
