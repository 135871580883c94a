"""Training a binary text classifier with calibrated scores and a threshold chosen for a
target precision.

Baseline: TF-IDF over character n-grams (within word boundaries) + logistic regression —
language-agnostic, works for Arabic and Russian as well as English, small and fast. Optional:
sentence embeddings from a local model (``embedding.py``). Either way the classifier is wrapped
in ``CalibratedClassifierCV`` so a score of 0.9 means roughly 90 % of such texts are positive,
and the threshold is the lowest score whose cross-validated precision reaches the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_score,
    recall_score,
)
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline

from countersignal.errors import InvalidInput

KINDS = ("tfidf-char-lr", "embedding-lr")
MIN_EXAMPLES_PER_CLASS = 10


@dataclass
class TrainedModel:
    pipeline: Pipeline
    threshold: float
    metrics: dict


def build_pipeline(kind: str, *, embedding_model_path: str | None = None,
                   seed: int = 0) -> Pipeline:
    if kind == "tfidf-char-lr":
        features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                   min_df=2, max_features=200_000)
    elif kind == "embedding-lr":
        from countersignal.classify.textmodels.embedding import SentenceEmbeddingVectorizer

        if not embedding_model_path:
            raise InvalidInput("embedding-lr needs a local sentence-embedding model path")
        features = SentenceEmbeddingVectorizer(embedding_model_path)
    else:
        raise InvalidInput(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    classifier = CalibratedClassifierCV(
        LogisticRegression(max_iter=2000, C=4.0, random_state=seed), cv=3, method="sigmoid"
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def threshold_for_precision(y_true, scores, target_precision: float) -> tuple[float, bool]:
    """The lowest threshold whose precision reaches the target (most recall at that
    precision); if none does, the threshold of highest precision, flagged as not met."""
    precision, _recall, thresholds = precision_recall_curve(y_true, scores)
    reaching = [t for p, t in zip(precision[:-1], thresholds, strict=True)
                if p >= target_precision]
    if reaching:
        return float(min(reaching)), True
    return float(thresholds[int(np.argmax(precision[:-1]))]), False


def evaluate_scores(y_true, scores, threshold: float) -> dict:
    """Precision, recall, confusion matrix and a PR curve (at most 200 points) as JSON data."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    predicted = (scores >= threshold).astype(int)
    precision, recall, _ = precision_recall_curve(y_true, scores)
    step = max(1, len(precision) // 200)
    return {
        "n": len(y_true),
        "positives": int(y_true.sum()),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "average_precision": float(average_precision_score(y_true, scores)),
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=[0, 1]).tolist(),
        "pr_curve": {"precision": precision[::step].round(4).tolist(),
                     "recall": recall[::step].round(4).tolist()},
    }


def train(texts: list[str], targets: list[int], *, kind: str = "tfidf-char-lr",
          target_precision: float = 0.9, embedding_model_path: str | None = None,
          test_fraction: float = 0.25, seed: int = 0) -> TrainedModel:
    """Fit on a stratified split, pick the threshold from cross-validated scores on the
    training part, and measure on the held-out part."""
    if not 0 < target_precision < 1:
        raise InvalidInput("target precision must be between 0 and 1")
    counts = np.bincount(np.asarray(targets), minlength=2)
    if counts.min() < MIN_EXAMPLES_PER_CLASS:
        raise InvalidInput(f"need at least {MIN_EXAMPLES_PER_CLASS} examples of each class, "
                           f"have {counts[1]} positive and {counts[0]} negative")
    x_train, x_test, y_train, y_test = train_test_split(
        texts, targets, test_size=test_fraction, stratify=targets, random_state=seed
    )
    pipeline = build_pipeline(kind, embedding_model_path=embedding_model_path, seed=seed)
    cv_scores = cross_val_predict(pipeline, x_train, y_train, cv=3,
                                  method="predict_proba")[:, 1]
    threshold, met = threshold_for_precision(y_train, cv_scores, target_precision)
    pipeline.fit(x_train, y_train)
    test_scores = pipeline.predict_proba(x_test)[:, 1]
    metrics = evaluate_scores(y_test, test_scores, threshold)
    metrics.update({"target_precision": target_precision, "target_met_in_training": met,
                    "n_train": len(x_train), "n_test": len(x_test)})
    return TrainedModel(pipeline, threshold, metrics)
