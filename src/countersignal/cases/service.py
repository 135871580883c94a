"""Case service functions: the one way the API, the CLI, the web UI and workers handle cases.

Every function takes the caller's :class:`~countersignal.auth.principal.Principal`, checks its
permission, scopes reads to its organisation, audits what it changes in the same transaction,
and takes ``now`` (UTC, timezone-aware) so clocks can be tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.actions.vault import Vault, preserve
from countersignal.audit import Target, record
from countersignal.auth.principal import Principal, require, require_own
from countersignal.cases import effects
from countersignal.cases.evidence import (
    as_classifier_evidence,
    bank_evidence,
    compute_signals,
    run_classifiers,
    run_image_classifiers,
)
from countersignal.cases.models import (
    ACTIONS,
    GROUND_TYPES,
    PRIORITIES,
    Appeal,
    Case,
    Decision,
    Finding,
    Notice,
    StatementRecord,
    Submission,
    SubmissionMatch,
)
from countersignal.cases.policy import ClassifierEvidence, Evaluation, evaluate, get_policy
from countersignal.db import utcnow
from countersignal.errors import Conflict, Forbidden, InvalidInput

REVIEW_RETENTION = timedelta(days=30)
OPEN_STATES = ("open", "escalated", "pending_confirmation")
MIN_EXPLANATION = 10


def actor_key(principal: Principal) -> str:
    """A stable identity for "who decided" (a user, whichever token they used)."""
    actor = principal.actor
    return f"{actor.kind}:{actor.id}"


# --- submissions ---------------------------------------------------------------------------


@dataclass
class SubmissionResult:
    submission: Submission
    evaluation: Evaluation
    case: Case | None = None
    decision: Decision | None = None


def submit(
    session: Session,
    principal: Principal,
    matcher,
    *,
    content_id: str,
    content: bytes | None = None,
    text: str | None = None,
    signals: Sequence | None = None,
    findings: Sequence[ClassifierEvidence | dict] = (),
    uploader_id: str | None = None,
    territory: str | None = None,
    content_type: str = "",
    organisation_id: str | None = None,
    vault: Vault | None = None,
    now: datetime | None = None,
) -> SubmissionResult:
    """A platform submits content (bytes, text or signals) with its own content/uploader ids.

    Matching and classifiers run (text: entity lists and text models; images: the same on
    OCR text where the organisation enabled OCR); the organisation's policy then opens a case
    for review, acts automatically (trusted bank + explicit rule + not disputed only), or does
    nothing. Uploaded bytes of content that opens a case are sealed in the vault for the
    reviewer (30 days; six months as evidence once removed). ``findings`` are the platform's
    own classifier results.
    """
    from countersignal.exchange.ingest import record_sighting
    from countersignal.index.matcher import match_signals

    require(principal, "match")
    org = principal.organisation_for(organisation_id)
    if not content_id or len(content_id) > 500:
        raise InvalidInput("content_id (the platform's id for the content) is required")
    if territory is not None and (len(territory) != 2 or not territory.isalpha()):
        raise InvalidInput("territory must be an ISO 3166-1 alpha-2 code")
    now = now or utcnow()
    computed = compute_signals(content, text, signals, content_type)
    matches = match_signals(session, matcher, org, computed)
    evidence = bank_evidence(session, org, matches)
    classifier = [f if isinstance(f, ClassifierEvidence) else as_classifier_evidence(f)
                  for f in findings]
    if text is not None:
        classifier.extend(run_classifiers(session, org, text))
    if content is not None and any(s.type == "pdq" for s in computed):
        classifier.extend(run_image_classifiers(session, org, content))
    policy = get_policy(session, org)
    evaluation = evaluate(policy, evidence, classifier)

    submission = Submission(
        organisation_id=org, content_id=content_id, uploader_id=uploader_id,
        territory=territory.upper() if territory else None, content_type=content_type or "",
        signals=[{"type": s.type, "value": s.value} for s in computed], created_at=now,
    )
    verdicts = iter(evaluation.verdicts)
    for match, ev in zip(matches, evidence, strict=True):
        verdict = next(verdicts)
        submission.matches.append(SubmissionMatch(
            signal_id=match.signal_id, signal_type=match.signal_type,
            signal_value=match.signal_value, distance=float(match.distance),
            bank_id=match.bank_id, bank_name=match.bank_name, bank_trusted=match.bank_trusted,
            item_id=match.item_id, labels=match.labels, disputed=ev.disputed,
            rule=verdict.rule.name if verdict.rule else None, outcome=verdict.outcome,
        ))
    # Counts only (never user data) go back to partners who opted in to sightings.
    for item_id in {m.item_id for m in matches}:
        record_sighting(session, organisation_id=org, item_id=item_id)
    for finding in classifier:
        verdict = next(verdicts)
        submission.findings.append(Finding(
            classifier=finding.classifier, label=finding.label, score=finding.score,
            threshold=finding.threshold, reason=finding.reason,
            rule=verdict.rule.name if verdict.rule else None, outcome=verdict.outcome,
        ))
    session.add(submission)
    session.flush()
    record(session, actor=principal.actor, action="submission.create",
           target=Target("submission", submission.id), organisation_id=org,
           details={"content_id": content_id, "matches": len(matches),
                    "findings": len(classifier), "outcome": evaluation.outcome})
    result = SubmissionResult(submission, evaluation)
    if evaluation.outcome == "none":
        return result

    case = open_case(session, principal, organisation_id=org, tier=evaluation.tier,
                     reasons=evaluation.reasons, submission=submission, now=now)
    if content is not None:
        vault = vault or effects.default_vault()
        entry = preserve(
            session, vault, organisation_id=org, content=content, case_id=case.id,
            submission_id=submission.id, content_type=content_type, purpose="review",
            retain_until=now + REVIEW_RETENTION, actor=principal.actor,
            metadata={"content_id": content_id, "uploader_id": uploader_id,
                      "territory": submission.territory, "signals": submission.signals},
        )
        case.vault_entry_id = entry.id
    result.case = case
    if evaluation.auto_rule is not None:
        rule = evaluation.auto_rule
        decision = Decision(
            case_id=case.id, organisation_id=org, action=rule.action,
            territories=sorted({t.upper() for t in rule.territories}),
            ground_type=rule.ground_type, ground=rule.ground, explanation=rule.explanation,
            automated=True, automated_detection=True, rule=rule.name,
            decided_by=f"policy:{rule.name}", status="pending", created_at=now,
        )
        session.add(decision)
        session.flush()
        effects.make_effective(session, decision, case, now=now, vault=vault,
                               actor=principal.actor)
        result.decision = decision
    return result


def open_case(
    session: Session,
    principal: Principal,
    *,
    organisation_id: str,
    tier: str,
    reasons: list[str],
    submission: Submission | None = None,
    removal_order=None,
    now: datetime,
) -> Case:
    """Open a case with its priority and SLA deadline (a removal order's is its own deadline)."""
    policy = get_policy(session, organisation_id)
    queue_tier = tier
    if removal_order is not None and PRIORITIES[tier] > PRIORITIES["removal_order"]:
        queue_tier = "removal_order"
    sla_due = now + policy.sla(queue_tier)
    if removal_order is not None:
        sla_due = min(sla_due, removal_order.deadline)
    case = Case(
        organisation_id=organisation_id, submission_id=submission.id if submission else None,
        removal_order_id=removal_order.id if removal_order else None,
        content_id=submission.content_id if submission else (
            removal_order.content_id if removal_order else None),
        status="open", tier=queue_tier, priority=PRIORITIES[queue_tier], opened_at=now,
        sla_due_at=sla_due, reasons=reasons,
    )
    session.add(case)
    session.flush()
    record(session, actor=principal.actor, action="case.open", target=Target("case", case.id),
           organisation_id=organisation_id,
           details={"tier": queue_tier, "sla_due_at": sla_due.isoformat(), "reasons": reasons})
    return case


# --- reading -------------------------------------------------------------------------------


def list_queue(
    session: Session,
    principal: Principal,
    *,
    states: Sequence[str] = OPEN_STATES,
    limit: int = 50,
    offset: int = 0,
    organisation_id: str | None = None,
) -> list[Case]:
    """Cases awaiting a human, most urgent first: threat to life, crisis content, removal
    orders, designated entities, the rest; ties oldest first. ``organisation_id`` narrows a
    system caller's view to one organisation."""
    require(principal, "cases:read")
    query = select(Case).where(principal.own(Case.organisation_id), Case.status.in_(list(states)))
    if organisation_id:
        query = query.where(Case.organisation_id == organisation_id)
    return list(session.scalars(
        query
        .order_by(Case.priority, Case.opened_at, Case.id)
        .limit(min(limit, 500)).offset(offset)
    ))


@dataclass
class CaseDetail:
    """Everything a reviewer sees about a case (content itself only through the vault)."""

    case: Case
    submission: Submission | None
    decisions: list[Decision]
    appeals: list[Appeal] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    statements: list[StatementRecord] = field(default_factory=list)

    def sla_remaining(self, now: datetime | None = None) -> timedelta:
        return self.case.sla_due_at - (now or utcnow())


def get_case(session: Session, principal: Principal, case_id: str) -> CaseDetail:
    require(principal, "cases:read")
    case = session.get(Case, case_id)
    require_own(principal, case.organisation_id if case else None, what="case")
    assert case is not None
    decision_ids = [d.id for d in case.decisions]
    return CaseDetail(
        case=case,
        submission=case.submission,
        decisions=list(case.decisions),
        appeals=list(session.scalars(
            select(Appeal).where(Appeal.case_id == case.id).order_by(Appeal.filed_at))),
        notices=list(session.scalars(
            select(Notice).where(Notice.case_id == case.id).order_by(Notice.created_at))),
        statements=list(session.scalars(
            select(StatementRecord).where(StatementRecord.decision_id.in_(decision_ids)))),
    )


# --- deciding ------------------------------------------------------------------------------


def decide(
    session: Session,
    principal: Principal,
    case_id: str,
    *,
    action: str,
    ground_type: str,
    ground: str,
    explanation: str,
    territories: Sequence[str] = (),
    ground_reference_url: str | None = None,
    vault: Vault | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide a case: remove / restrict (in territories) / label / leave up / escalate.

    A ground (legal provision or terms-of-service clause) and an explanation are required for
    every action. When the policy names the action in ``second_reviewer_actions`` the decision
    waits for :func:`confirm_decision` by a different reviewer before anything happens."""
    require(principal, "cases:decide")
    now = now or utcnow()
    case = _own_case(session, principal, case_id)
    if case.status not in ("open", "escalated"):
        raise Conflict(f"case {case.id} is {case.status}; it cannot take a new decision")
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}")
    if ground_type not in GROUND_TYPES:
        raise InvalidInput("ground_type must be 'legal' or 'terms_of_service'")
    if not (ground or "").strip():
        raise InvalidInput("a ground is required: the legal provision or terms-of-service clause")
    if len((explanation or "").strip()) < MIN_EXPLANATION:
        raise InvalidInput("an explanation (what the content is and why this ground applies) "
                           f"of at least {MIN_EXPLANATION} characters is required")
    codes = sorted({t.strip().upper() for t in territories})
    if action == "restrict" and not codes:
        raise InvalidInput("restrict needs the territories (ISO 3166-1 alpha-2) it applies in")
    if any(len(c) != 2 or not c.isalpha() for c in codes):
        raise InvalidInput("territories must be ISO 3166-1 alpha-2 codes")
    policy = get_policy(session, case.organisation_id)
    two_person = action in policy.second_reviewer_actions
    decision = Decision(
        case_id=case.id, organisation_id=case.organisation_id, action=action,
        territories=codes, ground_type=ground_type, ground=ground.strip(),
        ground_reference_url=ground_reference_url, explanation=explanation.strip(),
        automated=False, automated_detection=bool(
            case.submission and (case.submission.matches or case.submission.findings)),
        decided_by=actor_key(principal), status="pending", requires_confirmation=two_person,
        created_at=now,
    )
    session.add(decision)
    session.flush()
    record(session, actor=principal.actor, action="case.decide", target=Target("case", case.id),
           organisation_id=case.organisation_id,
           details={"decision_id": decision.id, "action": action, "ground_type": ground_type,
                    "ground": decision.ground, "territories": codes,
                    "awaiting_second_reviewer": two_person})
    if two_person:
        case.status = "pending_confirmation"
    else:
        effects.make_effective(session, decision, case, now=now, vault=vault,
                               actor=principal.actor)
    return decision


def confirm_decision(
    session: Session, principal: Principal, decision_id: str, *,
    vault: Vault | None = None, now: datetime | None = None,
) -> Decision:
    """The second reviewer confirms a pending decision; it then takes effect. The confirming
    reviewer must be a different person from the one who decided (two-person rule)."""
    decision, case = _pending(session, principal, decision_id)
    if actor_key(principal) == decision.decided_by:
        raise Forbidden("the two-person rule needs a different reviewer to confirm")
    now = now or utcnow()
    decision.confirmed_by, decision.confirmed_at = actor_key(principal), now
    record(session, actor=principal.actor, action="case.confirm", target=Target("case", case.id),
           organisation_id=case.organisation_id, details={"decision_id": decision.id})
    effects.make_effective(session, decision, case, now=now, vault=vault, actor=principal.actor)
    return decision


def reject_decision(
    session: Session, principal: Principal, decision_id: str, *, reason: str,
    now: datetime | None = None,
) -> Decision:
    """The second reviewer disagrees: the decision is void and the case is open again."""
    decision, case = _pending(session, principal, decision_id)
    if actor_key(principal) == decision.decided_by:
        raise Forbidden("the two-person rule needs a different reviewer")
    if not (reason or "").strip():
        raise InvalidInput("say why the decision is rejected")
    decision.status = "rejected"
    decision.confirmed_by, decision.confirmed_at = actor_key(principal), now or utcnow()
    case.status = "open"
    record(session, actor=principal.actor, action="case.reject", target=Target("case", case.id),
           organisation_id=case.organisation_id, reason=reason,
           details={"decision_id": decision.id})
    return decision


def _pending(session: Session, principal: Principal, decision_id: str) -> tuple[Decision, Case]:
    require(principal, "cases:decide")
    decision = session.get(Decision, decision_id)
    require_own(principal, decision.organisation_id if decision else None, what="decision")
    assert decision is not None
    if decision.status != "pending":
        raise Conflict(f"decision {decision.id} is {decision.status}, not awaiting confirmation")
    return decision, decision.case


def _own_case(session: Session, principal: Principal, case_id: str) -> Case:
    case = session.get(Case, case_id)
    require_own(principal, case.organisation_id if case else None, what="case")
    assert case is not None
    return case


# --- statements of reasons -----------------------------------------------------------------


def list_statements(
    session: Session, principal: Principal, *, since: datetime | None = None,
    until: datetime | None = None, only_unexported: bool = False, limit: int = 10_000,
) -> list[StatementRecord]:
    require(principal, "cases:read")
    query = select(StatementRecord).where(principal.own(StatementRecord.organisation_id))
    if since:
        query = query.where(StatementRecord.created_at >= since)
    if until:
        query = query.where(StatementRecord.created_at < until)
    if only_unexported:
        query = query.where(StatementRecord.exported_at.is_(None))
    return list(session.scalars(query.order_by(StatementRecord.created_at).limit(limit)))


def export_statements(
    session: Session, principal: Principal, *, since: datetime | None = None,
    until: datetime | None = None, only_unexported: bool = False, batch_size: int = 100,
    mark_exported: bool = False, now: datetime | None = None,
) -> list[dict]:
    """Statements as Transparency Database request bodies (``{"statements": [...]}``, ≤ 100
    each), re-validated on the way out; optionally marked exported (audited)."""
    from countersignal.actions.statements import batches

    rows = list_statements(session, principal, since=since, until=until,
                           only_unexported=only_unexported)
    bodies = list(batches((row.document for row in rows), size=batch_size))
    if mark_exported and rows:
        now = now or utcnow()
        for row in rows:
            row.exported_at = now
        record(session, actor=principal.actor, action="statements.export",
               target=Target("statements", None), organisation_id=rows[0].organisation_id,
               details={"count": len(rows), "batches": len(bodies)})
    return bodies
