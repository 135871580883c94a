"""``review_article``: the one service function the CLI, the API and the web page call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from countersignal.errors import ContentTooLarge, InvalidInput
from countersignal.settings import get_settings

from .analysis import Analysis
from .catalogue import Catalogue, ReviewConfig, load_catalogue
from .detectors import Context
from .language import detect_language
from .lexicon import Lexicon
from .model import EntityMatch, Finding, ReviewReport
from .nlp import analyse, english_pipeline
from .prepare import Format, Prepared, prepare
from .quotes import find_quotes

FULL_LANGUAGES = ("en", "ru")
MAX_EXCERPT = 240


def review_article(
    text: str,
    *,
    fmt: Format = "auto",
    language: str | None = None,
    config: ReviewConfig | None = None,
) -> ReviewReport:
    """Review a draft against the responsible-reporting rules and return advice.

    ``fmt`` says how to read ``text`` (``auto`` guesses). ``language`` (ISO 639-1) skips
    detection. Offsets in the findings refer to ``report.text``: the input itself for plain
    text and Markdown, the visible text for HTML (``source_start`` then points into the HTML).
    Nothing is stored or sent anywhere.
    """
    if not isinstance(text, str):
        raise InvalidInput("the draft must be text")
    limit = get_settings().limits.max_review_chars
    if len(text) > limit:
        raise ContentTooLarge(f"the draft has {len(text)} characters; the limit is {limit}")
    config = config or ReviewConfig()
    catalogue = load_catalogue(config)
    prepared = prepare(text, fmt)
    notes: list[str] = []
    if language:
        lang, confidence = language.lower().split("-")[0], 1.0
    else:
        lang, confidence = detect_language(prepared.text)
        if confidence < 0.4 and prepared.text.strip():
            notes.append(
                f"language detected as {lang!r} with low confidence; pass language= to set it"
            )
    analysis = _analyse(prepared, lang, catalogue)
    if lang not in FULL_LANGUAGES:
        notes.append(
            f"language {lang!r}: only language-independent detectors ran (links to file hosts, "
            "embedded media); the full rules exist for English and Russian"
        )
    elif lang == "en" and not analysis.has_parser:
        notes.append(
            "the English model package is not installed: detectors that need the parser or "
            "named entities ran in a reduced form"
        )
    entity_matches = _entity_matches(config, prepared.text, notes)
    findings, rules_run = _run_rules(catalogue, analysis, entity_matches, lang, prepared)
    findings = [f for f in findings if f.confidence >= config.min_confidence]
    return ReviewReport(
        findings=findings,
        language=lang,
        language_confidence=confidence,
        format=prepared.fmt,
        text=prepared.text,
        offsets_refer_to="visible_text" if prepared.fmt == "html" else "input",
        notes=notes,
        rules_run=rules_run,
    )


def _analyse(prepared: Prepared, lang: str, catalogue: Catalogue) -> Analysis:
    analysis = analyse(prepared.text, lang)
    analysis.headline = prepared.headline
    analysis.links = prepared.links
    analysis.embeds = prepared.embeds
    speech = catalogue.shared_lexicons(lang).get("speech_verbs") or Lexicon([])
    analysis.quotes = find_quotes(analysis, speech)
    return analysis


def _entity_matches(config: ReviewConfig, text: str, notes: list[str]) -> list[EntityMatch]:
    """Call the designated-entity hook; a failing hook costs its detectors, not the review."""
    if config.entity_lookup is None:
        return []
    try:
        raw: Sequence[Any] = config.entity_lookup(text)
        matches = [r if isinstance(r, EntityMatch) else EntityMatch.model_validate(r) for r in raw]
    except (ValidationError, TypeError, ValueError, LookupError) as exc:
        notes.append(f"designated-entity lookup failed and was skipped: {exc}")
        return []
    return [m for m in matches if m.start < m.end <= len(text)]


def _run_rules(
    catalogue: Catalogue,
    analysis: Analysis,
    entity_matches: list[EntityMatch],
    lang: str,
    prepared: Prepared,
) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    rules_run: list[str] = []
    shared = catalogue.shared_lexicons(lang)
    for rule_id, rule in catalogue.rules.items():
        ran = False
        for index, det in enumerate(rule.detectors):
            if lang not in det.spec.lexicons and not det.info.language_independent:
                continue
            ran = True
            ctx = Context(
                analysis=analysis,
                lexicons=catalogue.detector_lexicons(rule_id, index, lang),
                shared=shared,
                params=det.params,
                entity_matches=entity_matches,
            )
            for hit in det.info.fn(ctx):
                findings.append(_finding(rule, det.info.name, hit, analysis, prepared))
        if ran:
            rules_run.append(rule_id)
    return _dedupe(findings), rules_run


def _finding(rule, detector_name: str, hit, analysis: Analysis, prepared: Prepared) -> Finding:
    excerpt = analysis.text[hit.start : hit.end].strip()
    if len(excerpt) > MAX_EXCERPT:
        excerpt = excerpt[: MAX_EXCERPT - 1].rstrip() + "…"
    html_input = prepared.fmt == "html"
    return Finding(
        rule_id=rule.spec.id,
        rule_title=rule.spec.title,
        severity=rule.spec.severity,
        start=hit.start,
        end=hit.end,
        excerpt=excerpt,
        why=f"{rule.spec.explanation.strip()} Here: {hit.why}.",
        suggestion=rule.spec.suggestions[0],
        confidence=round(hit.confidence, 2),
        detector=detector_name,
        sources=rule.spec.sources,
        source_start=prepared.source_offset(hit.start) if html_input else None,
        source_end=prepared.source_offset(hit.end - 1) + 1 if html_input else None,
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and passage: overlapping findings of a rule keep the strongest."""
    findings.sort(key=lambda f: (f.start, -f.confidence))
    kept: list[Finding] = []
    for f in findings:
        clash = next(
            (k for k in kept if k.rule_id == f.rule_id and k.start < f.end and f.start < k.end),
            None,
        )
        if clash is None:
            kept.append(f)
    return kept


def warm_up() -> None:
    """Load the models now (e.g. at server start) rather than on the first request."""
    english_pipeline()
