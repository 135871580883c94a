"""Near-duplicate text: MinHash (our ``text_near``) vs TLSH on lightly edited texts.

Corpus: prose paragraphs of the Python language reference shipped with CPython
(``pydoc_data.topics``), so the run needs nothing downloaded. Originals are indexed; each is
queried back after one kind of edit; held-out paragraphs are queried as unrelated texts.
Both methods hash the same normalised text (``countersignal.signals.text.normalise``).
Thresholds are chosen on even-numbered texts (best macro F1 over edit kinds) and the table
reports odd-numbered ones.

    .venv/bin/python bench/eval_text_neardup.py
"""

from __future__ import annotations

import os
import platform
import pydoc_data.topics
import random
import re
import time
from collections.abc import Callable

import numpy as np
import tlsh
from datasketch import MinHash

from countersignal.signals.text import NUM_PERM, TextNear, hash_text, normalise, shingles

SEED = 20240521
LOOKALIKES = str.maketrans("aeopcxyi", "аеорсхуі")  # Latin -> Cyrillic


def corpus() -> tuple[list[str], list[str]]:
    """(short texts of 12-30 words, long texts of 45+ words), prose only, de-duplicated.

    The reference repeats itself ("Changed in version ..."), so a paragraph is dropped when
    its 5-gram Jaccard similarity with one already kept is 0.2 or more: otherwise true
    near-duplicates inside the corpus would count as false matches.
    """
    kept: list[set[str]] = []
    short, long = [], []
    for topic in sorted(pydoc_data.topics.topics):
        for paragraph in re.split(r"\n\s*\n", pydoc_data.topics.topics[topic]):
            text = re.sub(r"\s+", " ", paragraph).strip()
            words = len(text.split())
            if re.search(r"[{}\[\]=<>]|\*\*|::", text) or "." not in text:
                continue  # code, grammar rules, tables
            if not (12 <= words <= 30 or words >= 45):
                continue
            grams = shingles(normalise(text))
            if any(len(grams & other) >= 0.2 * len(grams | other) for other in kept):
                continue
            kept.append(grams)
            if words <= 30:
                short.append(text)
            else:
                long.append(text)
    return short, long


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def typos(text: str, rng: random.Random) -> str:
    """About 1 word in 15 gets one character inserted, deleted or replaced."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // 15)):
        w = words[i]
        pos = rng.randrange(len(w) + 1)
        char = rng.choice("abcdefghijklmnopqrstuvwxyz")
        op = rng.choice(("insert", "delete", "replace")) if w else "insert"
        words[i] = (
            w[:pos] + char + w[pos:]
            if op == "insert"
            else w[: max(pos - 1, 0)] + w[pos:]
            if op == "delete"
            else w[: max(pos - 1, 0)] + char + w[pos:]
        )
    return " ".join(words)


def word_swaps(text: str, rng: random.Random) -> str:
    """About 1 adjacent pair in 10 swapped."""
    words = text.split(" ")
    for i in rng.sample(range(len(words) - 1), max(1, len(words) // 10)):
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def insert_sentence(text: str, rng: random.Random, donor: str) -> str:
    parts = sentences(text)
    parts.insert(rng.randrange(len(parts) + 1), rng.choice(sentences(donor)))
    return " ".join(parts)


def delete_sentence(text: str, rng: random.Random) -> str:
    """Drop one sentence; a one-sentence text loses a run of about 15% of its words."""
    parts = sentences(text)
    if len(parts) >= 2:
        del parts[rng.randrange(len(parts))]
        return " ".join(parts)
    words = text.split(" ")
    run = max(1, len(words) * 15 // 100)
    start = rng.randrange(len(words) - run)
    return " ".join(words[:start] + words[start + run :])


def lookalikes(text: str, rng: random.Random) -> str:
    return "".join(c.translate(LOOKALIKES) if rng.random() < 0.3 else c for c in text)


EDITS: dict[str, Callable[..., str]] = {
    "typos": typos,
    "word swaps": word_swaps,
    "insert sentence": insert_sentence,
    "delete sentence": delete_sentence,
    "look-alike letters": lookalikes,
    "typos+swaps+insert": lambda t, rng, donor: insert_sentence(
        word_swaps(typos(t, rng), rng), rng, donor
    ),
}


class MinHashMethod:
    name = "MinHash 128 x 5-gram (text_near)"
    thresholds = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

    def hash(self, text: str) -> np.ndarray:
        return np.frombuffer(bytes.fromhex(hash_text(text)[1].value), dtype=">u4")

    def distances(self, query: np.ndarray, stored: list[np.ndarray]) -> np.ndarray:
        return (np.stack(stored) != query).sum(axis=1) / NUM_PERM


class TLSHMethod:
    name = "TLSH (diff, with length)"
    thresholds = (20, 30, 50, 70, 100, 150)

    def hash(self, text: str) -> str | None:
        value = tlsh.hash(normalise(text).encode())
        return None if value in ("TNULL", "") else value  # under 50 bytes or too uniform

    def distances(self, query: str | None, stored: list[str | None]) -> np.ndarray:
        big = 10**6
        if query is None:
            return np.full(len(stored), big)
        return np.array([big if s is None else tlsh.diff(query, s) for s in stored])


def evaluate(method, originals, queries, unrelated) -> dict[float, dict[str, tuple]]:
    """{threshold: {edit: (precision, recall)}, and "unrelated": (false-match rate,)}."""
    stored = [method.hash(t) for t in originals]
    rows: dict[float, dict[str, list[int]]] = {t: {} for t in method.thresholds}
    for edit, pairs in queries.items():
        for source, text in pairs:
            dist = method.distances(method.hash(text), stored)
            for threshold in method.thresholds:
                hit = dist <= threshold
                counts = rows[threshold].setdefault(edit, [0, 0, 0])
                counts[0] += int(hit[source])  # true positive
                counts[1] += int(hit.sum()) - int(hit[source])  # false positives
                counts[2] += 1
    for text in unrelated:
        dist = method.distances(method.hash(text), stored)
        for threshold in method.thresholds:
            counts = rows[threshold].setdefault("unrelated", [0, 0, 0])
            counts[1] += int((dist <= threshold).any())
            counts[2] += 1
    out: dict[float, dict[str, tuple]] = {}
    for threshold, per_edit in rows.items():
        out[threshold] = {}
        for edit, (tp, fp, n) in per_edit.items():
            if edit == "unrelated":
                out[threshold][edit] = (fp / n,)
            else:
                out[threshold][edit] = (tp / max(tp + fp, 1), tp / n)
    return out


def macro_f1(result: dict[str, tuple]) -> float:
    """Mean F1 over edit kinds, minus the unrelated false-match rate."""
    scores = [2 * p * r / (p + r) if p + r else 0.0 for _, (p, r) in _edits(result)]
    return float(np.mean(scores)) - result["unrelated"][0]


def _edits(result: dict[str, tuple]):
    return [(e, v) for e, v in result.items() if e != "unrelated"]


def build(texts: list[str], held_out: list[str], rng: random.Random) -> dict:
    queries: dict[str, list[tuple[int, str]]] = {}
    for edit, apply in EDITS.items():
        pairs = []
        for source, text in enumerate(texts):
            donor = held_out[rng.randrange(len(held_out))]
            needs_donor = "insert" in edit
            pairs.append((source, apply(text, rng, donor) if needs_donor else apply(text, rng)))
        queries[edit] = pairs
    return queries


def datasketch_agreement(texts: list[str]) -> float:
    """Mean |our distance - datasketch's| over consecutive text pairs and their edits."""
    gaps = []
    rng = random.Random(SEED)
    for a in texts[:60]:
        b = typos(word_swaps(a, rng), rng)
        sketches = []
        for text in (a, b):
            sketch = MinHash(num_perm=NUM_PERM, seed=1)
            sketch.update_batch([s.encode() for s in shingles(normalise(text))])
            sketches.append(sketch)
        ours = TextNear.distance(hash_text(a)[1].value, hash_text(b)[1].value)
        gaps.append(abs(ours - (1 - sketches[0].jaccard(sketches[1]))))
    return float(np.mean(gaps))


