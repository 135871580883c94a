"""Transparency reports over HTTP: figures for any range as JSON, CSV or an HTML page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.orm import Session

from countersignal.api.deps import get_principal, get_session
from countersignal.auth import Principal
from countersignal.reports.figures import compute_figures, list_published, publish_report
from countersignal.reports.render import to_csv, to_html

router = APIRouter(prefix="/v1/reports", tags=["reports"])

DbSession = Annotated[Session, Depends(get_session)]
Caller = Annotated[Principal, Depends(get_principal)]


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime


class PublishedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    period_start: datetime
    period_end: datetime
    sha256: str
    published_at: datetime
    published_by: str
    figures: dict


@router.get("/transparency", response_model=None, responses={
    200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}})
def transparency(
    session: DbSession, principal: Caller, start: AwareDatetime, end: AwareDatetime,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
):
    """TCO Art. 7 figures and DSA aggregates for ``[start, end)``."""
    figures = compute_figures(session, principal, start=start, end=end)
    if format == "csv":
        return PlainTextResponse(to_csv(figures), media_type="text/csv")
    if format == "html":
        return HTMLResponse(to_html(figures))
    return figures


@router.post("/published", response_model=PublishedOut, status_code=201)
def publish(body: PeriodIn, session: DbSession, principal: Caller) -> PublishedOut:
    """Freeze and publish the figures for a period (admin)."""
    report = publish_report(session, principal, start=body.start, end=body.end)
    out = PublishedOut.model_validate(report)
    session.commit()
    return out


@router.get("/published", response_model=list[PublishedOut])
def published(session: DbSession, principal: Caller) -> list[PublishedOut]:
    return [PublishedOut.model_validate(r) for r in list_published(session, principal)]
