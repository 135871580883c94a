"""The FastAPI application: ``create_app()`` builds one (uvicorn runs it with ``--factory``).

Routers are listed once in :data:`ROUTERS` (module names, each exposing ``router``), like the
CLI's registration tuple, so adding a capability is one line. Every error is an RFC 9457
problem (``problems.py``); every request gets an id, metrics and a body size limit
(``middleware.py``); the matcher loads and stays current in a background thread
(``keeper.py``) and ``/readyz`` says when it is ready.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from countersignal import __version__
from countersignal.api import problems
from countersignal.api.deps import ApiState, PrincipalCache
from countersignal.api.keeper import MatcherKeeper
from countersignal.api.metrics import ApiMetrics
from countersignal.api.middleware import BodySizeLimit, RequestContext
from countersignal.api.ratelimit import TokenBuckets
from countersignal.runtime import Runtime

ROUTERS = (
    "countersignal.api.routes.matching",  # first: routing tries routers in order, and the
    "countersignal.api.routes.health",  # hash lookup is the hottest path
    "countersignal.api.routes.account",
    "countersignal.api.routes.banks",
    "countersignal.api.routes.review",
    "countersignal.web.routes",
    "countersignal.api.routes.taxii",
    "countersignal.api.routes.exchange",
    "countersignal.api.routes.cases",
    "countersignal.api.routes.actions",
    "countersignal.api.routes.reports",
)

PROBLEM_STATUSES = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid, expired or revoked API token",
    403: "The token lacks the permission this needs",
    404: "No such resource in your organisation",
    409: "Conflicts with existing data",
    413: "Body or content over the size limit",
    415: "Unsupported or corrupt content",
    422: "Invalid input",
    429: "Rate limited: see Retry-After",
    500: "Unexpected error (logged)",
    503: "Not ready or a dependency is unavailable: retry",
}
UNAUTHENTICATED_PATHS = ("/healthz", "/readyz")
OWN_ERROR_FORMAT_PREFIXES = ("/taxii2",)
"""Routers whose protocol mandates its own error body (TAXII 2.1: application/taxii+json)
document their errors themselves; every other route answers errors with RFC 9457 problems."""

DESCRIPTION = """Hash content, match it against your organisation's banks of known terrorist
content, and manage those banks. Authenticate with `Authorization: Bearer cs_...`.
Errors are RFC 9457 problem documents (`application/problem+json`)."""


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """A new application over ``runtime`` (default: from settings, schema already migrated)."""
    runtime = runtime or Runtime(auto_migrate=False)
    settings = runtime.settings
    keeper = MatcherKeeper(runtime, settings.api.matcher_poll_s)
    metrics = ApiMetrics(keeper.status)
    state = ApiState(
        runtime=runtime,
        keeper=keeper,
        metrics=metrics,
        rate_limits=TokenBuckets(settings.api.rate_limit_per_s, settings.api.rate_limit_burst),
        auth_failures=TokenBuckets(
            settings.api.auth_failures_per_minute / 60.0,
            settings.api.auth_failures_per_minute,
            what="failed authentication attempts",
        ),
        principals=PrincipalCache(settings.api.auth_cache_s),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.extra["hash_limiter"] = anyio.CapacityLimiter(os.cpu_count() or 1)
        keeper.start()
        try:
            yield
        finally:
            keeper.stop()
            runtime.close()

    app = FastAPI(
        title="Countersignal",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        form_limits={"max_files": 1, "max_fields": 110, "max_part_size": 64 * 1024},
    )
    app.state.api = state
    problems.install(app)
    app.add_middleware(
        BodySizeLimit,
        json_limit=settings.limits.max_json_bytes,
        upload_limit=settings.api.max_upload_bytes,
    )
    app.add_middleware(RequestContext, metrics=metrics)
    for module in ROUTERS:
        app.include_router(importlib.import_module(module).router)
    app.openapi = lambda: _openapi(app)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with problem responses documented on every operation instead of
    FastAPI's default validation error body."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = problems.Problem.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        if path.startswith(OWN_ERROR_FORMAT_PREFIXES):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in PROBLEM_STATUSES.items():
                if path in UNAUTHENTICATED_PATHS and status in (401, 403):
                    continue
                if str(status) in responses and status != 422:  # the route documented it
                    continue
                responses[str(status)] = {"description": description, "content": problem}
            for ok in [s for s in responses if s.startswith("2")]:
                headers = responses[ok].setdefault("headers", {})
                headers["X-Request-ID"] = {"schema": {"type": "string"},
                                           "description": "id of this request in the logs"}
            del method
    app.openapi_schema = schema
    return schema
