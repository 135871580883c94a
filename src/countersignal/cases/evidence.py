"""Gathering evidence about a submission: hash, match, dispute state, classifiers.

The other packages' functions are called by their documented names: ``signals.hash_bytes`` /
``hash_text``, ``index.matcher.match_signals``, ``exchange.is_disputed`` and
``classify.classify_text``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy.orm import Session

from countersignal.banks.service import opinions_for
from countersignal.cases.policy import BankEvidence, ClassifierEvidence
from countersignal.errors import InvalidInput
from countersignal.exchange.disputes import is_disputed

BLOCKING_OPINIONS = ("false_positive", "disagree")


def compute_signals(content: bytes | None, text: str | None, signals: Sequence | None,
                    content_type: str | None) -> list:
    """The content's signals: hashed from bytes or text, or the caller's (validated)."""
    from countersignal.signals import Signal, get_signal_type, hash_bytes, hash_text

    computed = []
    if content is not None:
        computed.extend(hash_bytes(content, content_type=content_type or None))
    if text is not None:
        computed.extend(hash_text(text))
    for given in signals or ():
        if isinstance(given, Signal):
            computed.append(given)
            continue
        try:
            stype, value = given["type"], given["value"]
        except (KeyError, TypeError) as exc:
            raise InvalidInput("each signal needs a type and a value") from exc
        computed.append(Signal(stype, get_signal_type(stype).validate(value)))
    if not computed:
        raise InvalidInput("send content, text or at least one signal")
    return computed


def bank_evidence(session: Session, organisation_id: str, matches) -> list[BankEvidence]:
    """Policy inputs for ``match_signals`` results, with dispute and own-opinion state."""
    opinions = opinions_for(session, [m.signal_id for m in matches])
    evidence = []
    for match in matches:
        own = [o for o in opinions.get(match.signal_id, [])
               if o.organisation_id == organisation_id]
        evidence.append(BankEvidence(
            signal_id=match.signal_id, signal_type=match.signal_type, distance=match.distance,
            bank_id=match.bank_id, bank_trusted=match.bank_trusted, labels=match.labels,
            disputed=is_disputed(session, match.signal_id),
            own_false_positive=any(o.opinion in BLOCKING_OPINIONS for o in own),
        ))
    return evidence


def run_classifiers(session: Session, organisation_id: str, text: str) -> list[ClassifierEvidence]:
    """Classifier results on text: designated-entity mentions from the organisation's enabled
    lists and its active text models (``classify.classify_text``), each with its reason."""
    from countersignal.classify import classify_text

    results = classify_text(text, organisation_id=organisation_id, session=session)
    return [as_classifier_evidence(dataclasses.asdict(result)) for result in results]


def run_image_classifiers(session: Session, organisation_id: str,
                          content: bytes) -> list[ClassifierEvidence]:
    """Text found in an image by OCR, classified — only where the organisation enabled OCR
    (``classify.classify_image`` returns nothing otherwise)."""
    from countersignal.classify import classify_image

    _, results = classify_image(content, organisation_id=organisation_id, session=session)
    return [as_classifier_evidence(dataclasses.asdict(result)) for result in results]


def as_classifier_evidence(data: dict) -> ClassifierEvidence:
    """Evidence from a ``classify.ClassifierResult`` (as a dict) or a platform's own finding:
    ``classifier``, ``label``, ``score``, optional ``threshold``, ``reason`` and ``detail``."""
    reason = data.get("reason")
    reason = dict(reason) if isinstance(reason, dict) else {"text": str(reason or "")}
    if isinstance(data.get("detail"), dict):
        reason.update(data["detail"])
    try:
        return ClassifierEvidence(
            classifier=str(data["classifier"]),
            label=str(data["label"]),
            score=float(data["score"]),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            reason=reason,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("a classifier result needs classifier, label and score") from exc
