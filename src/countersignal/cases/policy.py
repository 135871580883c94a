"""Policy: an organisation's rules, as data, for what evidence leads to what outcome.

A policy is a JSON document (validated by :class:`PolicyDocument`) stored per organisation
and versioned. Each rule says *when* (a bank match — which banks, labels, signal types, how
close — or a classifier result — which classifier, label, how sure) and *then* (open a case for
review, act automatically, or ignore). The first rule that fits a piece of evidence applies.

Safeguards are enforced here, not left to the rules:

* only **bank matches** from **trusted** banks, under an explicit ``auto_action`` rule, on a
  signal that is **not disputed** (``exchange.is_disputed``) and that this organisation has not
  marked false positive, may act without a human; anything else a rule would auto-act on goes to
  review instead, with the reason recorded;
* classifier results never auto-act unless the policy sets ``classifier_auto_action`` (off by
  default, and a policy that tries without it is rejected when saved);
* threat-to-life content always goes to a human (escalation to authorities is a human's call).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from countersignal.audit import Target, record
from countersignal.auth.principal import Principal, require
from countersignal.cases.models import PRIORITIES, Policy
from countersignal.db import utcnow
from countersignal.errors import InvalidInput

Tier = Literal["threat_to_life", "crisis", "designated_entity", "promotional", "other"]
DEFAULT_SLA_MINUTES: dict[str, int] = {
    "threat_to_life": 30,
    "crisis": 60,
    "removal_order": 60,
    "designated_entity": 24 * 60,
    "promotional": 72 * 60,
    "other": 72 * 60,
}


class When(BaseModel):
    """Which evidence a rule covers. Empty lists mean "any"."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["bank", "classifier"]
    bank_ids: list[str] = []
    labels: list[str] = Field(default=[], description="kind:value, any of them")
    signal_types: list[str] = []
    max_distance: float | None = None
    classifiers: list[str] = []
    classifier_labels: list[str] = []
    min_score: float | None = None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    when: When
    outcome: Literal["review", "auto_action", "ignore"]
    action: Literal["remove", "restrict", "label"] | None = None
    territories: list[str] = []
    ground_type: Literal["legal", "terms_of_service"] | None = None
    ground: str | None = None
    explanation: str | None = None
    tier: Tier | None = None

    @model_validator(mode="after")
    def _auto_action_is_complete(self) -> Rule:
        if self.outcome == "auto_action":
            missing = [name for name in ("action", "ground_type", "ground", "explanation")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"rule {self.name!r}: auto_action needs {', '.join(missing)}")
            if self.action == "restrict" and not self.territories:
                raise ValueError(f"rule {self.name!r}: restrict needs territories")
        return self


class PolicyDocument(BaseModel):
    """An organisation's whole policy."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = []
    # Evidence that no rule covers: a human looks (safe default) or it is ignored.
    unmatched: Literal["review", "ignore"] = "review"
    classifier_auto_action: bool = False
    # Actions that need a second, different reviewer to confirm before they take effect.
    second_reviewer_actions: list[Literal["remove", "restrict", "label", "leave_up"]] = []
    sla_minutes: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))

    @model_validator(mode="after")
    def _classifiers_do_not_auto_act(self) -> PolicyDocument:
        if not self.classifier_auto_action:
            for rule in self.rules:
                if rule.when.source == "classifier" and rule.outcome == "auto_action":
                    raise ValueError(
                        f"rule {rule.name!r} would act on a classifier score alone; set "
                        "classifier_auto_action to allow that explicitly"
                    )
        unknown = set(self.sla_minutes) - set(DEFAULT_SLA_MINUTES)
        if unknown:
            raise ValueError(f"sla_minutes has unknown tiers {sorted(unknown)}")
        return self

    def sla(self, tier: str) -> timedelta:
        fallback = DEFAULT_SLA_MINUTES.get(tier, DEFAULT_SLA_MINUTES["other"])
        return timedelta(minutes=self.sla_minutes.get(tier, fallback))


def get_policy(session: Session, organisation_id: str) -> PolicyDocument:
    """The organisation's policy, or the default one (every match and finding reviewed)."""
    row = session.get(Policy, organisation_id)
    return PolicyDocument.model_validate(row.document) if row else PolicyDocument()


