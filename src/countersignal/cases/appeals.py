"""Appeals (complaints) by content providers against restrictive decisions.

An appeal may be filed within six months of the decision (DSA Art. 20(1)) and must be answered
within two weeks of receipt (TCO Art. 10(2)): ``due_at = filed_at + 14 days``; reports count
the answers given after that as late. It is decided by a reviewer who took no part in the
original decision (neither decided nor confirmed it). Reversal reinstates the content: a
``decision.reinstate`` webhook goes to the platform, and every bank signal that caused the
case gets this organisation's ``false_positive`` opinion, so the same signal cannot act
automatically again (the policy blocks auto-action on signals marked false positive).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.actions import webhooks
from countersignal.actions.vault import add_months
from countersignal.audit import Target, record
from countersignal.auth.principal import Principal, require, require_own
from countersignal.banks.models import Signal
from countersignal.banks.service import set_opinion
from countersignal.cases.models import RESTRICTIVE_ACTIONS, Appeal, Decision
from countersignal.db import utcnow
from countersignal.errors import Conflict, Forbidden, InvalidInput

ANSWER_WITHIN = timedelta(days=14)
FILE_WITHIN_MONTHS = 6
OUTCOMES = ("upheld", "reversed")


def file_appeal(
    session: Session,
    principal: Principal,
    decision_id: str,
    *,
    statement: str,
    appellant_ref: str = "",
    now: datetime | None = None,
) -> Appeal:
    """The platform files its user's appeal against a restrictive decision."""
    require(principal, "match")
    decision = session.get(Decision, decision_id)
    require_own(principal, decision.organisation_id if decision else None, what="decision")
    assert decision is not None
    now = now or utcnow()
    if decision.status != "effective" or decision.action not in RESTRICTIVE_ACTIONS:
        raise Conflict("only an effective remove, restrict or label decision can be appealed")
    if now > add_months(decision.effective_at, FILE_WITHIN_MONTHS):
        raise Conflict("the six-month period to appeal this decision has ended")
    if not (statement or "").strip():
        raise InvalidInput("an appeal needs the content provider's statement")
    already = session.scalar(
        select(Appeal).where(Appeal.decision_id == decision.id, Appeal.status == "open"))
    if already is not None:
        raise Conflict(f"appeal {already.id} against this decision is still open")
    appeal = Appeal(
        organisation_id=decision.organisation_id, case_id=decision.case_id,
        decision_id=decision.id, appellant_ref=appellant_ref, statement=statement.strip(),
        filed_at=now, due_at=now + ANSWER_WITHIN, status="open", explanation="",
    )
    session.add(appeal)
    session.flush()
    record(session, actor=principal.actor, action="appeal.file", target=Target("appeal", appeal.id),
           organisation_id=appeal.organisation_id,
           details={"decision_id": decision.id, "due_at": appeal.due_at.isoformat()})
    return appeal


def decide_appeal(
    session: Session,
    principal: Principal,
    appeal_id: str,
    *,
    outcome: str,
    explanation: str,
    now: datetime | None = None,
) -> Appeal:
    """Uphold or reverse; the reviewer must not be anyone who made the original decision."""
    from countersignal.cases.service import MIN_EXPLANATION, actor_key

    require(principal, "cases:decide")
    appeal = session.get(Appeal, appeal_id)
    require_own(principal, appeal.organisation_id if appeal else None, what="appeal")
    assert appeal is not None
    if appeal.status != "open":
        raise Conflict(f"appeal {appeal.id} was already decided ({appeal.status})")
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome must be 'upheld' or 'reversed'")
    if len((explanation or "").strip()) < MIN_EXPLANATION:
        raise InvalidInput("explain the appeal decision to the content provider")
    decision = session.get(Decision, appeal.decision_id)
    me = actor_key(principal)
    if me in (decision.decided_by, decision.confirmed_by):
        raise Forbidden("an appeal must be decided by a reviewer who took no part in the "
                        "original decision")
    now = now or utcnow()
    appeal.status, appeal.decided_by, appeal.decided_at = outcome, me, now
    appeal.explanation = explanation.strip()
    record(session, actor=principal.actor, action="appeal.decide",
           target=Target("appeal", appeal.id), organisation_id=appeal.organisation_id,
           details={"outcome": outcome, "decision_id": decision.id,
                    "late": now > appeal.due_at})
    if outcome == "reversed":
        _reinstate(session, principal, appeal, decision, now)
    return appeal


def _reinstate(session, principal, appeal: Appeal, decision: Decision, now: datetime) -> None:
    case = decision.case
    decision.status, decision.reversed_at = "reversed", now
    case.status = "reinstated"
    signal_ids = sorted({m.signal_id for m in (case.submission.matches if case.submission else [])})
    opinions = []
    for signal_id in signal_ids:
        if session.get(Signal, signal_id) is None:
            continue  # the bank item was deleted since; nothing left to mark
        set_opinion(session, organisation_id=case.organisation_id, signal_id=signal_id,
                    opinion="false_positive",
                    note=f"content reinstated on appeal {appeal.id}",
                    details={"appeal_id": appeal.id, "case_id": case.id})
        opinions.append(signal_id)
    webhooks.enqueue(
        session, organisation_id=case.organisation_id, event="decision.reinstate",
        subject_id=decision.id,
        data={"case_id": case.id, "decision_id": decision.id, "appeal_id": appeal.id,
              "content_id": case.content_id, "explanation": appeal.explanation},
        now=now,
    )
    record(session, actor=principal.actor, action="case.reinstate", target=Target("case", case.id),
           organisation_id=case.organisation_id,
           details={"appeal_id": appeal.id, "false_positive_signals": opinions})


def list_appeals(
    session: Session, principal: Principal, *, open_only: bool = True, limit: int = 100,
) -> list[Appeal]:
    """Appeals, earliest answer deadline first."""
    require(principal, "cases:read")
    query = select(Appeal).where(principal.own(Appeal.organisation_id))
    if open_only:
        query = query.where(Appeal.status == "open")
    return list(session.scalars(query.order_by(Appeal.due_at).limit(limit)))
