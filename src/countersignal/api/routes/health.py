"""Liveness, readiness and Prometheus metrics: outside ``/v1`` and unauthenticated, except
metrics, which need the ``admin`` permission unless ``COUNTERSIGNAL_API_METRICS_PUBLIC``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from countersignal.api.deps import _bearer, api_state, get_principal
from countersignal.api.schemas import Health, Readiness
from countersignal.auth import require
from countersignal.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (says nothing about the database or indexes)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness)
async def readyz(request: Request) -> Readiness:
    """Ready to match: indexes loaded and synced with the change log recently (503 otherwise)."""
    keeper = api_state(request).keeper
    status = keeper.status()
    if status is None or not status["ready"]:
        raise Unavailable("not ready: match indexes are loading or out of date")
    return Readiness(
        ready=True,
        applied_seq=status["applied_seq"],
        sync_age_s=status["sync_age_s"],
        indexes=status["indexes"],
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Prometheus text format for this process."""
    state = api_state(request)
    if not state.runtime.settings.api.metrics_public:
        require(await get_principal(request, credentials), "admin")
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
