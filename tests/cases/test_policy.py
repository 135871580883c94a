"""Policy safeguards, on SQLite and PostgreSQL: who may act without a human, and when not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cases.world import AUTO_REMOVE_RULE
from countersignal.banks.service import set_opinion
from countersignal.cases.models import Case, Decision, StatementRecord
from countersignal.cases.policy import PolicyDocument
from countersignal.errors import InvalidInput
from countersignal.exchange.models import Dispute

ISIL = ("designated_entity:ISIL@UN:QDe.115",)


def test_trusted_bank_match_under_explicit_rule_acts_automatically(world):
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    value, _ = world.banked(trusted=True, labels=ISIL)
    result = world.submit(value)
    assert result.evaluation.outcome == "auto_action"
    with world.tx() as s:
        case = s.get(Case, result.case.id)
        decision = s.scalar(select(Decision).where(Decision.case_id == case.id))
        statement = s.scalar(select(StatementRecord).where(
            StatementRecord.decision_id == decision.id))
        assert case.status == "decided"
        assert (decision.action, decision.automated, decision.status) == (
            "remove", True, "effective")
        assert decision.rule == AUTO_REMOVE_RULE["name"]
        assert statement.document["automated_decision"] == "AUTOMATED_DECISION_FULLY"
        assert statement.document["automated_detection"] == "Yes"


def test_trusted_match_without_a_rule_goes_to_review(world):
    value, _ = world.banked(trusted=True, labels=ISIL)
    result = world.submit(value)
    assert result.evaluation.outcome == "review"
    assert result.case.status == "open"
    assert result.decision is None


@pytest.mark.parametrize("blocker", ["untrusted", "disputed", "own_false_positive"])
def test_auto_rule_never_acts_on_untrusted_disputed_or_false_positive(world, blocker):
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    value, signal_id = world.banked(trusted=blocker != "untrusted", labels=ISIL)
    with world.tx() as s:
        if blocker == "disputed":
            s.add(Dispute(signal_id=signal_id, disputed=True, disputes=2))
        if blocker == "own_false_positive":
            set_opinion(s, organisation_id=world.platform.organisation_id, signal_id=signal_id,
                        opinion="false_positive")
    result = world.submit(value)
    assert result.evaluation.outcome == "review"
    assert result.decision is None
    reason = {"untrusted": "not trusted", "disputed": "disputed",
              "own_false_positive": "false positive"}[blocker]
    assert any(reason in r for r in result.case.reasons)


def test_classifier_scores_never_act_alone_by_default(world):
    with pytest.raises(InvalidInput, match="classifier score alone"):
        world.set_policy({"rules": [{
            **AUTO_REMOVE_RULE, "name": "classifier", "when": {"source": "classifier"}}]})
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    finding = {"classifier": "entities", "label": "designated_entity", "score": 0.99,
               "threshold": 0.5, "reason": {"alias": "ISIL"}}
    result = world.submit(findings=[finding], text="some post text")
    assert result.evaluation.outcome == "review"
    assert result.case.tier == "designated_entity"
    assert result.decision is None


def test_classifier_auto_action_only_with_explicit_switch(world):
    world.set_policy({"classifier_auto_action": True, "rules": [{
        **AUTO_REMOVE_RULE, "name": "classifier", "when": {"source": "classifier",
                                                            "min_score": 0.95}}]})
    finding = {"classifier": "entities", "label": "designated_entity", "score": 0.97,
               "threshold": 0.5}
    result = world.submit(findings=[finding], text="post")
    assert result.evaluation.outcome == "auto_action"
    assert result.decision.automated


def test_below_threshold_findings_and_no_matches_open_nothing(world):
    finding = {"classifier": "topic", "label": "promotional", "score": 0.2, "threshold": 0.5}
    result = world.submit(findings=[finding], text="hello")
    assert result.evaluation.outcome == "none"
    assert result.case is None
    world.banked(trusted=True)
    unrelated = world.submit("0" * 64)
    assert unrelated.case is None


def test_threat_to_life_always_goes_to_a_human(world):
    world.set_policy({"rules": [{**AUTO_REMOVE_RULE, "when": {"source": "bank"}}]})
    value, _ = world.banked(trusted=True, labels=("behaviour:threat-to-life",))
    result = world.submit(value)
    assert result.evaluation.outcome == "review"
    assert result.case.tier == "threat_to_life"
    assert result.decision is None


def test_ignore_rule_and_unmatched_default(world):
    value, _ = world.banked(trusted=False, bank="noise")
    world.set_policy({"unmatched": "ignore", "rules": []})
    assert world.submit(value).case is None
    world.set_policy({"rules": [{"name": "noise", "when": {"source": "bank",
                                                           "bank_ids": [world.bank_id("noise")]},
                                 "outcome": "ignore"}]})
    assert world.submit(value).case is None


def test_policy_documents_are_validated():
    with pytest.raises(ValueError, match="auto_action needs"):
        PolicyDocument.model_validate({"rules": [{"name": "x", "when": {"source": "bank"},
                                                  "outcome": "auto_action"}]})
    with pytest.raises(ValueError, match="restrict needs territories"):
        PolicyDocument.model_validate({"rules": [{**AUTO_REMOVE_RULE, "action": "restrict"}]})
    with pytest.raises(ValueError, match="unknown tiers"):
        PolicyDocument.model_validate({"sla_minutes": {"urgent": 5}})


def test_policy_versions_and_audit(world):
    from countersignal.audit import list_events

    world.set_policy({"rules": []})
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    with world.tx() as s:
        from countersignal.cases.models import Policy

        assert s.get(Policy, world.admin.organisation_id).version == 2
        events = list_events(s, action="policy.update")
    assert [e.details["version"] for e in events] == [2, 1]


def _designation_list(world, tmp_path) -> None:
    from classify.conftest import un_xml
    from countersignal.classify.designations import enable_list, load_list_file

    path = tmp_path / "un.xml"
    path.write_bytes(un_xml(entities=[{"ref": "QDe.900", "name": "ZORBLAX LIBERATION FRONT",
                                       "aliases": [("Zorblax Front", "a.k.a.")]}]))
    with world.tx() as s:
        load_list_file(s, path)
        enable_list(s, "org_alpha", "UN Security Council Consolidated List")


def test_designated_entity_named_in_text_opens_a_case_and_never_acts(world, tmp_path):
    """The real classifier (classify.classify_text) over an enabled designation list."""
    _designation_list(world, tmp_path)
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    result = world.submit(text="Support the Zorblax Liberation Front, join now", content_id="t1")
    assert result.evaluation.outcome == "review" and result.decision is None
    assert result.case.tier == "designated_entity"
    [finding] = result.submission.findings
    assert (finding.classifier, finding.label) == ("designated-entity", "QDe.900")
    assert "Zorblax" in finding.reason["text"] and finding.reason["span"]


@pytest.mark.slow
def test_text_in_an_uploaded_image_is_read_only_where_ocr_is_on(world, tmp_path):
    from classify.test_service import render
    from countersignal.classify import set_ocr

    _designation_list(world, tmp_path)
    image = render("ZORBLAX LIBERATION FRONT")
    assert world.submit(content=image, content_type="image/png").case is None  # OCR off
    with world.tx() as s:
        set_ocr(s, "org_alpha", enabled=True)
    result = world.submit(content=image, content_type="image/png")
    assert result.case.tier == "designated_entity" and result.decision is None
    assert [f.label for f in result.submission.findings] == ["QDe.900"]
