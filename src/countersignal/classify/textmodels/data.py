"""Labelled training data: JSON Lines of ``{"text": ..., "label": ...}``, an organisation's
own. Read with size limits; the SHA-256 of the bytes is kept in the registry so every model
says exactly what it learned from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from countersignal.errors import ContentTooLarge, InvalidInput, NotFound
from countersignal.settings import get_settings


@dataclass(frozen=True)
class LabelledData:
    texts: list[str]
    labels: list[str]
    sha256: str


def read_jsonl(path: Path) -> LabelledData:
    """Read ``path``; every line must be an object with string ``text`` and ``label``."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such training file: {path}")
    limit = get_settings().limits.max_file_bytes
    if path.stat().st_size > limit:
        raise ContentTooLarge(f"{path} is larger than {limit} bytes")
    raw = path.read_bytes()
    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(
            row.get("label"), str | int | bool
        ):
            raise InvalidInput(f'{path}:{number}: expected {{"text": str, "label": str}}')
        texts.append(row["text"])
        labels.append(str(row["label"]))
    return LabelledData(texts, labels, hashlib.sha256(raw).hexdigest())


def binary_targets(labels: list[str], positive_label: str) -> list[int]:
    """1 for ``positive_label``, 0 for every other label; both must occur."""
    targets = [int(label == positive_label) for label in labels]
    if not any(targets):
        raise InvalidInput(f"no example has the positive label {positive_label!r}")
    if all(targets):
        raise InvalidInput("every example has the positive label; add negatives")
    return targets