def set_policy(
    session: Session, principal: Principal, document: dict | PolicyDocument,
    *, organisation_id: str | None = None,
) -> Policy:
    """Validate and store a new policy version (audited with the whole document). Needs
    ``admin``: a policy decides what may happen without a human."""
    require(principal, "admin")
    org = principal.organisation_id if not principal.is_system else organisation_id
    if not org or (organisation_id and organisation_id != org):
        raise InvalidInput("organisation_id is required (and must be the caller's own)")
    try:
        parsed = (document if isinstance(document, PolicyDocument)
                  else PolicyDocument.model_validate(document))
    except ValidationError as exc:
        raise InvalidInput(f"invalid policy: {exc.errors(include_url=False)}") from exc
    row = session.get(Policy, org)
    if row is None:
        row = Policy(organisation_id=org, version=0)
        session.add(row)
    row.version += 1
    row.document = parsed.model_dump(mode="json")
    row.updated_at = utcnow()
    row.updated_by = f"{principal.actor.kind}:{principal.actor.id}"
    record(session, actor=principal.actor, action="policy.update",
           target=Target("policy", org), organisation_id=org,
           details={"version": row.version, "document": row.document})
    return row


# --- evaluation ----------------------------------------------------------------------------


@dataclass
class BankEvidence:
    signal_id: int
    signal_type: str
    distance: float
    bank_id: str
    bank_trusted: bool
    labels: list[dict]
    disputed: bool = False
    own_false_positive: bool = False


@dataclass
class ClassifierEvidence:
    classifier: str
    label: str
    score: float
    threshold: float | None = None
    reason: dict = field(default_factory=dict)

    @property
    def over_threshold(self) -> bool:
        return self.threshold is None or self.score >= self.threshold


@dataclass
class Verdict:
    """What the policy says about one piece of evidence."""

    rule: Rule | None
    outcome: Literal["review", "auto_action", "ignore"]
    note: str


@dataclass
class Evaluation:
    """What the policy says about a whole submission."""

    verdicts: list[Verdict]
    tier: str
    auto_rule: Rule | None
    auto_evidence: BankEvidence | ClassifierEvidence | None
    reasons: list[str]

    @property
    def outcome(self) -> str:
        if self.auto_rule is not None:
            return "auto_action"
        if any(v.outcome == "review" for v in self.verdicts):
            return "review"
        return "none"


def _label_keys(labels: list[dict]) -> set[str]:
    return {f"{lb['kind']}:{lb['value']}" for lb in labels}


def _fits(when: When, evidence: BankEvidence | ClassifierEvidence) -> bool:
    if isinstance(evidence, BankEvidence):
        return (
            when.source == "bank"
            and (not when.bank_ids or evidence.bank_id in when.bank_ids)
            and (not when.labels or bool(_label_keys(evidence.labels) & set(when.labels)))
            and (not when.signal_types or evidence.signal_type in when.signal_types)
            and (when.max_distance is None or evidence.distance <= when.max_distance)
        )
    return (
        when.source == "classifier"
        and (not when.classifiers or evidence.classifier in when.classifiers)
        and (not when.classifier_labels or evidence.label in when.classifier_labels)
        and (when.min_score is None or evidence.score >= when.min_score)
    )


def tier_of_labels(labels: list[dict]) -> str:
    """The most severe tier the labels name (TCAP-style tiers, then designated entity)."""
    found = set()
    for label in labels:
        kind = label.get("kind", "")
        value = str(label.get("value", "")).lower().replace("-", "_").replace(" ", "_")
        if "threat_to_life" in value:
            found.add("threat_to_life")
        elif "crisis" in value:
            found.add("crisis")
        elif kind == "designated_entity" or value == "designated_entity":
            found.add("designated_entity")
        elif kind in ("tier", "behaviour"):
            found.add("promotional")
    return most_severe(found)


