"""Submissions, the review queue, decisions, policy, removal orders, appeals and statements of
reasons over HTTP. Thin: every route calls one service function (``countersignal.cases``),
which checks the permission, scopes to the caller's organisation and audits; the route commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from countersignal.actions.vault import Vault
from countersignal.api.deps import api_state, get_matcher, get_principal, get_session
from countersignal.auth import Principal
from countersignal.cases import appeals, orders, service
from countersignal.cases.models import RemovalOrder
from countersignal.cases.policy import PolicyDocument, get_policy, set_policy

router = APIRouter(prefix="/v1", tags=["cases"])

DbSession = Annotated[Session, Depends(get_session)]
Caller = Annotated[Principal, Depends(get_principal)]
Matcher = Annotated[object, Depends(get_matcher)]
Text300 = Annotated[str, Field(max_length=300)]
Text5000 = Annotated[str, Field(max_length=5000)]


def vault_of(request: Request) -> Vault:
    """The deployment's evidence vault (key loaded once per process)."""
    extra = api_state(request).extra
    if "vault" not in extra:
        extra["vault"] = Vault.from_settings(api_state(request).runtime.settings)
    return extra["vault"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- bodies ---------------------------------------------------------------------------------


class SignalIn(Strict):
    type: Annotated[str, Field(max_length=32)]
    value: Annotated[str, Field(min_length=1, max_length=4_000_000)]


class FindingIn(Strict):
    classifier: Text300
    label: Text300
    score: float
    threshold: float | None = None
    reason: dict = Field(default_factory=dict)


class SignalSubmission(Strict):
    content_id: Annotated[str, Field(min_length=1, max_length=500)]
    uploader_id: Annotated[str, Field(max_length=500)] | None = None
    territory: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    content_type: Text300 = ""
    signals: Annotated[list[SignalIn], Field(max_length=1000)] = []
    text: Annotated[str, Field(max_length=1_000_000)] | None = None
    findings: Annotated[list[FindingIn], Field(max_length=100)] = []


class DecisionIn(Strict):
    action: Literal["remove", "restrict", "label", "leave_up", "escalate"]
    ground_type: Literal["legal", "terms_of_service"]
    ground: Annotated[str, Field(min_length=1, max_length=500)]
    explanation: Annotated[str, Field(min_length=1, max_length=2000)]
    territories: Annotated[list[Annotated[str, Field(max_length=2)]], Field(max_length=60)] = []
    ground_reference_url: Annotated[str, Field(max_length=500)] | None = None


class ReasonIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class OrderIn(Strict):
    authority: Text300
    authority_country: Annotated[str, Field(min_length=2, max_length=2)]
    authority_reference: Text300
    legal_basis: Text5000
    content_reference: Text5000
    content_id: Annotated[str, Field(max_length=500)] | None = None
    received_at: AwareDatetime | None = None
    notify_provider: bool = True
    withhold_reason: Text5000 = ""
    withhold_until: AwareDatetime | None = None


class OrderResponseIn(Strict):
    outcome: Literal["done", "not_done"]
    reason: Literal["force_majeure", "manifest_error", "insufficient_information"] | None = None
    explanation: Text5000 = ""


class AppealIn(Strict):
    statement: Annotated[str, Field(min_length=1, max_length=10_000)]
    appellant_ref: Annotated[str, Field(max_length=500)] = ""


class AppealDecisionIn(Strict):
    outcome: Literal["upheld", "reversed"]
    explanation: Annotated[str, Field(min_length=1, max_length=5000)]


# --- responses ------------------------------------------------------------------------------


class DecisionOut(Out):
    id: str
    case_id: str
    action: str
    territories: list[str]
    ground_type: str
    ground: str
    ground_reference_url: str | None
    explanation: str
    automated: bool
    rule: str | None
    decided_by: str
    status: str
    requires_confirmation: bool
    confirmed_by: str | None
    created_at: datetime
    effective_at: datetime | None
    reversed_at: datetime | None


class CaseOut(Out):
    id: str
    status: str
    tier: str
    priority: int
    content_id: str | None
    submission_id: str | None
    removal_order_id: str | None
    vault_entry_id: str | None
    opened_at: datetime
    sla_due_at: datetime
    decided_at: datetime | None
    reasons: list[str]


class MatchRow(Out):
    signal_id: int
    signal_type: str
    signal_value: str
    distance: float
    bank_id: str
    bank_name: str
    bank_trusted: bool
    item_id: str
    labels: list[dict]
    disputed: bool
    rule: str | None
    outcome: str


class FindingRow(Out):
    classifier: str
    label: str
    score: float
    threshold: float | None
    reason: dict
    rule: str | None
    outcome: str


class SubmissionOut(BaseModel):
    submission_id: str
    outcome: Literal["none", "review", "auto_action"]
    tier: str
    reasons: list[str]
    case: CaseOut | None
    decision: DecisionOut | None
    matches: list[MatchRow]
    findings: list[FindingRow]


class AppealOut(Out):
    id: str
    case_id: str
    decision_id: str
    appellant_ref: str
    statement: str
    filed_at: datetime
    due_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    explanation: str


class NoticeOut(Out):
    id: str
    decision_id: str
    recipient_ref: str | None
    status: str
    withheld_reason: str
    withheld_until: datetime | None
    sent_at: datetime | None


class CaseDetailOut(BaseModel):
    case: CaseOut
    matches: list[MatchRow]
    findings: list[FindingRow]
    decisions: list[DecisionOut]
    appeals: list[AppealOut]
    notices: list[NoticeOut]
    statements: list[dict]


class CaseList(BaseModel):
    cases: list[CaseOut]


class OrderOut(Out):
    id: str
    authority: str
    authority_country: str
    authority_reference: str
    legal_basis: str
    content_reference: str
    content_id: str | None
    received_at: datetime
    deadline: datetime
    notify_provider: bool
    status: str
    responded_at: datetime | None
    response_reason: str | None
    response_explanation: str
    late: bool | None = None
    seconds_left: float = 0.0
    escalations_fired: list[int] = []

    @classmethod
    def of(cls, order: RemovalOrder) -> OrderOut:
        clock = orders.clock(order)
        return cls.model_validate(order).model_copy(update={
            "late": clock.late, "seconds_left": clock.remaining.total_seconds(),
            "escalations_fired": [e.minutes_left for e in order.escalations]})


class OrderList(BaseModel):
    orders: list[OrderOut]


class AppealList(BaseModel):
    appeals: list[AppealOut]


class PolicyOut(BaseModel):
    organisation_id: str
    document: PolicyDocument


class StatementBatches(BaseModel):
    batches: list[dict]


def _submission_out(result: service.SubmissionResult) -> SubmissionOut:
    sub = result.submission
    return SubmissionOut(
        submission_id=sub.id, outcome=result.evaluation.outcome, tier=result.evaluation.tier,
        reasons=result.evaluation.reasons,
        case=CaseOut.model_validate(result.case) if result.case else None,
        decision=DecisionOut.model_validate(result.decision) if result.decision else None,
        matches=[MatchRow.model_validate(m) for m in sub.matches],
        findings=[FindingRow.model_validate(f) for f in sub.findings],
    )


# --- submissions ----------------------------------------------------------------------------


@router.post("/submissions", response_model=SubmissionOut, status_code=201)
async def submit_upload(
    request: Request,
    session: DbSession,
    principal: Caller,
    matcher: Matcher,
    file: Annotated[UploadFile, File(description="the content")],
    content_id: Annotated[str, Form(min_length=1, max_length=500)],
    uploader_id: Annotated[str | None, Form(max_length=500)] = None,
    territory: Annotated[str | None, Form(min_length=2, max_length=2)] = None,
) -> SubmissionOut:
    """Submit uploaded content with your ids for it and its uploader. It is hashed, matched and
    classified; your policy opens a case, acts (trusted bank + explicit rule only) or not."""
    data = await file.read()
    content_type = file.content_type or ""

    def work() -> SubmissionOut:
        result = service.submit(session, principal, matcher, content=data,
                                content_type=content_type, content_id=content_id,
                                uploader_id=uploader_id, territory=territory,
                                vault=vault_of(request))
        out = _submission_out(result)
        session.commit()
        return out

    return await run_in_threadpool(work)


@router.post("/submissions/signals", response_model=SubmissionOut, status_code=201)
def submit_signals(request: Request, body: SignalSubmission, session: DbSession,
                   principal: Caller, matcher: Matcher) -> SubmissionOut:
    """Submit signals you computed (and/or text), with your own classifier findings."""
    result = service.submit(
        session, principal, matcher, content_id=body.content_id, uploader_id=body.uploader_id,
        territory=body.territory, content_type=body.content_type, text=body.text,
        signals=[s.model_dump() for s in body.signals] or None,
        findings=[f.model_dump() for f in body.findings], vault=vault_of(request))
    out = _submission_out(result)
    session.commit()
    return out


# --- cases and decisions --------------------------------------------------------------------


@router.get("/cases", response_model=CaseList)
def queue(
    session: DbSession, principal: Caller,
    status: Annotated[list[Literal["open", "pending_confirmation", "escalated", "decided",
                                   "reinstated"]] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """Cases most urgent first (threat to life, crisis, removal orders, designated entities,
    the rest; oldest first within each)."""
    states = status or list(service.OPEN_STATES)
    cases = service.list_queue(session, principal, states=states, limit=limit, offset=offset)
    return CaseList(cases=[CaseOut.model_validate(c) for c in cases])


@router.get("/cases/{case_id}", response_model=CaseDetailOut)
def case_detail(case_id: str, session: DbSession, principal: Caller) -> CaseDetailOut:
    detail = service.get_case(session, principal, case_id)
    sub = detail.submission
    return CaseDetailOut(
        case=CaseOut.model_validate(detail.case),
        matches=[MatchRow.model_validate(m) for m in (sub.matches if sub else [])],
        findings=[FindingRow.model_validate(f) for f in (sub.findings if sub else [])],
        decisions=[DecisionOut.model_validate(d) for d in detail.decisions],
        appeals=[AppealOut.model_validate(a) for a in detail.appeals],
        notices=[NoticeOut.model_validate(n) for n in detail.notices],
        statements=[s.document for s in detail.statements],
    )


@router.post("/cases/{case_id}/decisions", response_model=DecisionOut, status_code=201)
def decide(request: Request, case_id: str, body: DecisionIn, session: DbSession,
           principal: Caller) -> DecisionOut:
    """Decide a case; ground and explanation are required. Under the two-person rule the
    decision waits (status ``pending``) for another reviewer's confirmation."""
    decision = service.decide(session, principal, case_id, vault=vault_of(request),
                              **body.model_dump())
    out = DecisionOut.model_validate(decision)
    session.commit()
    return out


@router.post("/decisions/{decision_id}/confirm", response_model=DecisionOut)
def confirm(request: Request, decision_id: str, session: DbSession,
            principal: Caller) -> DecisionOut:
    decision = service.confirm_decision(session, principal, decision_id,
                                        vault=vault_of(request))
    out = DecisionOut.model_validate(decision)
    session.commit()
    return out


@router.post("/decisions/{decision_id}/reject", response_model=DecisionOut)
def reject(decision_id: str, body: ReasonIn, session: DbSession,
           principal: Caller) -> DecisionOut:
    decision = service.reject_decision(session, principal, decision_id, reason=body.reason)
    out = DecisionOut.model_validate(decision)
    session.commit()
    return out


# --- policy ---------------------------------------------------------------------------------


@router.get("/policy", response_model=PolicyOut)
def read_policy(session: DbSession, principal: Caller) -> PolicyOut:
    from countersignal.auth import require

    require(principal, "cases:read")
    return PolicyOut(organisation_id=principal.organisation_id,
                     document=get_policy(session, principal.organisation_id))


@router.put("/policy", response_model=PolicyOut)
def write_policy(body: PolicyDocument, session: DbSession, principal: Caller) -> PolicyOut:
    """Replace your organisation's policy (admin; versioned and audited)."""
    set_policy(session, principal, body)
    session.commit()
    return PolicyOut(organisation_id=principal.organisation_id, document=body)


# --- removal orders -------------------------------------------------------------------------


@router.post("/removal-orders", response_model=OrderOut, status_code=201)
def receive_order(body: OrderIn, session: DbSession, principal: Caller) -> OrderOut:
    """Record a TCO removal order; its one-hour clock runs from ``received_at`` (default now)."""
    order = orders.receive_order(session, principal, **body.model_dump())
    session.commit()
    return OrderOut.of(order)


@router.get("/removal-orders", response_model=OrderList)
def list_orders(session: DbSession, principal: Caller,
                open_only: bool = False) -> OrderList:
    return OrderList(orders=[OrderOut.of(o) for o in orders.list_orders(
        session, principal, open_only=open_only)])


@router.get("/removal-orders/{order_id}", response_model=OrderOut)
def get_order(order_id: str, session: DbSession, principal: Caller) -> OrderOut:
    return OrderOut.of(orders.get_order(session, principal, order_id))


@router.post("/removal-orders/{order_id}/response", response_model=OrderOut)
def respond(order_id: str, body: OrderResponseIn, session: DbSession,
            principal: Caller) -> OrderOut:
    """The answer to the authority: done, or not done with the Regulation's reason."""
    order = orders.respond_to_order(session, principal, order_id, **body.model_dump())
    session.commit()
    return OrderOut.of(order)


# --- appeals --------------------------------------------------------------------------------


@router.post("/decisions/{decision_id}/appeals", response_model=AppealOut, status_code=201)
def file_appeal(decision_id: str, body: AppealIn, session: DbSession,
                principal: Caller) -> AppealOut:
    """File the content provider's appeal (answered within 14 days)."""
    appeal = appeals.file_appeal(session, principal, decision_id, **body.model_dump())
    session.commit()
    return AppealOut.model_validate(appeal)


@router.get("/appeals", response_model=AppealList)
def list_appeals(session: DbSession, principal: Caller, open_only: bool = True) -> AppealList:
    return AppealList(appeals=[AppealOut.model_validate(a) for a in appeals.list_appeals(
        session, principal, open_only=open_only)])


@router.post("/appeals/{appeal_id}/decision", response_model=AppealOut)
def decide_appeal(appeal_id: str, body: AppealDecisionIn, session: DbSession,
                  principal: Caller) -> AppealOut:
    """Uphold or reverse (by a reviewer who took no part in the decision); reversal reinstates."""
    appeal = appeals.decide_appeal(session, principal, appeal_id, **body.model_dump())
    session.commit()
    return AppealOut.model_validate(appeal)


# --- statements of reasons ------------------------------------------------------------------


@router.get("/statements", response_model=StatementBatches)
def export_statements(
    session: DbSession, principal: Caller,
    since: AwareDatetime | None = None, until: AwareDatetime | None = None,
    unexported: bool = False, mark_exported: bool = False,
    batch_size: Annotated[int, Query(ge=1, le=100)] = 100,
) -> StatementBatches:
    """Statements of reasons as DSA Transparency Database request bodies (≤ 100 each)."""
    if mark_exported:
        from countersignal.auth import require

        require(principal, "cases:decide")
    bodies = service.export_statements(session, principal, since=since, until=until,
                                       only_unexported=unexported, batch_size=batch_size,
                                       mark_exported=mark_exported)
    session.commit()
    return StatementBatches(batches=bodies)

