"""What other packages call: classify a text (or an image, through OCR) for one organisation
and get results with their reasons.

Results are evidence for a human: each says which classifier, what it matched or scored,
against which threshold, and why. Nothing here acts on content; policy decides what a result
may do, and by default a classifier result only raises a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from countersignal.classify.entities import detector_for
from countersignal.classify.entities.detector import QUALITY_WEIGHT
from countersignal.classify.models import OrganisationClassifySettings
from countersignal.classify.ocr import DEFAULT_LANGUAGES, ocr_image
from countersignal.classify.textmodels import active_models, load_model
from countersignal.errors import ContentTooLarge, InvalidInput
from countersignal.settings import get_settings


@dataclass(frozen=True)
class ClassifierResult:
    """One classifier's finding on one text."""

    classifier: str  # "designated-entity" | "text-model"
    label: str  # designation reference, or the model's positive label
    score: float
    threshold: float
    fired: bool  # score reached the threshold
    reason: str  # one sentence for the reviewer
    detail: dict = field(default_factory=dict)


def classify_text(text: str, *, organisation_id: str, session: Session) -> list[ClassifierResult]:
    """Designated-entity mentions (from the organisation's enabled lists) and the scores of
    its active text models, each with the reason."""
    limit = get_settings().limits.max_text_bytes
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise ContentTooLarge(f"text is larger than {limit} bytes")
    detector = detector_for(session, organisation_id=organisation_id)
    results = [
        ClassifierResult(
            classifier="designated-entity",
            label=m.designation_ref,
            score=m.score,
            # similarity × quality weight, so the bar is the minimum similarity × that weight
            threshold=round(detector.min_similarity * QUALITY_WEIGHT[m.alias_quality], 4),
            fired=True,
            reason=(f"“{m.text}” at {m.start}–{m.end} matches {m.alias_quality} alias "
                    f"“{m.alias}” of {m.designation_name} ({m.designation_ref}, {m.list_name}),"
                    f" similarity {m.similarity:.2f}"),
            detail={"span": [m.start, m.end], "text": m.text, "alias": m.alias,
                    "alias_quality": m.alias_quality, "designation_ref": m.designation_ref,
                    "designation_name": m.designation_name, "list": m.list_name,
                    "kind": m.kind, "similarity": m.similarity, "weak_alias": m.weak,
                    "also_refs": list(m.also_refs)},
        )
        for m in detector.find(text)
    ]
    for record in active_models(session, organisation_id):
        (score,) = load_model(record).score([text])
        fired = score >= record.threshold
        results.append(ClassifierResult(
            classifier="text-model",
            label=record.positive_label,
            score=round(score, 4),
            threshold=record.threshold,
            fired=fired,
            reason=(f"model {record.name} v{record.version} ({record.kind}) scored "
                    f"{score:.3f} for “{record.positive_label}”, threshold "
                    f"{record.threshold:.3f} (chosen for precision "
                    f"{record.target_precision:.2f})"),
            detail={"model": record.name, "version": record.version, "kind": record.kind,
                    "model_id": record.id, "test_precision": record.metrics.get("precision"),
                    "test_recall": record.metrics.get("recall")},
        ))
    return results


def get_classify_settings(session: Session, organisation_id: str) -> OrganisationClassifySettings:
    """The organisation's classifier settings (defaults, OCR off, when never set)."""
    row = session.get(OrganisationClassifySettings, organisation_id)
    return row or OrganisationClassifySettings(
        organisation_id=organisation_id, ocr_enabled=False, ocr_languages=DEFAULT_LANGUAGES
    )


def set_ocr(session: Session, organisation_id: str, *, enabled: bool,
            languages: str | None = None) -> OrganisationClassifySettings:
    """Turn OCR on or off for an organisation (languages as Tesseract codes, e.g. eng+ara)."""
    if languages is not None and not all(part.isalpha() for part in languages.split("+")):
        raise InvalidInput(f"languages must look like 'eng+ara+rus', not {languages!r}")
    row = session.get(OrganisationClassifySettings, organisation_id)
    if row is None:
        row = OrganisationClassifySettings(organisation_id=organisation_id,
                                           ocr_languages=DEFAULT_LANGUAGES)
        session.add(row)
    row.ocr_enabled = enabled
    if languages:
        row.ocr_languages = languages
    session.flush()
    return row


def classify_image(data: bytes, *, organisation_id: str,
                   session: Session) -> tuple[str | None, list[ClassifierResult]]:
    """OCR the image when the organisation enabled OCR, then classify the text.

    Returns ``(text, results)``; ``(None, [])`` when OCR is off for the organisation.
    """
    settings = get_classify_settings(session, organisation_id)
    if not settings.ocr_enabled:
        return None, []
    text = ocr_image(data, languages=settings.ocr_languages)
    return text, classify_text(text, organisation_id=organisation_id, session=session)
