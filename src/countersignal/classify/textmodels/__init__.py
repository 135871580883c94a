"""Trainable text classifiers: an organisation's labelled JSON Lines → calibrated model with a
threshold for a target precision, stored in a registry with its metrics and report."""

from countersignal.classify.textmodels.data import LabelledData, read_jsonl
from countersignal.classify.textmodels.registry import (
    LoadedModel,
    active_models,
    evaluate_model,
    get_model,
    list_models,
    load_model,
    train_and_register,
)
from countersignal.classify.textmodels.train import KINDS, TrainedModel, train

__all__ = [
    "KINDS",
    "LabelledData",
    "LoadedModel",
    "TrainedModel",
    "active_models",
    "evaluate_model",
    "get_model",
    "list_models",
    "load_model",
    "read_jsonl",
    "train",
    "train_and_register",
]
