"""Classifiers: designated-entity detection from cited lists (UN Security Council
consolidated list and others), trainable text models, OCR for images with text.

Classifiers give cases scores and reasons; by default they never act alone.

Public entry points (imported lazily, so loading the tables does not load scikit-learn):
``classify_text``, ``classify_image``, ``ClassifierResult``, ``entity_spans``, ``Mention``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "classify_text": "countersignal.classify.service",
    "classify_image": "countersignal.classify.service",
    "ClassifierResult": "countersignal.classify.service",
    "set_ocr": "countersignal.classify.service",
    "entity_spans": "countersignal.classify.entities",
    "Mention": "countersignal.classify.entities",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'countersignal.classify' has no attribute {name!r}")
