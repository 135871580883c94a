"""review_article: findings, offsets, formats, languages, hooks and limits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from countersignal.errors import ContentTooLarge, InvalidInput
from countersignal.review import (
    DISCLAIMER,
    EntityMatch,
    ReviewConfig,
    Severity,
    review_article,
)
from countersignal.settings import get_settings

DRAFT = (
    "# Gunman Daniel Roarke holds hostages\n\n"
    "Snipers are positioned on the roof of the bank as the siege continues. "
    "At least 40 people were killed. It was carnage."
)


def test_findings_carry_rule_reason_suggestion_and_offsets_into_the_input() -> None:
    report = review_article(DRAFT)
    assert report.language == "en" and report.format == "markdown"
    assert report.offsets_refer_to == "input" and report.text == DRAFT
    assert report.disclaimer == DISCLAIMER and "not a ruling" in report.disclaimer
    by_rule = {f.rule_id: f for f in report.findings}
    assert {"ongoing_operation", "unattributed_figures", "sensationalism"} <= set(by_rule)
    for f in report.findings:
        assert DRAFT[f.start : f.end].strip().startswith(f.excerpt[:20])
        assert f.why and f.suggestion and f.sources
        assert 0 < f.confidence <= 1
    assert by_rule["ongoing_operation"].severity is Severity.serious
    assert by_rule["sensationalism"].severity is Severity.advice


def test_html_offsets_refer_to_visible_text_and_map_back_to_markup() -> None:
    html = (
        "<article><h1>Update</h1><p>Snipers are <em>positioned</em> on the roof as the "
        "siege continues.</p><script>document.write('carnage')</script></article>"
    )
    report = review_article(html)
    assert report.format == "html" and report.offsets_refer_to == "visible_text"
    [finding] = report.findings
    assert finding.rule_id == "ongoing_operation"
    assert report.text[finding.start : finding.end].startswith("Snipers are positioned")
    assert finding.source_start is not None
    assert html[finding.source_start :].startswith("Snipers are <em>positioned")


def test_russian_uses_the_same_rules() -> None:
    report = review_article("Снайперы сейчас занимают позиции на крыше банка, штурм продолжается.")
    assert report.language == "ru"
    assert [f.rule_id for f in report.findings] == ["ongoing_operation"]


def test_other_languages_run_language_independent_detectors_and_say_so() -> None:
    text = (
        "Das Manifest des Täters ist unter https://mega.nz/file/abc verfügbar. "
        "Die Polizei sagte, die Lage sei unter Kontrolle."
    )
    report = review_article(text)
    assert report.language == "de"
    assert [f.rule_id for f in report.findings] == ["manifesto_propaganda"]
    assert any("only language-independent detectors" in note for note in report.notes)
    assert "glorification" not in report.rules_run


def test_entity_lookup_hook_marks_quotes_from_designated_entities() -> None:
    text = (
        'Northern Dawn Front said in a statement: "We will keep fighting until every one of '
        'our brothers is free and the occupiers have left our land for good, whatever it costs."'
    )
    name = "Northern Dawn Front"

    def lookup(t: str) -> list[EntityMatch]:
        i = t.find(name)
        return [EntityMatch(start=i, end=i + len(name), name=name, list_ref="TEST.01")]

    plain = {f.rule_id for f in review_article(text).findings}
    hooked = review_article(text, config=ReviewConfig(entity_lookup=lookup))
    assert "perpetrator_platform" not in plain
    [finding] = [f for f in hooked.findings if f.rule_id == "perpetrator_platform"]
    assert "designated entity Northern Dawn Front" in finding.why


def test_a_failing_entity_lookup_is_noted_and_the_review_continues() -> None:
    def broken(_: str) -> list:
        raise ValueError("list unavailable")

    report = review_article("It was carnage.", config=ReviewConfig(entity_lookup=broken))
    assert [f.rule_id for f in report.findings] == ["sensationalism"]
    assert any("list unavailable" in note for note in report.notes)


def test_accountability_reporting_is_not_flagged() -> None:
    text = (
        "The police response has been criticised. Armed officers waited outside for 40 minutes "
        "while the gunman was still shooting, survivors told the inquiry. Why were snipers "
        "positioned so far from the building? The official death toll of 9 is disputed by "
        "doctors, who say at least 14 people died."
    )
    report = review_article(text)
    assert [f for f in report.findings if f.severity is not Severity.advice] == []


def test_limits_and_bad_input() -> None:
    limit = get_settings().limits.max_review_chars
    with pytest.raises(ContentTooLarge):
        review_article("a" * (limit + 1))
    with pytest.raises(InvalidInput):
        review_article(b"bytes")  # type: ignore[arg-type]
    empty = review_article("   ")
    assert empty.findings == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_gives_a_report_with_offsets_inside_the_text(text: str) -> None:
    report = review_article(text)
    for f in report.findings:
        assert 0 <= f.start < f.end <= len(report.text)
