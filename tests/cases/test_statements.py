"""Statements of reasons: the Transparency Database field rules, batches of at most 100, and
export of the statements real decisions produced."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from cases.world import T0
from countersignal.actions.statements import BATCH_LIMIT, StatementOfReasons, batches
from countersignal.cases import service

VALID = {
    "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
    "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
    "illegal_content_legal_ground": "Regulation (EU) 2021/784 Art. 2(7)",
    "illegal_content_explanation": "Recruitment video of a designated group.",
    "content_type": ["CONTENT_TYPE_VIDEO"],
    "territorial_scope": ["DE", "FR"],
    "content_date": "2026-03-01",
    "application_date": "2026-03-02",
    "decision_facts": "Removed after human review.",
    "source_type": "SOURCE_VOLUNTARY",
    "automated_detection": "Yes",
    "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
    "puid": "video-9",
}


def test_a_valid_statement_round_trips_to_the_api_shape():
    statement = StatementOfReasons.model_validate(VALID)
    api = statement.to_api()
    assert api["category"] == "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    assert api["category_specification"] == ["KEYWORD_TERRORIST_CONTENT"]
    assert api["content_date"] == "2026-03-01"
    assert "incompatible_content_ground" not in api
    assert StatementOfReasons.model_validate(api) == statement


@pytest.mark.parametrize(("change", "message"), [
    ({"illegal_content_legal_ground": None}, "illegal_content_legal_ground"),
    ({"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT"}, "incompatible_content_ground"),
    ({"decision_visibility": ["DECISION_VISIBILITY_OTHER"]}, "decision_visibility_other"),
    ({"decision_visibility": ["REMOVED"]}, "decision_visibility"),
    ({"decision_visibility": []}, "decision_visibility"),
    ({"content_type": ["CONTENT_TYPE_OTHER"]}, "content_type_other"),
    ({"territorial_scope": ["US"]}, "non-EEA"),
    ({"puid": "post 9/é"}, "puid"),
    ({"puid": "x" * 501}, "puid"),
    ({"automated_detection": "No", "automated_decision": "AUTOMATED_DECISION_FULLY"},
     "implies automated detection"),
    ({"automated_detection": True}, "automated_detection"),
    ({"application_date": "2019-12-31"}, "application_date"),
    ({"decision_facts": "x" * 5001}, "decision_facts"),
    ({"category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"}, "category"),
    ({"unknown_field": 1}, "unknown_field"),
])
def test_field_rules_are_enforced(change, message):
    with pytest.raises(ValidationError, match=message):
        StatementOfReasons.model_validate({**VALID, **change})


def test_batches_hold_at_most_100_and_validate_each():
    documents = [{**VALID, "puid": f"item-{i}"} for i in range(250)]
    bodies = list(batches(documents))
    assert [len(b["statements"]) for b in bodies] == [100, 100, 50]
    assert [s["puid"] for b in bodies for s in b["statements"]] == [d["puid"] for d in documents]
    with pytest.raises(ValueError):
        list(batches(documents, size=BATCH_LIMIT + 1))
    with pytest.raises(ValidationError):
        list(batches([*documents[:3], {**VALID, "puid": "bad puid"}]))


def test_decisions_export_valid_batches_and_are_marked(world):
    value, _ = world.banked(trusted=False)
    for i in range(3):
        case = world.submit(value, content_id=f"c/{i}", content_type="video/mp4").case
        world.decide(case.id, "remove", now=T0 + timedelta(minutes=i))
    outside = world.submit(value, content_id="us-only").case
    world.decide(outside.id, "restrict", territories=["US"])  # outside the DSA: no statement
    with world.tx() as s:
        bodies = service.export_statements(s, world.alice, batch_size=2, mark_exported=True,
                                           now=T0 + timedelta(hours=1))
    assert [len(b["statements"]) for b in bodies] == [2, 1]
    docs = [d for b in bodies for d in b["statements"]]
    for doc in docs:
        StatementOfReasons.model_validate(doc)
        assert doc["puid"].startswith("cs-")  # "c/0" is not a valid puid, so it is digested
        # a PDQ signal says image, the declared MIME type says video: both are reported
        assert doc["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_VIDEO"]
        assert doc["application_date"] == date(2026, 3, 2).isoformat()
    with world.tx() as s:
        assert service.export_statements(s, world.alice, only_unexported=True) == []
