"""Transparency figures for any date range: TCO Art. 7 annual report items and DSA aggregates.

Every figure is computed from the case records themselves (decisions, orders, appeals,
notices, statements, vault entries), counted by when the event happened inside
``[start, end)``. TCO Art. 7(3) asks for: the measures taken (hash matching, classifiers, human
review), items removed or disabled, removal orders not acted on and why, complaints and their
outcomes, and items restored after complaints. DSA aggregates mirror the statement-of-reasons
fields (visibility, ground, automation, content type, source).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from countersignal.actions.models import VaultEntry
from countersignal.audit import Target, record
from countersignal.auth.principal import Principal, require
from countersignal.cases.models import (
    ORDER_REASONS,
    Appeal,
    Case,
    Decision,
    Notice,
    RemovalOrder,
    StatementRecord,
    Submission,
)
from countersignal.db import utcnow
from countersignal.errors import InvalidInput
from countersignal.reports.models import PublishedReport


def _between(column, start: datetime, end: datetime):
    return (column >= start) & (column < end)


def _scope(principal: Principal, organisation_id: str | None) -> str:
    if principal.is_system:
        if not organisation_id:
            raise InvalidInput("organisation_id is required for system callers")
        return organisation_id
    return principal.organisation_id or ""


def compute_figures(
    session: Session,
    principal: Principal,
    *,
    start: datetime,
    end: datetime,
    organisation_id: str | None = None,
) -> dict:
    """All figures for ``[start, end)`` as a JSON-ready dict (see module docstring)."""
    require(principal, "cases:read")
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidInput("start and end must be timezone-aware with start before end")
    org = _scope(principal, organisation_id)

    decisions = session.scalars(select(Decision).where(
        Decision.organisation_id == org, Decision.effective_at.is_not(None),
        _between(Decision.effective_at, start, end))).all()
    final = [d for d in decisions if d.action != "escalate"]
    by_action = Counter(d.action for d in decisions)
    case_ids = {d.case_id for d in decisions}
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))}
    orders_for_case = {c.id for c in cases.values() if c.removal_order_id}
    submission_ids = {c.submission_id for c in cases.values() if c.submission_id}
    submissions = {s.id: s for s in session.scalars(
        select(Submission).where(Submission.id.in_(submission_ids)))}

    def detected_by(decision: Decision) -> str:
        case = cases[decision.case_id]
        if case.removal_order_id:
            return "removal_order"
        sub = submissions.get(case.submission_id)
        if sub is None:
            return "other"
        if sub.matches:
            return "hash_matching"
        return "classifier" if sub.findings else "other"

    removed = [d for d in final if d.action in ("remove", "restrict")]
    measures = {
        "decisions_total": len(decisions),
        "automated_decisions": sum(d.automated for d in decisions),
        "human_decisions": sum(not d.automated for d in decisions),
        "confirmed_by_second_reviewer": sum(d.confirmed_by is not None and d.status != "rejected"
                                            for d in decisions),
        "by_action": dict(sorted(by_action.items())),
        "by_ground_type": dict(sorted(Counter(d.ground_type for d in decisions).items())),
        "restrictive_by_detection": dict(sorted(Counter(
            detected_by(d) for d in final if d.action != "leave_up").items())),
    }
    items = {
        "removed": by_action.get("remove", 0),
        "disabled_in_territories": by_action.get("restrict", 0),
        "labelled": by_action.get("label", 0),
        "left_up": by_action.get("leave_up", 0),
        "escalated_to_authorities": by_action.get("escalate", 0),
        "removed_or_disabled_following_orders": sum(d.case_id in orders_for_case for d in removed),
        "removed_or_disabled_own_initiative": sum(d.case_id not in orders_for_case
                                                  for d in removed),
    }

    orders = session.scalars(select(RemovalOrder).where(
        RemovalOrder.organisation_id == org, _between(RemovalOrder.received_at, start, end))).all()
    answered = [o for o in orders if o.responded_at is not None]
    response_minutes = [(o.responded_at - o.received_at).total_seconds() / 60 for o in answered]
    not_done = Counter(o.response_reason for o in orders if o.status == "not_done")
    removal_orders = {
        "received": len(orders),
        "acted_on": sum(o.status == "done" for o in orders),
        "not_acted_on": sum(o.status == "not_done" for o in orders),
        "not_acted_on_by_reason": {r: not_done.get(r, 0) for r in ORDER_REASONS},
        "answered_late": sum(o.responded_at > o.deadline for o in answered),
        "unanswered": sum(o.responded_at is None for o in orders),
        "median_response_minutes": (round(statistics.median(response_minutes), 1)
                                    if response_minutes else None),
    }

    filed = session.scalars(select(Appeal).where(
        Appeal.organisation_id == org, _between(Appeal.filed_at, start, end))).all()
    decided = session.scalars(select(Appeal).where(
        Appeal.organisation_id == org, Appeal.decided_at.is_not(None),
        _between(Appeal.decided_at, start, end))).all()
    complaints = {
        "received": len(filed),
        "decided": len(decided),
        "upheld": sum(a.status == "upheld" for a in decided),
        "reversed": sum(a.status == "reversed" for a in decided),
        "decided_late": sum(a.decided_at > a.due_at for a in decided),
        "open_at_end": sum(a.decided_at is None or a.decided_at >= end for a in filed),
    }
    reversed_decisions = session.scalars(select(Decision).where(
        Decision.organisation_id == org, Decision.reversed_at.is_not(None),
        _between(Decision.reversed_at, start, end))).all()
    restorations = {
        "reinstated": len(reversed_decisions),
        "reinstated_after_automated_decision": sum(d.automated for d in reversed_decisions),
    }

    opened = session.scalars(select(Case).where(
        Case.organisation_id == org, _between(Case.opened_at, start, end))).all()
    closed = [c for c in opened if c.decided_at is not None]
    case_figures = {
        "opened": len(opened),
        "opened_by_tier": dict(sorted(Counter(c.tier for c in opened).items())),
        "decided_within_sla": sum(c.decided_at <= c.sla_due_at for c in closed),
        "decided_after_sla": sum(c.decided_at > c.sla_due_at for c in closed),
    }

    notices = session.scalars(select(Notice).where(
        Notice.organisation_id == org, _between(Notice.created_at, start, end))).all()
    statements = session.scalars(select(StatementRecord).where(
        StatementRecord.organisation_id == org,
        _between(StatementRecord.created_at, start, end))).all()
    vault_new = session.scalars(select(VaultEntry).where(
        VaultEntry.organisation_id == org, _between(VaultEntry.created_at, start, end))).all()
    vault_purged = session.scalars(select(VaultEntry).where(
        VaultEntry.organisation_id == org, VaultEntry.purged_at.is_not(None),
        _between(VaultEntry.purged_at, start, end))).all()

    return {
        "organisation_id": org,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "tco": {
            "measures": measures,
            "items": items,
            "removal_orders": removal_orders,
            "complaints": complaints,
            "restorations": restorations,
        },
        "cases": case_figures,
        "notices": {"sent": sum(n.status == "sent" for n in notices),
                    "withheld": sum(n.status == "withheld" for n in notices)},
        "evidence": {"preserved": sum(e.purpose == "evidence" for e in vault_new),
                     "purged": len(vault_purged)},
        "dsa": dsa_aggregates([s.document for s in statements]),
    }


def dsa_aggregates(documents: list[dict]) -> dict:
    """Counts over statement-of-reasons fields, like the Transparency Database dashboard."""

    def count(field: str) -> dict:
        counter: Counter = Counter()
        for doc in documents:
            value = doc.get(field)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    counter[item] += 1
        return dict(sorted(counter.items()))

    return {
        "statements": len(documents),
        "decision_visibility": count("decision_visibility"),
        "decision_ground": count("decision_ground"),
        "automated_detection": count("automated_detection"),
        "automated_decision": count("automated_decision"),
        "content_type": count("content_type"),
        "source_type": count("source_type"),
        "category": count("category"),
    }


def figures_digest(figures: dict) -> str:
    return hashlib.sha256(
        json.dumps(figures, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def publish_report(
    session: Session, principal: Principal, *, start: datetime, end: datetime,
    organisation_id: str | None = None, now: datetime | None = None,
) -> PublishedReport:
    """Freeze the figures for a period (digest-stamped, audited) as the published report."""
    require(principal, "admin")
    figures = compute_figures(session, principal, start=start, end=end,
                              organisation_id=organisation_id)
    report = PublishedReport(
        organisation_id=figures["organisation_id"], period_start=start, period_end=end,
        figures=figures, sha256=figures_digest(figures), published_at=now or utcnow(),
        published_by=f"{principal.actor.kind}:{principal.actor.id}",
    )
    session.add(report)
    session.flush()
    record(session, actor=principal.actor, action="report.publish",
           target=Target("report", report.id), organisation_id=report.organisation_id,
           details={"sha256": report.sha256, "start": start.isoformat(),
                    "end": end.isoformat()})
    return report


def list_published(session: Session, principal: Principal) -> list[PublishedReport]:
    require(principal, "cases:read")
    return list(session.scalars(
        select(PublishedReport).where(principal.own(PublishedReport.organisation_id))
        .order_by(PublishedReport.published_at.desc())))