def most_severe(tiers) -> str:
    ranked = sorted(tiers, key=lambda t: PRIORITIES.get(t, PRIORITIES["other"]))
    return ranked[0] if ranked else "other"


def evaluate(
    policy: PolicyDocument,
    matches: list[BankEvidence],
    findings: list[ClassifierEvidence],
) -> Evaluation:
    """Apply ``policy`` to the evidence about one submission (pure: no database)."""
    verdicts: list[Verdict] = []
    reasons: list[str] = []
    tiers: set[str] = set()
    candidates: list[tuple[Rule, BankEvidence | ClassifierEvidence]] = []
    evidence_list: list[BankEvidence | ClassifierEvidence] = [*matches, *findings]
    for evidence in evidence_list:
        if isinstance(evidence, ClassifierEvidence) and not evidence.over_threshold:
            verdicts.append(Verdict(None, "ignore", "below the classifier's threshold"))
            continue
        rule = next((r for r in policy.rules if _fits(r.when, evidence)), None)
        described = _describe(evidence)
        if rule is None:
            outcome = policy.unmatched
            verdict = Verdict(None, outcome, f"{described}: no rule; policy default {outcome}")
        elif rule.outcome == "auto_action":
            blocked = _auto_blocker(policy, evidence)
            if blocked:
                verdict = Verdict(rule, "review",
                                  f"{described}: rule {rule.name!r} would act automatically, "
                                  f"sent to review because {blocked}")
            else:
                verdict = Verdict(rule, "auto_action", f"{described}: rule {rule.name!r} acts")
                candidates.append((rule, evidence))
        else:
            verdict = Verdict(rule, rule.outcome, f"{described}: rule {rule.name!r}")
        verdicts.append(verdict)
        if verdict.outcome != "ignore":
            reasons.append(verdict.note)
            tiers.add(rule.tier if rule and rule.tier else _evidence_tier(evidence))
    tier = most_severe(tiers)
    auto_rule, auto_evidence = (candidates[0] if candidates else (None, None))
    if auto_rule is not None and tier == "threat_to_life":
        reasons.append("threat to life: a human decides and considers escalation")
        for verdict in verdicts:
            if verdict.outcome == "auto_action":
                verdict.outcome = "review"
        auto_rule, auto_evidence = None, None
    return Evaluation(verdicts, tier, auto_rule, auto_evidence, reasons)


def _auto_blocker(policy: PolicyDocument, evidence) -> str | None:
    """Why this evidence may not act without a human, or None when it may."""
    if isinstance(evidence, ClassifierEvidence):
        return None if policy.classifier_auto_action else "classifier scores never act alone"
    if not evidence.bank_trusted:
        return "the bank is not trusted"
    if evidence.disputed:
        return "the signal is disputed by partners"
    if evidence.own_false_positive:
        return "this organisation marked the signal a false positive"
    return None


def _evidence_tier(evidence) -> str:
    if isinstance(evidence, BankEvidence):
        return tier_of_labels(evidence.labels)
    for name in (evidence.label, evidence.classifier):  # e.g. classifier "designated-entity"
        key = name.lower().replace("-", "_").replace(" ", "_")
        if key in PRIORITIES:
            return key
    return "other"


def _describe(evidence) -> str:
    if isinstance(evidence, BankEvidence):
        labels = ", ".join(sorted(_label_keys(evidence.labels))) or "no labels"
        return (f"{evidence.signal_type} match at distance {evidence.distance:g} in bank "
                f"{evidence.bank_id} ({labels})")
    threshold = "" if evidence.threshold is None else f" (threshold {evidence.threshold:g})"
    return (f"classifier {evidence.classifier} says {evidence.label} at {evidence.score:.3f}"
            f"{threshold}")
