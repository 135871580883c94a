"""What the review returns: findings and the report (pydantic, so the API can serialise them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

DISCLAIMER = (
    "This review is advice for the author, not a ruling. It is based on published journalism "
    "guidelines, can be wrong, blocks nothing, reports no one, and stores and sends nothing. "
    "Editorial judgement decides."
)


class Severity(StrEnum):
    advice = "advice"
    caution = "caution"
    serious = "serious"

    @property
    def rank(self) -> int:
        return ("advice", "caution", "serious").index(self.value)


class EntityMatch(BaseModel):
    """A designated-entity mention returned by an ``entity_lookup`` hook."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    name: str
    list_ref: str | None = None  # e.g. the UN consolidated list reference


class Finding(BaseModel):
    rule_id: str
    rule_title: str
    severity: Severity
    start: int = Field(description="offset into ReviewReport.text (see offsets_refer_to)")
    end: int
    excerpt: str
    why: str
    suggestion: str
    confidence: float = Field(ge=0.0, le=1.0)
    detector: str
    sources: list[str] = Field(default_factory=list)
    source_start: int | None = Field(
        default=None, description="for HTML input: offset of the finding in the original markup"
    )
    source_end: int | None = None


class ReviewReport(BaseModel):
    findings: list[Finding]
    language: str
    language_confidence: float
    format: Literal["markdown", "text", "html"]
    text: str = Field(description="the text the offsets refer to")
    offsets_refer_to: Literal["input", "visible_text"]
    notes: list[str] = Field(default_factory=list)
    rules_run: list[str] = Field(default_factory=list)
    disclaimer: str = DISCLAIMER

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for finding in self.findings:
            out[finding.severity.value] += 1
        return out
