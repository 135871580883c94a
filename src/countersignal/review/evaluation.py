"""Precision and recall of the review per rule and language, on a labelled corpus.

Corpus files (``tests/review/corpus/<lang>*.yaml``) list, per rule, drafts that should trigger
it (``positive``) and near-misses that must not (``near_miss``); ``heldout_*`` lists are kept
apart and were not used for tuning (``roundN_heldout_*`` were, after being reported once).
``accountability`` holds legitimate accountability reporting that must produce no caution or
serious finding; ``heldout_accountability`` holds more of it, written with a held-out round and
reported, not tuned on. Precision is strict: a rule firing
on ANY draft not labelled for it (another rule's draft included, unless listed in ``allow``)
is a false positive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .catalogue import ReviewConfig
from .model import Severity
from .service import review_article

# list name -> (split, positive?). Earlier held-out rounds were each reported once and then
# used for tuning (roundN_*); the current held-out lists were written after that, not tuned on.
LISTS = {
    "positive": ("dev", True),
    "near_miss": ("dev", False),
    "round1_heldout_positive": ("dev", True),
    "round1_heldout_near_miss": ("dev", False),
    "round2_heldout_positive": ("dev", True),
    "round2_heldout_near_miss": ("dev", False),
    "round3_heldout_positive": ("dev", True),
    "round3_heldout_near_miss": ("dev", False),
    "round4_heldout_positive": ("dev", True),
    "round4_heldout_near_miss": ("dev", False),
    "round5_heldout_positive": ("dev", True),
    "round5_heldout_near_miss": ("dev", False),
    "round6_heldout_positive": ("dev", True),
    "round6_heldout_near_miss": ("dev", False),
    "round7_heldout_positive": ("dev", True),
    "round7_heldout_near_miss": ("dev", False),
    "heldout_positive": ("heldout", True),
    "heldout_near_miss": ("heldout", False),
}
# top-level lists of accountability reporting -> split
ACCOUNTABILITY_LISTS = {
    "accountability": "accountability",
    "round4_heldout_accountability": "accountability",
    "round5_heldout_accountability": "accountability",
    "round6_heldout_accountability": "accountability",
    "round7_heldout_accountability": "accountability",
    "heldout_accountability": "heldout_accountability",
}
HELDOUT_SPLITS = frozenset({"heldout", "heldout_accountability"})


@dataclass
class Item:
    text: str
    language: str
    rule: str | None  # the rule the item was written for; None for accountability items
    positive: bool
    split: str
    allow: frozenset[str] = frozenset()


@dataclass
class RuleScore:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    near_miss_fp: int = 0
    positives: int = 0
    near_misses: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None


@dataclass
class Evaluation:
    scores: dict[tuple[str, str, str], RuleScore]  # (language, split, rule) -> score
    accountability_items: dict[str, int] = field(default_factory=dict)
    accountability_flags: dict[str, list[str]] = field(default_factory=dict)  # lang -> details
    # the same for held-out accountability pieces (reported, not asserted or tuned on)
    heldout_accountability_items: dict[str, int] = field(default_factory=dict)
    heldout_accountability_flags: dict[str, list[str]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)  # readable errors, for tuning and docs


def load_corpus(path: Path) -> list[Item]:
    """Items of one corpus file; unknown list names are an error (typos must not hide items)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"language", "rules", *ACCOUNTABILITY_LISTS}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    lang = data["language"]
    items: list[Item] = []
    for rule, lists in (data.get("rules") or {}).items():
        for key, entries in lists.items():
            if key not in LISTS:
                raise ValueError(f"{path}: unknown list {key!r} under {rule}")
            split, positive = LISTS[key]
            for entry in entries:
                text, allow = (
                    (entry["text"], frozenset(entry.get("allow", [])))
                    if isinstance(entry, dict)
                    else (entry, frozenset())
                )
                items.append(Item(text, lang, rule, positive, split, allow))
    for key, split in ACCOUNTABILITY_LISTS.items():
        for text in data.get(key) or []:
            items.append(Item(text, lang, None, False, split))
    for item in items:  # an unquoted "a: b" in YAML becomes a mapping, not a draft
        if not isinstance(item.text, str):
            raise ValueError(f"{path}: an item is not text (quote it): {item.text!r:.80}")
    return items


def load_language(directory: Path, language: str) -> list[Item]:
    """All corpus files of a language: ``<lang>.yaml`` and ``<lang>_*.yaml``."""
    paths = sorted(directory.glob(f"{language}.yaml")) + sorted(
        directory.glob(f"{language}_*.yaml")
    )
    return [item for path in paths for item in load_corpus(path)]


def evaluate(items: list[Item], config: ReviewConfig | None = None) -> Evaluation:
    scores: dict[tuple[str, str, str], RuleScore] = defaultdict(RuleScore)
    result = Evaluation(scores)
    for item in items:
        report = review_article(item.text, language=item.language, config=config)
        fired = {f.rule_id for f in report.findings}
        if item.split in ACCOUNTABILITY_LISTS.values():
            held = item.split == "heldout_accountability"
            counted = result.heldout_accountability_items if held else result.accountability_items
            flags = result.heldout_accountability_flags if held else result.accountability_flags
            counted[item.language] = counted.get(item.language, 0) + 1
            serious = [f for f in report.findings if f.severity != Severity.advice]
            for f in serious:
                flags.setdefault(item.language, []).append(f"{f.rule_id}: {f.excerpt}")
            continue
        score = scores[(item.language, item.split, item.rule)]
        if item.positive:
            score.positives += 1
            if item.rule in fired:
                score.tp += 1
            else:
                score.fn += 1
                result.misses.append(f"FN {item.language}/{item.split}/{item.rule}: {item.text}")
        else:
            score.near_misses += 1
            if item.rule in fired:
                score.near_miss_fp += 1
        for rule in fired - {item.rule if item.positive else None} - item.allow:
            scores[(item.language, item.split, rule)].fp += 1
            result.misses.append(
                f"FP {item.language}/{item.split}/{rule} on {item.rule} item: {item.text}"
            )
    return result


def micro(evaluation: Evaluation, language: str, split: str) -> RuleScore:
    """All rules of a language and split pooled (micro-averaged counts)."""
    total = RuleScore()
    for (lang, part, _), score in evaluation.scores.items():
        if lang == language and part == split:
            total.tp += score.tp
            total.fp += score.fp
            total.fn += score.fn
            total.positives += score.positives
            total.near_misses += score.near_misses
            total.near_miss_fp += score.near_miss_fp
    return total


def table(evaluation: Evaluation) -> str:
    """A Markdown table: one row per rule, dev and held-out columns per language."""

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    rows = [
        "| language | rule | dev P | dev R | dev near-miss FP | held-out P | held-out R | "
        "held-out near-miss FP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(lang, rule) for lang, _, rule in evaluation.scores})
    for lang, rule in keys:
        dev = evaluation.scores.get((lang, "dev", rule), RuleScore())
        held = evaluation.scores.get((lang, "heldout", rule), RuleScore())
        rows.append(
            f"| {lang} | {rule} | {fmt(dev.precision)} | {fmt(dev.recall)} | "
            f"{dev.near_miss_fp}/{dev.near_misses} | {fmt(held.precision)} | "
            f"{fmt(held.recall)} | {held.near_miss_fp}/{held.near_misses} |"
        )
    return "\n".join(rows)
