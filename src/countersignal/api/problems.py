"""RFC 9457 problem responses: the one mapping from errors to HTTP.

Every error leaves the service as ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail`` and ``instance`` (the request path), plus ``request_id`` so an operator
can find the log line. Validation errors list what was wrong (``errors``) but never echo the
input back: it may be huge or hostile. Unexpected exceptions become a 500 that says nothing
about internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from countersignal.errors import CountersignalError, RateLimited, Unauthorized, Unavailable

log = logging.getLogger("countersignal.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:countersignal:problem:"
MAX_LISTED_ERRORS = 20


class Problem(BaseModel):
    """An RFC 9457 problem document (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None


def problem_type(title: str) -> str:
    """``urn:countersignal:problem:not-found`` from ``Not found`` (stable, documented)."""
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return TYPE_PREFIX + "-".join(filter(None, slug.split("-")))


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    title = title or HTTPStatus(status).phrase
    body: dict[str, Any] = {
        **(extra or {}),
        "type": problem_type(title),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _json_safe(detail: dict) -> dict:
    return {k: v for k, v in detail.items() if isinstance(v, str | int | float | bool | None)}


async def countersignal_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CountersignalError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    elif isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="countersignal"'
    elif isinstance(exc, Unavailable):
        headers["Retry-After"] = "1"
    if exc.http_status >= 500 and not isinstance(exc, Unavailable):
        log.error("%s %s: %s", request.method, request.url.path, exc.message)
    return problem_response(
        request,
        exc.http_status,
        exc.message,
        title=exc.title,
        headers=headers,
        extra={"details": _json_safe(exc.detail)} if exc.detail else None,
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "message": str(err.get("msg", "invalid")),
            "type": str(err.get("type", "value_error")),
        }
        for err in exc.errors()[:MAX_LISTED_ERRORS]
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            request, 400, "the request body is not valid JSON", title="Malformed JSON",
            extra={"errors": errors},
        )
    where = "; ".join(f"{'.'.join(e['loc'])}: {e['message']}" for e in errors[:3])
    return problem_response(
        request, 422, f"the request is not valid: {where}", title="Invalid input",
        extra={"errors": errors},
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request, 500, "an unexpected error occurred; it has been logged", title="Internal error"
    )


def _short(exc: Exception) -> str:
    """The driver's message without the statement and parameters (which can be huge)."""
    return str(getattr(exc, "orig", exc))[:300]


async def integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A lost race on a unique constraint: the same answer the service check would give."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, _short(exc))
    return problem_response(request, 409, "this conflicts with existing data", title="Conflict")


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error on %s %s: %s", request.method, request.url.path, _short(exc))
    return problem_response(
        request, 503, "the database is unavailable or busy; retry shortly",
        title="Service unavailable", headers={"Retry-After": "1"},
    )


async def value_out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """A number too large for the database column (SQLite: OverflowError at bind time,
    PostgreSQL: DataError). Routes should bound their parameters; this keeps a missed bound a
    client error rather than a 500."""
    log.info("value out of range on %s %s: %s", request.method, request.url.path, _short(exc))
    detail = "a value in the request is out of range"
    if "NUL" in _short(exc) or "\\u0000" in _short(exc):
        detail = "text in the request must not contain NUL (0x00) characters"
    return problem_response(request, 422, detail, title="Invalid input")


def install(app: FastAPI) -> None:
    app.add_exception_handler(CountersignalError, countersignal_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(DataError, value_out_of_range)
    app.add_exception_handler(OverflowError, value_out_of_range)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
