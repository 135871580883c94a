"""DSA statements of reasons, mirroring the Transparency Database API's submission schema.

Field names and codes follow the database's ``POST /api/v1/statement(s)`` request rules
(e.g. ``decision_visibility: ["DECISION_VISIBILITY_CONTENT_REMOVED"]``,
``automated_detection: "Yes"|"No"``, ``automated_decision: "AUTOMATED_DECISION_FULLY"|...``,
dates ``YYYY-MM-DD``, ``puid`` of letters, digits, ``-`` and ``_`` up to 500 characters).
The model validates the same conditional rules the database enforces, so a batch that passes
here is not bounced there. Batches hold at most 100 statements (the bulk endpoint's limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BATCH_LIMIT = 100

DECISION_VISIBILITIES = (
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
)
DecisionVisibility = Literal[DECISION_VISIBILITIES]  # type: ignore[valid-type]
DecisionGround = Literal["DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"]
ContentType = Literal[
    "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER",
]
SourceType = Literal[
    "SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
]
AutomatedDecision = Literal[
    "AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"
]
TERRORIST_CATEGORY = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
TERRORIST_KEYWORD = "KEYWORD_TERRORIST_CONTENT"
# EU member states plus Iceland, Liechtenstein and Norway: the database's country list.
EU_COUNTRIES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)
EEA_COUNTRIES = frozenset((*EU_COUNTRIES, "IS", "LI", "NO"))
PUID_PATTERN = r"^[a-zA-Z0-9_-]{1,500}$"
EARLIEST_CONTENT = date(2000, 1, 1)
EARLIEST_APPLICATION = date(2020, 1, 1)
LATEST = date(2038, 1, 1)


class StatementOfReasons(BaseModel):
    """One statement, as sent to the Transparency Database (``model_dump(mode="json",
    exclude_none=True)``)."""

    model_config = ConfigDict(extra="forbid")

    decision_visibility: list[DecisionVisibility] = Field(min_length=1)
    decision_visibility_other: str | None = Field(default=None, max_length=500)
    decision_ground: DecisionGround
    decision_ground_reference_url: str | None = Field(default=None, max_length=500)
    illegal_content_legal_ground: str | None = Field(default=None, max_length=500)
    illegal_content_explanation: str | None = Field(default=None, max_length=2000)
    incompatible_content_ground: str | None = Field(default=None, max_length=500)
    incompatible_content_explanation: str | None = Field(default=None, max_length=2000)
    incompatible_content_illegal: Literal["Yes", "No"] | None = None
    content_type: list[ContentType] = Field(min_length=1)
    content_type_other: str | None = Field(default=None, max_length=500)
    category: Literal["STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"] = TERRORIST_CATEGORY
    category_specification: list[Literal["KEYWORD_TERRORIST_CONTENT"]] = [TERRORIST_KEYWORD]
    territorial_scope: list[str] = Field(min_length=1)
    content_date: date
    application_date: date
    end_date_visibility_restriction: date | None = None
    decision_facts: str = Field(min_length=1, max_length=5000)
    source_type: SourceType
    source_identity: str | None = Field(default=None, max_length=500)
    automated_detection: Literal["Yes", "No"]
    automated_decision: AutomatedDecision
    puid: str = Field(pattern=PUID_PATTERN)

    @field_validator("territorial_scope")
    @classmethod
    def _eea_only(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - EEA_COUNTRIES)
        if unknown:
            raise ValueError(f"territorial_scope holds non-EEA codes {unknown}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _conditional_fields(self) -> StatementOfReasons:
        if "DECISION_VISIBILITY_OTHER" in self.decision_visibility and not (
            self.decision_visibility_other
        ):
            raise ValueError("decision_visibility_other is required with DECISION_VISIBILITY_OTHER")
        if "CONTENT_TYPE_OTHER" in self.content_type and not self.content_type_other:
            raise ValueError("content_type_other is required with CONTENT_TYPE_OTHER")
        if self.decision_ground == "DECISION_GROUND_ILLEGAL_CONTENT":
            if not (self.illegal_content_legal_ground and self.illegal_content_explanation):
                raise ValueError("illegal content needs illegal_content_legal_ground and "
                                 "illegal_content_explanation")
            if self.incompatible_content_ground or self.incompatible_content_explanation:
                raise ValueError("incompatible_content_* fields belong to the other ground")
        else:
            if not (self.incompatible_content_ground and self.incompatible_content_explanation):
                raise ValueError("incompatible content needs incompatible_content_ground and "
                                 "incompatible_content_explanation")
            if self.illegal_content_legal_ground or self.illegal_content_explanation:
                raise ValueError("illegal_content_* fields belong to the other ground")
        if not EARLIEST_CONTENT <= self.content_date <= LATEST:
            raise ValueError("content_date must lie between 2000-01-01 and 2038-01-01")
        if not EARLIEST_APPLICATION <= self.application_date <= LATEST:
            raise ValueError("application_date must lie between 2020-01-01 and 2038-01-01")
        if self.automated_decision == "AUTOMATED_DECISION_FULLY" and (
            self.automated_detection != "Yes"
        ):
            raise ValueError("a fully automated decision implies automated detection")
        return self

    def to_api(self) -> dict:
        """The JSON object the Transparency Database expects (unset optionals left out)."""
        return self.model_dump(mode="json", exclude_none=True)


def batches(
    statements: Iterable[StatementOfReasons | dict], size: int = BATCH_LIMIT
) -> Iterator[dict]:
    """``{"statements": [...]}`` request bodies of at most ``size`` (≤ 100) statements each,
    every statement validated first."""
    if not 1 <= size <= BATCH_LIMIT:
        raise ValueError(f"batch size must be between 1 and {BATCH_LIMIT}")
    batch: list[dict] = []
    for statement in statements:
        if isinstance(statement, dict):
            statement = StatementOfReasons.model_validate(statement)
        batch.append(statement.to_api())
        if len(batch) == size:
            yield {"statements": batch}
            batch = []
    if batch:
        yield {"statements": batch}
