"""Appeals: two-week answer deadline, a different reviewer, reinstatement with a webhook and
a false-positive opinion that stops the signal acting automatically again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cases.world import AUTO_REMOVE_RULE, T0
from countersignal.actions.models import OutboxMessage
from countersignal.banks.models import Opinion
from countersignal.cases import appeals
from countersignal.cases.models import Case, Decision
from countersignal.errors import Conflict, Forbidden, InvalidInput

ISIL = ("designated_entity:ISIL@UN:QDe.115",)


def _removed_case(world):
    value, signal_id = world.banked(trusted=False, labels=ISIL)
    case = world.submit(value).case
    decision = world.decide(case.id, "remove", by=world.alice)
    return case, decision, signal_id


def test_appeal_has_a_two_week_deadline_and_one_open_appeal_per_decision(world):
    _, decision, _ = _removed_case(world)
    with world.tx() as s:
        appeal = appeals.file_appeal(s, world.platform, decision.id,
                                     statement="This is a documentary clip.",
                                     appellant_ref="user-42", now=T0 + timedelta(days=1))
        assert appeal.due_at == T0 + timedelta(days=15)
        with pytest.raises(Conflict, match="still open"):
            appeals.file_appeal(s, world.platform, decision.id, statement="again",
                                now=T0 + timedelta(days=2))
        with pytest.raises(InvalidInput):
            appeals.decide_appeal(s, world.bob, appeal.id, outcome="maybe",
                                  explanation="not an outcome at all")
        assert [a.id for a in appeals.list_appeals(s, world.bob)] == [appeal.id]


def test_appeal_window_and_appealable_decisions(world):
    _, decision, _ = _removed_case(world)
    with world.tx() as s, pytest.raises(Conflict, match="six-month"):
        appeals.file_appeal(s, world.platform, decision.id, statement="late",
                            now=T0 + timedelta(days=200))
    value, _ = world.banked(trusted=False)
    kept = world.submit(value).case
    leave = world.decide(kept.id, "leave_up", ground_type="terms_of_service", ground="ToS 1",
                         explanation="Counter-speech; allowed under our terms.")
    with world.tx() as s, pytest.raises(Conflict, match="only an effective"):
        appeals.file_appeal(s, world.platform, leave.id, statement="?", now=T0)


def test_the_original_reviewers_cannot_decide_the_appeal(world):
    world.set_policy({"second_reviewer_actions": ["remove"]})
    value, _ = world.banked(trusted=False)
    case = world.submit(value).case
    decision = world.decide(case.id, "remove", by=world.alice)
    from countersignal.cases import service

    with world.tx() as s:
        service.confirm_decision(s, world.bob, decision.id, vault=world.vault, now=T0)
        appeal = appeals.file_appeal(s, world.platform, decision.id, statement="mistake",
                                     now=T0 + timedelta(hours=1))
    for reviewer in (world.alice, world.bob):
        with world.tx() as s, pytest.raises(Forbidden, match="took no part"):
            appeals.decide_appeal(s, reviewer, appeal.id, outcome="reversed",
                                  explanation="I made this decision myself.")
    with world.tx() as s:
        decided = appeals.decide_appeal(s, world.carol, appeal.id, outcome="upheld",
                                        explanation="The clip is the group's own propaganda.",
                                        now=T0 + timedelta(days=3))
        assert decided.status == "upheld"
        assert s.get(Case, case.id).status == "decided"


def test_reinstatement_sends_webhook_and_records_false_positive(world, receiver):
    world.endpoint(receiver.url)
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    value, signal_id = world.banked(trusted=True, labels=("designated_entity:ISIL",))
    first = world.submit(value, content_id="post-1")
    assert first.decision.automated
    with world.tx() as s:
        appeal = appeals.file_appeal(s, world.platform, first.decision.id,
                                     statement="This is a news report.",
                                     now=T0 + timedelta(days=1))
    with world.tx() as s:
        appeals.decide_appeal(s, world.alice, appeal.id, outcome="reversed",
                              explanation="News reporting with editorial context; restore.",
                              now=T0 + timedelta(days=20))
    with world.tx() as s:
        decision = s.get(Decision, first.decision.id)
        assert decision.status == "reversed"
        assert s.get(Case, first.case.id).status == "reinstated"
        opinion = s.scalar(select(Opinion).where(Opinion.signal_id == signal_id))
        assert (opinion.opinion, opinion.organisation_id) == ("false_positive", "org_alpha")
        assert appeal.id in opinion.note
        reinstate = s.scalar(select(OutboxMessage).where(
            OutboxMessage.event == "decision.reinstate"))
        assert reinstate.payload["content_id"] == "post-1"
        assert reinstate.idempotency_key == f"decision.reinstate:{first.decision.id}"
    # the same signal can no longer remove content without a human
    again = world.submit(value, content_id="post-2", now=T0 + timedelta(days=21))
    assert again.evaluation.outcome == "review"
    assert again.decision is None
