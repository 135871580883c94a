"""The review's designated-entity hook, built from an organisation's enabled lists."""

from __future__ import annotations

from countersignal.classify.designations.parse import parse_csv
from countersignal.classify.designations.store import enable_list, load_parsed
from countersignal.review import review_article
from countersignal.review.entities import config_for

LIST = (
    b"reference,kind,name,aliases,low_quality_aliases,original_script_name,list_type,listed_on\n"
    b"X-1,entity,Example Liberation Front,Front for Example,,,Example,2020-05-01\n"
)

DRAFT = (
    'A spokesman for the Example Liberation Front said on Tuesday: "We will not stop until '
    "every one of our demands is met and the whole region understands what our fighters can "
    'do, and we call on all our brothers to join the struggle now."'
)


def test_quotes_from_a_listed_group_are_flagged_only_with_the_list(session_factory):
    with session_factory.begin() as session:
        load_parsed(
            session, parse_csv(LIST), list_name="National list", list_format="csv", source="test"
        )
    with session_factory() as session:
        without = review_article(DRAFT, language="en", config=config_for(session, "org_a"))
    with session_factory.begin() as session:
        enable_list(session, "org_a", "National list")
    with session_factory() as session:
        report = review_article(DRAFT, language="en", config=config_for(session, "org_a"))
        other_org = review_article(DRAFT, language="en", config=config_for(session, "org_b"))
    platform = [f for f in report.findings if "designated entity" in f.why]
    assert platform and "Example Liberation Front" in platform[0].why
    assert not [f for f in without.findings if "designated entity" in f.why]
    assert not [f for f in other_org.findings if "designated entity" in f.why]
