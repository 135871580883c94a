"""Transparency figures from a scripted scenario whose every number is known in advance."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from cases.world import AUTO_REMOVE_RULE, T0
from countersignal.cases import appeals, orders
from countersignal.cases.models import Case
from countersignal.errors import Forbidden
from countersignal.reports.figures import compute_figures, figures_digest, publish_report
from countersignal.reports.render import to_csv, to_html

YEAR_START, YEAR_END = T0.replace(month=1, day=1, hour=0), T0.replace(year=2027, month=1, day=1,
                                                                      hour=0)


def _order(world, ref, at):
    with world.tx() as s:
        order = orders.receive_order(
            s, world.alice, authority="Bundeskriminalamt", authority_country="DE",
            authority_reference=ref, legal_basis="Regulation (EU) 2021/784 Art. 3",
            content_reference=f"https://platform.example/{ref}", content_id=ref,
            received_at=at, now=at)
        case_id = s.scalar(select(Case.id).where(Case.removal_order_id == order.id))
    return order.id, case_id


@pytest.fixture
def scenario(world):
    """Five decisions, four orders, two appeals; see each line for what it contributes."""
    world.set_policy({"rules": [AUTO_REMOVE_RULE]})
    auto_value, _ = world.banked(trusted=True, labels=("designated_entity:ISIL",))
    review_value, _ = world.banked(trusted=False, labels=("behaviour:glorification",))
    automated = world.submit(auto_value, content_id="a", now=T0)              # auto remove
    human = world.submit(review_value, content_id="b", now=T0).case
    human_removal = world.decide(human.id, "remove", now=T0 + timedelta(hours=1))
    kept = world.submit(review_value, content_id="c", now=T0).case
    world.decide(kept.id, "leave_up", ground_type="terms_of_service", ground="ToS 4",
                 explanation="Academic analysis, allowed.", now=T0 + timedelta(hours=2))
    restricted = world.submit(review_value, content_id="d", now=T0).case
    world.decide(restricted.id, "restrict", territories=["DE"], now=T0 + timedelta(hours=3))
    _, done_case = _order(world, "o1", T0)
    world.decide(done_case, "remove", now=T0 + timedelta(minutes=20))         # order acted on
    refused, _ = _order(world, "o2", T0)
    late_refused, _ = _order(world, "o3", T0)
    _order(world, "o4", T0)                                                   # never answered
    with world.tx() as s:
        orders.respond_to_order(s, world.alice, refused, outcome="not_done",
                                reason="manifest_error", explanation="News article.",
                                now=T0 + timedelta(minutes=30))
        orders.respond_to_order(s, world.alice, late_refused, outcome="not_done",
                                reason="insufficient_information",
                                explanation="No URL or identifier given.",
                                now=T0 + timedelta(minutes=90))
        reversed_appeal = appeals.file_appeal(s, world.platform, automated.decision.id,
                                              statement="News footage.",
                                              now=T0 + timedelta(days=1))
        upheld_appeal = appeals.file_appeal(s, world.platform, human_removal.id,
                                            statement="Satire.", now=T0 + timedelta(days=1))
    with world.tx() as s:
        appeals.decide_appeal(s, world.bob, reversed_appeal.id, outcome="reversed",
                              explanation="News footage with context; restored.",
                              now=T0 + timedelta(days=3))
        appeals.decide_appeal(s, world.bob, upheld_appeal.id, outcome="upheld",
                              explanation="Glorifies the attack; stays removed.",
                              now=T0 + timedelta(days=16))               # after the 14 days
    return world


def test_tco_and_dsa_figures_as_json_csv_and_html(scenario):
    with scenario.tx() as s:
        figures = compute_figures(s, scenario.auditor, start=YEAR_START, end=YEAR_END)
    tco = figures["tco"]
    assert tco["measures"]["by_action"] == {"leave_up": 1, "remove": 3, "restrict": 1}
    assert (tco["measures"]["automated_decisions"], tco["measures"]["human_decisions"]) == (1, 4)
    assert tco["measures"]["restrictive_by_detection"] == {"hash_matching": 3,
                                                           "removal_order": 1}
    assert tco["items"] == {
        "removed": 3, "disabled_in_territories": 1, "labelled": 0, "left_up": 1,
        "escalated_to_authorities": 0, "removed_or_disabled_following_orders": 1,
        "removed_or_disabled_own_initiative": 3,
    }
    assert tco["removal_orders"] == {
        "received": 4, "acted_on": 1, "not_acted_on": 2,
        "not_acted_on_by_reason": {"force_majeure": 0, "manifest_error": 1,
                                   "insufficient_information": 1},
        "answered_late": 1, "unanswered": 1, "median_response_minutes": 30.0,
    }
    assert tco["complaints"] == {"received": 2, "decided": 2, "upheld": 1, "reversed": 1,
                                 "decided_late": 1, "open_at_end": 0}
    assert tco["restorations"] == {"reinstated": 1, "reinstated_after_automated_decision": 1}
    assert figures["cases"]["opened"] == 8
    assert figures["notices"] == {"sent": 4, "withheld": 0}
    dsa = figures["dsa"]
    assert dsa["statements"] == 4
    assert dsa["decision_visibility"] == {"DECISION_VISIBILITY_CONTENT_DISABLED": 1,
                                          "DECISION_VISIBILITY_CONTENT_REMOVED": 3}
    assert dsa["automated_decision"] == {"AUTOMATED_DECISION_FULLY": 1,
                                         "AUTOMATED_DECISION_NOT_AUTOMATED": 3}
    assert dsa["source_type"] == {"SOURCE_TYPE_OTHER_NOTIFICATION": 1, "SOURCE_VOLUNTARY": 3}

    rows = dict(csv.reader(io.StringIO(to_csv(figures))))
    assert rows["tco.items.removed"] == "3"
    assert rows["tco.removal_orders.not_acted_on_by_reason.manifest_error"] == "1"
    assert rows["dsa.decision_visibility.DECISION_VISIBILITY_CONTENT_REMOVED"] == "3"
    html = to_html(figures)
    assert html.count("<svg") == 3
    assert "Items restored after complaints</th><td class=\"num\">1<" in html
    assert "<script" not in html


def test_date_range_counts_only_events_inside_it(scenario):
    with scenario.tx() as s:
        first_day = compute_figures(s, scenario.auditor, start=T0, end=T0 + timedelta(days=1))
        later = compute_figures(s, scenario.auditor, start=T0 + timedelta(days=1),
                                end=YEAR_END)
        outsider = compute_figures(s, scenario.outsider, start=YEAR_START, end=YEAR_END)
    assert first_day["tco"]["complaints"]["received"] == 0
    assert first_day["tco"]["items"]["removed"] == 3
    assert later["tco"]["items"]["removed"] == 0
    assert later["tco"]["complaints"]["received"] == 2
    assert later["tco"]["restorations"]["reinstated"] == 1
    assert outsider["tco"]["items"]["removed"] == 0
    assert outsider["tco"]["removal_orders"]["received"] == 0


def test_published_reports_are_frozen(scenario):
    with scenario.tx() as s:
        with pytest.raises(Forbidden):
            publish_report(s, scenario.auditor, start=YEAR_START, end=YEAR_END)
        report = publish_report(s, scenario.admin, start=YEAR_START, end=YEAR_END,
                                now=T0 + timedelta(days=30))
        frozen = dict(report.figures)
    value, _ = scenario.banked(trusted=False, bank="late")
    case = scenario.submit(value, now=T0 + timedelta(days=40)).case
    scenario.decide(case.id, "remove", now=T0 + timedelta(days=40))
    with scenario.tx() as s:
        from countersignal.reports.models import PublishedReport

        stored = s.get(PublishedReport, report.id)
        live = compute_figures(s, scenario.admin, start=YEAR_START, end=YEAR_END)
    assert stored.figures == frozen and stored.sha256 == figures_digest(frozen)
    assert live["tco"]["items"]["removed"] == 4
    assert stored.figures["tco"]["items"]["removed"] == 3
