"""The model registry: train, store, list, load and evaluate an organisation's text models.

Artifacts are written with skops (not pickle) under ``<home>/models/<organisation>/<name>/``
and loaded only if their SHA-256 matches the registry row and every type inside is on an
allow-list — a swapped or tampered file is refused rather than executed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import skops.io as sio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from countersignal.classify.models import TextModel
from countersignal.classify.textmodels.data import binary_targets, read_jsonl
from countersignal.classify.textmodels.report import write_report
from countersignal.classify.textmodels.train import evaluate_scores, train
from countersignal.errors import Conflict, InvalidInput, NotFound
from countersignal.settings import get_settings

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Every type a pipeline artifact may contain (sklearn / numpy / scipy internals).
TRUSTED_TYPES = [
    "countersignal.classify.textmodels.embedding.SentenceEmbeddingVectorizer",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "builtins.slice",
]


@dataclass
class LoadedModel:
    record: TextModel
    pipeline: object

    def score(self, texts: list[str]) -> list[float]:
        """Calibrated probability of the positive label for each text."""
        return [float(s) for s in self.pipeline.predict_proba(list(texts))[:, 1]]


def models_dir(organisation_id: str, name: str) -> Path:
    return get_settings().home / "models" / organisation_id / name


def _check_name(value: str, what: str) -> str:
    if not _SAFE_NAME.match(value):
        raise InvalidInput(f"{what} {value!r} must be letters, digits, '.', '_' or '-'")
    return value


def train_and_register(
    session: Session,
    *,
    organisation_id: str,
    name: str,
    data_path: Path,
    positive_label: str,
    target_precision: float = 0.9,
    kind: str = "tfidf-char-lr",
    embedding_model_path: str | None = None,
    seed: int = 0,
) -> TextModel:
    """Train on ``data_path`` (JSON Lines), store the artifact and report, register a new
    version of ``name`` for ``organisation_id``, and return its registry row."""
    _check_name(organisation_id, "organisation id")
    _check_name(name, "model name")
    data = read_jsonl(data_path)
    trained = train(data.texts, binary_targets(data.labels, positive_label), kind=kind,
                    target_precision=target_precision,
                    embedding_model_path=embedding_model_path, seed=seed)
    version = 1 + (session.scalar(
        select(func.max(TextModel.version)).where(
            TextModel.organisation_id == organisation_id, TextModel.name == name)
    ) or 0)
    directory = models_dir(organisation_id, name) / f"v{version}"
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / "model.skops"
    if artifact.exists():
        raise Conflict(f"{artifact} already exists; the registry and the data dir disagree")
    sio.dump(trained.pipeline, artifact)
    write_report(directory / "report", title=f"{name} v{version} (held-out test split)",
                 metrics=trained.metrics, threshold=trained.threshold)
    row = TextModel(
        organisation_id=organisation_id, name=name, version=version, kind=kind,
        positive_label=positive_label, training_sha256=data.sha256,
        target_precision=target_precision, threshold=trained.threshold,
        metrics=trained.metrics, artifact_path=str(artifact.resolve()),
        artifact_sha256=hashlib.sha256(artifact.read_bytes()).hexdigest(), active=True,
    )
    session.add(row)
    session.flush()
    return row


def list_models(session: Session, organisation_id: str | None = None) -> list[TextModel]:
    stmt = select(TextModel).order_by(TextModel.organisation_id, TextModel.name,
                                      TextModel.version)
    if organisation_id is not None:
        stmt = stmt.where(TextModel.organisation_id == organisation_id)
    return list(session.scalars(stmt))


def get_model(session: Session, organisation_id: str, name: str,
              version: int | None = None) -> TextModel:
    """A version of a model, or the newest active one."""
    stmt = select(TextModel).where(TextModel.organisation_id == organisation_id,
                                   TextModel.name == name)
    stmt = (stmt.where(TextModel.version == version) if version is not None
            else stmt.where(TextModel.active.is_(True)).order_by(TextModel.version.desc()))
    row = session.scalars(stmt.limit(1)).first()
    if row is None:
        raise NotFound(f"no model {name!r}" + (f" version {version}" if version else "")
                       + f" for organisation {organisation_id!r}")
    return row


def active_models(session: Session, organisation_id: str) -> list[TextModel]:
    """The newest active version of each of an organisation's models."""
    newest: dict[str, TextModel] = {}
    for row in list_models(session, organisation_id):
        if row.active:
            newest[row.name] = row
    return list(newest.values())


_LOADED: dict[str, LoadedModel] = {}  # artifact SHA-256 → model, a few at a time
_MAX_LOADED = 16


def load_model(record: TextModel) -> LoadedModel:
    """The model behind ``record``, after checking its hash and the types it contains."""
    if record.artifact_sha256 in _LOADED:
        return LoadedModel(record, _LOADED[record.artifact_sha256].pipeline)
    path = Path(record.artifact_path)
    if not path.is_file():
        raise NotFound(f"model artifact missing: {path}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.artifact_sha256:
        raise Conflict(f"model artifact {path} does not match its registered SHA-256; refusing")
    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_TYPES]
    if untrusted:
        raise Conflict(f"model artifact {path} contains unexpected types: {untrusted}")
    pipeline = sio.loads(data, trusted=TRUSTED_TYPES)
    if len(_LOADED) >= _MAX_LOADED:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[record.artifact_sha256] = LoadedModel(record, pipeline)
    return LoadedModel(record, pipeline)


def evaluate_model(record: TextModel, data_path: Path, out_dir: Path) -> dict:
    """Measure a registered model on labelled data at its threshold; write a report."""
    data = read_jsonl(data_path)
    targets = binary_targets(data.labels, record.positive_label)
    scores = load_model(record).score(data.texts)
    metrics = evaluate_scores(targets, scores, record.threshold)
    metrics["data_sha256"] = data.sha256
    metrics["report"] = str(write_report(
        out_dir, title=f"{record.name} v{record.version} on {Path(data_path).name}",
        metrics=metrics, threshold=record.threshold))
    return metrics
