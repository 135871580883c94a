"""Queue order, SLA deadlines, decision rules, the two-person rule and tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cases.world import T0, png_bytes
from countersignal.actions.models import OutboxMessage, VaultEntry
from countersignal.cases import orders, service
from countersignal.cases.models import Case
from countersignal.errors import Conflict, Forbidden, InvalidInput, NotFound


def _order(world, now):
    with world.tx() as s:
        return orders.receive_order(
            s, world.alice, authority="Bundeskriminalamt", authority_country="DE",
            authority_reference=f"BKA-{now:%H%M}", legal_basis="Regulation (EU) 2021/784 Art. 3",
            content_reference="https://platform.example/p/1", content_id="p1", now=now)


def test_queue_priority_then_age_and_sla_per_tier(world):
    promo, _ = world.banked(trusted=False, labels=("behaviour:glorification",))
    entity, _ = world.banked(trusted=False, labels=("designated_entity:ISIL",))
    crisis, _ = world.banked(trusted=False, labels=("behaviour:crisis-livestream",))
    life, _ = world.banked(trusted=False, labels=("behaviour:threat-to-life",))
    opened = {
        "promo_old": world.submit(promo, now=T0).case,
        "entity": world.submit(entity, now=T0 + timedelta(minutes=1)).case,
        "promo_new": world.submit(promo, now=T0 + timedelta(minutes=2)).case,
        "crisis": world.submit(crisis, now=T0 + timedelta(minutes=3)).case,
        "life": world.submit(life, now=T0 + timedelta(minutes=4)).case,
    }
    order = _order(world, T0 + timedelta(minutes=5))
    with world.tx() as s:
        queue = service.list_queue(s, world.alice)
        order_case = s.scalar(select(Case).where(Case.removal_order_id == order.id))
    expected = ["life", "crisis", "order", "entity", "promo_old", "promo_new"]
    ids = {**{k: c.id for k, c in opened.items()}, "order": order_case.id}
    assert [c.id for c in queue] == [ids[k] for k in expected]
    assert opened["life"].sla_due_at == opened["life"].opened_at + timedelta(minutes=30)
    assert opened["crisis"].sla_due_at == opened["crisis"].opened_at + timedelta(hours=1)
    assert opened["entity"].sla_due_at == opened["entity"].opened_at + timedelta(hours=24)
    assert opened["promo_old"].sla_due_at == T0 + timedelta(hours=72)
    assert order_case.sla_due_at == order.deadline == order.received_at + timedelta(hours=1)


def test_policy_sla_overrides(world):
    world.set_policy({"sla_minutes": {"designated_entity": 90}})
    value, _ = world.banked(trusted=False, labels=("designated_entity:ISIL",))
    case = world.submit(value).case
    assert case.sla_due_at - case.opened_at == timedelta(minutes=90)


@pytest.mark.parametrize(("change", "message"), [
    ({"ground": " "}, "ground is required"),
    ({"explanation": "bad"}, "explanation"),
    ({"ground_type": "vibes"}, "ground_type"),
    ({"action": "delete_account"}, "action must be"),
    ({"action": "restrict"}, "territories"),
    ({"action": "restrict", "territories": ["Germany"]}, "alpha-2"),
])
def test_every_decision_needs_a_valid_ground_and_explanation(world, change, message):
    value, _ = world.banked(trusted=False)
    case = world.submit(value).case
    kwargs = {"action": "remove", **change}
    with pytest.raises(InvalidInput, match=message):
        world.decide(case.id, **kwargs)
    with world.tx() as s:
        assert s.get(Case, case.id).status == "open"


def test_decision_effects_statement_webhook_vault(world, receiver):
    world.endpoint(receiver.url)
    value, _ = world.banked(trusted=False)
    case = world.submit(value, content=png_bytes(), content_type="image/png").case
    decision = world.decide(case.id, "restrict", territories=["de", "FR", "US"],
                            now=T0 + timedelta(minutes=10))
    with world.tx() as s:
        detail = service.get_case(s, world.alice, case.id)
        entry = s.get(VaultEntry, detail.case.vault_entry_id)
        events = s.scalars(select(OutboxMessage.event)).all()
    assert detail.case.status == "decided"
    assert decision.territories == ["DE", "FR", "US"]
    [statement] = detail.statements
    assert statement.document["territorial_scope"] == ["DE", "FR"]
    assert statement.document["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert statement.document["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert statement.document["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert entry.purpose == "evidence"
    assert entry.retain_until == T0.replace(month=9) + timedelta(minutes=10)
    assert sorted(events) == ["decision.restrict", "notice.content_provider"]
    [notice] = detail.notices
    assert notice.status == "sent" and notice.recipient_ref == "user-42"


def test_leave_up_drops_the_review_copy_and_escalate_keeps_the_case_open(world):
    value, _ = world.banked(trusted=False)
    case = world.submit(value, content=b"bytes").case
    world.decide(case.id, "escalate", ground="Threat to life: DSA Art. 18",
                 explanation="Specific threat against a named school; police informed.")
    with world.tx() as s:
        assert s.get(Case, case.id).status == "escalated"
        assert [c.id for c in service.list_queue(s, world.alice)] == [case.id]
    world.decide(case.id, "leave_up", ground_type="terms_of_service", ground="ToS 4.2",
                 explanation="News reporting on the attack; not terrorist content.",
                 now=T0 + timedelta(hours=1))
    with world.tx() as s:
        case_row = s.get(Case, case.id)
        entry = s.get(VaultEntry, case_row.vault_entry_id)
        assert case_row.status == "decided"
        assert entry.retain_until == T0 + timedelta(hours=1)
        assert service.get_case(s, world.alice, case.id).statements == []
        with pytest.raises(Conflict):
            service.decide(s, world.bob, case.id, action="remove", ground_type="legal",
                           ground="x", explanation="decided twice is not allowed")


def test_two_person_rule_needs_a_different_reviewer(world, receiver):
    world.endpoint(receiver.url)
    world.set_policy({"second_reviewer_actions": ["remove"]})
    value, _ = world.banked(trusted=False)
    case = world.submit(value).case
    decision = world.decide(case.id, "remove", by=world.alice)
    with world.tx() as s:
        assert s.get(Case, case.id).status == "pending_confirmation"
        assert s.scalars(select(OutboxMessage)).all() == []  # nothing happens before confirming
        with pytest.raises(Forbidden, match="different reviewer"):
            service.confirm_decision(s, world.alice, decision.id, vault=world.vault, now=T0)
    with world.tx() as s:
        service.reject_decision(s, world.bob, decision.id, reason="not the same video")
        assert s.get(Case, case.id).status == "open"
    second = world.decide(case.id, "remove", by=world.bob)
    with world.tx() as s:
        confirmed = service.confirm_decision(s, world.carol, second.id, vault=world.vault,
                                             now=T0)
        assert confirmed.status == "effective"
        assert confirmed.confirmed_by == "user:usr_carol"
        assert s.get(Case, case.id).status == "decided"
    # leave_up is not in second_reviewer_actions: one reviewer suffices
    other = world.submit(value).case
    assert world.decide(other.id, "leave_up", by=world.alice).status == "effective"


def test_permissions_and_tenancy(world):
    value, _ = world.banked(trusted=False)
    case = world.submit(value).case
    with world.tx() as s:
        with pytest.raises(Forbidden):
            service.decide(s, world.platform, case.id, action="remove", ground_type="legal",
                           ground="g", explanation="platform clients cannot decide")
        with pytest.raises(NotFound):
            service.get_case(s, world.outsider, case.id)
        with pytest.raises(NotFound):
            service.decide(s, world.outsider, case.id, action="remove", ground_type="legal",
                           ground="g", explanation="another organisation's case")
        assert service.list_queue(s, world.outsider) == []
    outsider_case = world.submit(value, principal=world.outsider)
    assert outsider_case.case is None  # the other organisation has no such bank
