"""``POST /v1/review``: responsible-reporting advice on a news draft, for its author alone.

Nothing is stored and nothing is sent anywhere; not even the audit log records the draft
(only that a review ran would be worth logging, and advice to one author is not a state
change). The response says plainly that it is advice, not a ruling.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from countersignal.api.deps import get_session, requires
from countersignal.auth import Principal
from countersignal.review import ReviewReport, review_article
from countersignal.review.entities import config_for

router = APIRouter(prefix="/v1", tags=["review"])


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=200_000, description="the draft")]
    format: Literal["auto", "markdown", "text", "html"] = "auto"
    language: Annotated[str, Field(pattern=r"^[a-zA-Z]{2}(-[a-zA-Z]{2})?$")] | None = None


@router.post("/review", response_model=ReviewReport)
def review(
    body: ReviewIn,
    session: Annotated[Session, Depends(get_session)],
    caller: Annotated[Principal, Depends(requires("review"))],
) -> ReviewReport:
    """Passages the journalism-ethics guidelines on reporting terrorism warn about, each with
    its rule, reason, suggestion and sources. Advice only: it blocks and reports nothing."""
    config = config_for(session, caller.organisation_id)
    return review_article(body.text, fmt=body.format, language=body.language, config=config)