def main() -> None:
    started = time.perf_counter()
    rng = random.Random(SEED)
    short, long = corpus()
    rng.shuffle(short)
    rng.shuffle(long)
    groups = {"short (12-30 words)": short[:300], "long (45+ words)": long[:160]}
    held_out = short[300:420] + long[160:]
    methods = [MinHashMethod(), TLSHMethod()]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"corpus: {len(short)} short and {len(long)} long prose paragraphs (pydoc_data)")
    for group, texts in groups.items():
        dev, test = texts[0::2], texts[1::2]
        unrelated = held_out[0::2], held_out[1::2]
        print(f"\n### {group}: {len(test)} originals indexed, {len(unrelated[1])} unrelated")
        header = "| method | threshold | " + " | ".join(EDITS) + " | unrelated false-match |"
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for method in methods:
            dev_result = evaluate(method, dev, build(dev, held_out, rng), unrelated[0])
            best = max(method.thresholds, key=lambda t: macro_f1(dev_result[t]))
            results = evaluate(method, test, build(test, held_out, rng), unrelated[1])
            for threshold, result in results.items():
                cells = [f"P {p:.2f} / R {r:.2f}" for _, (p, r) in _edits(result)]
                mark = " (best on dev)" if threshold == best else ""
                print(f"| {method.name} | {threshold}{mark} | " + " | ".join(cells)
                      + f" | {result['unrelated'][0]:.3f} |")  # fmt: skip
    print(f"\nour MinHash vs datasketch MinHash, mean |distance difference| on 60 edited pairs: "
          f"{datasketch_agreement(long):.3f}")  # fmt: skip
    print(f"run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
