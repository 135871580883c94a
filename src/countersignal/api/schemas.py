"""Request and response bodies (pydantic). Shapes are the public API: change with care.

Signal types are an enum in the OpenAPI document, so clients (and the property tests) know
them; values are validated by the signal type itself (422 with its message).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from countersignal.banks.models import LABEL_KINDS, TLP_LEVELS
from countersignal.signals import SIGNAL_TYPES

SignalTypeName = StrEnum("SignalTypeName", {name: name for name in sorted(SIGNAL_TYPES)})
Tlp = Literal[TLP_LEVELS]  # type: ignore[valid-type]
LabelKind = Literal[LABEL_KINDS]  # type: ignore[valid-type]
ShortText = Annotated[str, StringConstraints(max_length=300)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
# A vPDQ value lists every frame: hours of video at one frame a second stay under this.
SignalValue = Annotated[str, StringConstraints(min_length=1, max_length=4_000_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignalIn(Strict):
    type: SignalTypeName
    value: SignalValue


class SignalOut(BaseModel):
    type: str
    value: str
    quality: int | None = None
    meta: dict = Field(default_factory=dict)


class StoredSignal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    value: str
    quality: int | None = None


class LabelModel(Strict):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    kind: LabelKind
    value: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reference: ShortText | None = None


# --- hashing and matching ---------------------------------------------------------------------


class HashResponse(BaseModel):
    signals: list[SignalOut]


class MatchSignalsRequest(Strict):
    signals: list[SignalIn] = Field(min_length=1, max_length=100)
    thresholds: dict[SignalTypeName, float] | None = Field(
        default=None, description="per signal type, e.g. {\"pdq\": 31}; defaults per type"
    )
    banks: list[ShortText] | None = Field(
        default=None, max_length=100, description="only these banks (id or name)"
    )


class UrlRequest(Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    dihedral: bool = False
    banks: list[ShortText] | None = Field(default=None, max_length=100)


class MatchOut(BaseModel):
    bank_id: str
    bank_name: str
    bank_trusted: bool
    item_id: str
    external_id: str | None
    labels: list[LabelModel]
    source: str
    source_ref: str | None
    signal_id: int
    signal_type: str
    signal_value: str
    query_value: str
    distance: float
    tlp: str
    extra: dict = Field(default_factory=dict)


class BankMatchSummary(BaseModel):
    bank_id: str
    bank_name: str
    matches: int
    best_distance: float


class MatchResponse(BaseModel):
    matched: bool
    signals: list[SignalOut] = Field(description="the query's signals (hashed from uploads)")
    banks: list[BankMatchSummary] = Field(description="per-bank summary, best match first")
    matches: list[MatchOut]


class CompareRequest(Strict):
    a: SignalIn
    b: SignalIn
    threshold: float | None = Field(default=None, ge=0)


class CompareResponse(BaseModel):
    signal_type: str
    distance: float
    threshold: float
    match: bool


# --- banks and items ------------------------------------------------------------------------------


class BankCreate(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    tlp: Tlp = "AMBER"
    trusted: bool = False
    local_only: bool = False


class BankUpdate(Strict):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    tlp: Tlp | None = None
    trusted: bool | None = None
    local_only: bool | None = None
    matching_enabled: bool | None = None


class BankOut(BaseModel):
    id: str
    name: str
    description: str
    tlp: str
    trusted: bool
    local_only: bool
    matching_enabled: bool
    created_at: datetime
    updated_at: datetime
    item_count: int
    signal_count: int

    @classmethod
    def of(cls, bank, counts: tuple[int, int]) -> BankOut:
        fields = {name: getattr(bank, name) for name in cls.model_fields if hasattr(bank, name)}
        return cls(**fields, item_count=counts[0], signal_count=counts[1])


class BankList(BaseModel):
    banks: list[BankOut]


class ItemCreate(Strict):
    signals: list[SignalIn] = Field(min_length=1, max_length=100)
    labels: list[LabelModel] = Field(default_factory=list, max_length=50)
    external_id: ShortText | None = None
    source: Annotated[str, StringConstraints(max_length=200)] = ""
    source_ref: Annotated[str, StringConstraints(max_length=500)] | None = None
    tlp: Tlp | None = None
    note: Annotated[str, StringConstraints(max_length=5000)] = ""


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    bank_id: str
    external_id: str | None
    source: str
    source_ref: str | None
    source_organisation_id: str | None
    tlp: str | None
    note: str
    revoked_at: datetime | None
    created_at: datetime
    labels: list[LabelModel]
    signals: list[StoredSignal]


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_after: str | None = Field(description="pass as ?after= for the next page")


class RawSignal(SignalIn):
    external_id: ShortText | None = None


class RawSignalsCreate(Strict):
    """Bulk add: each signal becomes one item carrying the shared labels and provenance."""

    signals: list[RawSignal] = Field(min_length=1, max_length=1000)
    labels: list[LabelModel] = Field(default_factory=list, max_length=50)
    source: Annotated[str, StringConstraints(max_length=200)] = ""
    source_ref: Annotated[str, StringConstraints(max_length=500)] | None = None
    tlp: Tlp | None = None


class RawSignalsCreated(BaseModel):
    item_ids: list[str]


class Removed(BaseModel):
    id: str
    signals_removed: int


# --- status, identity, audit ------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    applied_seq: int
    sync_age_s: float
    indexes: dict[str, int]


class IndexStatus(BaseModel):
    ready: bool
    applied_seq: int | None
    sync_age_s: float | None
    signals: dict[str, int] = Field(description="this organisation's stored signals by type")


class Me(BaseModel):
    organisation_id: str | None
    user_id: str | None
    token_id: str | None
    roles: list[str]
    permissions: list[str]


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    id: str
    at: datetime
    organisation_id: str | None
    actor_kind: str
    actor_id: str
    actor_token_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    reason: str | None
    details: dict
    hash: str


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_before_seq: int | None
