"""What happens when a decision takes effect: statement of reasons, notice, webhook, vault,
and the response to a removal order. All inside the caller's transaction, so a decision and its
consequences commit together (the webhook is an outbox row the worker delivers afterwards)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.actions import webhooks
from countersignal.actions.models import VaultEntry
from countersignal.actions.statements import EEA_COUNTRIES, StatementOfReasons
from countersignal.actions.vault import (
    EVIDENCE_RETENTION_MONTHS,
    Vault,
    add_months,
    preserve,
    set_retention,
)
from countersignal.audit import Actor, Target, record
from countersignal.cases.models import (
    RESTRICTIVE_ACTIONS,
    Case,
    Decision,
    Notice,
    RemovalOrder,
    StatementRecord,
)
from countersignal.settings import get_settings

VISIBILITY = {
    "remove": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "restrict": "DECISION_VISIBILITY_CONTENT_DISABLED",
    "label": "DECISION_VISIBILITY_CONTENT_LABELLED",
}
PRESERVING_ACTIONS = ("remove", "restrict")
PUID_OK = re.compile(r"^[a-zA-Z0-9_-]{1,500}$")


def default_vault() -> Vault:
    return Vault.from_settings(get_settings())


def make_effective(
    session: Session, decision: Decision, case: Case, *, now: datetime,
    vault: Vault | None, actor: Actor,
) -> None:
    """Apply ``decision`` to ``case`` and everything that follows from it."""
    decision.status, decision.effective_at = "effective", now
    if decision.action == "escalate":
        case.status = "escalated"
        webhooks.enqueue(session, organisation_id=case.organisation_id, event="case.escalated",
                         subject_id=decision.id, data=_decision_payload(decision, case), now=now)
        return
    case.status, case.decided_at = "decided", now
    statement = None
    if decision.action in RESTRICTIVE_ACTIONS:
        statement = build_statement(session, decision, case)
        if statement is not None:
            session.add(statement)
            session.flush()
        _notify_provider(session, decision, case, statement, now)
    webhooks.enqueue(
        session, organisation_id=case.organisation_id, event=f"decision.{decision.action}",
        subject_id=decision.id,
        data={**_decision_payload(decision, case),
              "statement_id": statement.id if statement else None},
        now=now,
    )
    _retain(session, decision, case, now=now, vault=vault, actor=actor)
    order = case.removal_order
    if order is not None and order.status == "open" and decision.action in PRESERVING_ACTIONS:
        from countersignal.cases.orders import record_response

        record_response(session, order, outcome="done", reason=None,
                        explanation=f"content {decision.action}d by decision {decision.id}",
                        responded_by=decision.confirmed_by or decision.decided_by, now=now,
                        actor=actor)


def _decision_payload(decision: Decision, case: Case) -> dict:
    submission = case.submission
    return {
        "case_id": case.id,
        "decision_id": decision.id,
        "content_id": case.content_id,
        "uploader_id": submission.uploader_id if submission else None,
        "action": decision.action,
        "territories": decision.territories,
        "ground_type": decision.ground_type,
        "ground": decision.ground,
        "explanation": decision.explanation,
        "automated": decision.automated,
        "removal_order_id": case.removal_order_id,
    }


def _retain(session, decision, case, *, now, vault, actor) -> None:
    """Removed or disabled content becomes evidence for six months (TCO Art. 6); content left
    up or only labelled leaves the vault at the next purge."""
    entry = session.get(VaultEntry, case.vault_entry_id) if case.vault_entry_id else None
    if entry is not None and entry.purged_at is not None:
        entry = None  # the review copy already expired: preserve the metadata afresh
    if decision.action in PRESERVING_ACTIONS:
        until = add_months(now, EVIDENCE_RETENTION_MONTHS)
        if entry is not None:
            set_retention(session, entry, purpose="evidence",
                          retain_until=max(until, entry.retain_until), actor=actor,
                          reason=f"content {decision.action}d: preserved six months")
        else:
            submission = case.submission
            entry = preserve(
                session, vault or default_vault(), organisation_id=case.organisation_id,
                content=None, case_id=case.id,
                submission_id=submission.id if submission else None, purpose="evidence",
                retain_until=until, actor=actor,
                metadata={"content_id": case.content_id,
                          "uploader_id": submission.uploader_id if submission else None,
                          "signals": submission.signals if submission else [],
                          "removal_order_id": case.removal_order_id},
            )
            case.vault_entry_id = entry.id
    elif entry is not None and entry.purpose == "review":
        set_retention(session, entry, purpose="review", retain_until=now, actor=actor,
                      reason=f"decision {decision.action}: review copy no longer needed")


def puid_for(content_id: str | None, case: Case) -> str:
    """The platform's id for the item when it fits the database's puid rules, else a stable
    digest of it (the platform can recompute it to join statements to its items)."""
    if content_id and PUID_OK.match(content_id):
        return content_id
    basis = content_id or case.id
    return "cs-" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def _content_types(case: Case) -> tuple[list[str], str | None]:
    submission = case.submission
    mime = (submission.content_type if submission else "") or ""
    kinds = {s["type"] for s in (submission.signals if submission else [])}
    types = set()
    for prefix, code in (("image/", "CONTENT_TYPE_IMAGE"), ("video/", "CONTENT_TYPE_VIDEO"),
                         ("audio/", "CONTENT_TYPE_AUDIO"), ("text/", "CONTENT_TYPE_TEXT")):
        if mime.startswith(prefix):
            types.add(code)
    if "pdq" in kinds:
        types.add("CONTENT_TYPE_IMAGE")
    if kinds & {"vpdq", "video_md5"}:
        types.add("CONTENT_TYPE_VIDEO")
    if any(k.startswith("text") for k in kinds):
        types.add("CONTENT_TYPE_TEXT")
    if types:
        return sorted(types), None
    return ["CONTENT_TYPE_OTHER"], mime or "content identified by hash or reference"


def build_statement(session: Session, decision: Decision, case: Case) -> StatementRecord | None:
    """The DSA statement of reasons for a restrictive decision, validated against the
    Transparency Database rules. None when the decision has no effect inside the EEA (a
    restriction only elsewhere is outside the DSA)."""
    if decision.action == "restrict":
        scope = sorted(set(decision.territories) & EEA_COUNTRIES)
        if not scope:
            return None
    else:
        scope = sorted(EEA_COUNTRIES)
    order: RemovalOrder | None = case.removal_order
    content_types, content_other = _content_types(case)
    legal = decision.ground_type == "legal"
    how = ("an automatic action under the platform's policy after a match against a trusted "
           "hash bank" if decision.automated else "a human reviewer's decision")
    facts = f"{decision.explanation}\n\nDecided by {how}."
    if order is not None:
        facts += f" Following a removal order from {order.authority} ({order.legal_basis})."
    submission = case.submission
    statement = StatementOfReasons(
        decision_visibility=[VISIBILITY[decision.action]],
        decision_ground=("DECISION_GROUND_ILLEGAL_CONTENT" if legal
                         else "DECISION_GROUND_INCOMPATIBLE_CONTENT"),
        decision_ground_reference_url=decision.ground_reference_url,
        illegal_content_legal_ground=decision.ground if legal else None,
        illegal_content_explanation=decision.explanation[:2000] if legal else None,
        incompatible_content_ground=None if legal else decision.ground,
        incompatible_content_explanation=None if legal else decision.explanation[:2000],
        content_type=content_types,
        content_type_other=content_other,
        territorial_scope=scope,
        content_date=(submission.created_at if submission else case.opened_at).date(),
        application_date=decision.effective_at.date(),
        decision_facts=facts[:5000],
        source_type="SOURCE_TYPE_OTHER_NOTIFICATION" if order is not None else "SOURCE_VOLUNTARY",
        source_identity=order.authority[:500] if order is not None else None,
        automated_detection="Yes" if decision.automated_detection else "No",
        automated_decision=("AUTOMATED_DECISION_FULLY" if decision.automated
                            else "AUTOMATED_DECISION_NOT_AUTOMATED"),
        puid=puid_for(case.content_id, case),
    )
    return StatementRecord(
        organisation_id=case.organisation_id, decision_id=decision.id, puid=statement.puid,
        document=statement.to_api(), created_at=decision.effective_at,
    )


def _notify_provider(session, decision, case, statement, now) -> Notice:
    """Tell the content provider (through the platform), unless an authority said not to yet."""
    order = case.removal_order
    submission = case.submission
    notice = Notice(
        organisation_id=case.organisation_id, case_id=case.id, decision_id=decision.id,
        recipient_ref=submission.uploader_id if submission else None, created_at=now,
    )
    if order is not None and not order.notify_provider and (
        order.withhold_until is None or order.withhold_until > now
    ):
        notice.status = "withheld"
        notice.withheld_reason = order.withhold_reason or "the issuing authority asked"
        notice.withheld_until = order.withhold_until
        session.add(notice)
        session.flush()
    else:
        notice.status = "sent"
        session.add(notice)
        session.flush()
        send_notice(session, notice, statement, now=now)
    return notice


def send_notice(session: Session, notice: Notice, statement: StatementRecord | None,
                *, now: datetime) -> None:
    decision = session.get(Decision, notice.decision_id)
    notice.status, notice.sent_at = "sent", now
    webhooks.enqueue(
        session, organisation_id=notice.organisation_id, event="notice.content_provider",
        subject_id=notice.id,
        data={"notice_id": notice.id, "case_id": notice.case_id,
              "recipient_ref": notice.recipient_ref, "action": decision.action,
              "ground": decision.ground, "explanation": decision.explanation,
              "statement": statement.document if statement else None,
              "appeal": "the content provider may appeal; appeals are answered within "
                        "two weeks"},
        now=now,
    )


def release_withheld_notices(session: Session, *, now: datetime) -> int:
    """Send notices whose authority-requested withholding period has ended (worker job)."""
    due = session.scalars(
        select(Notice).where(Notice.status == "withheld", Notice.withheld_until.is_not(None),
                             Notice.withheld_until <= now)
    ).all()
    for notice in due:
        statement = session.scalar(
            select(StatementRecord).where(StatementRecord.decision_id == notice.decision_id))
        send_notice(session, notice, statement, now=now)
        record(session, actor=Actor.system("worker"), action="notice.release",
               target=Target("notice", notice.id), organisation_id=notice.organisation_id,
               details={"withheld_until": notice.withheld_until.isoformat()})
    return len(due)
