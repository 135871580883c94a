"""Evaluate the responsible-reporting review on its labelled corpus and record the results.

    .venv/bin/python bench/eval_review.py            # print the table
    .venv/bin/python bench/eval_review.py --write    # also update docs/evaluation.md

Precision and recall per rule and language, on the tuning ("dev") part and on the held-out
part that was never used for tuning; the accountability set must get no caution or serious
finding. Also times model loading and per-draft latency on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from pathlib import Path

from countersignal.review import review_article
from countersignal.review.evaluation import evaluate, load_language, micro, table
from countersignal.review.nlp import english_pipeline, russian_pipeline

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "review" / "corpus"
DOC = ROOT / "docs" / "evaluation.md"
BEGIN, END = "<!-- review:begin -->", "<!-- review:end -->"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/evaluation.md")
    args = parser.parse_args()

    load_en = _timed(english_pipeline)
    load_ru = _timed(russian_pipeline)
    items = load_language(CORPUS, "en") + load_language(CORPUS, "ru")
    result = evaluate(items)  # also warms every cache
    latency = {}
    for lang in ("en", "ru"):
        texts = [i.text for i in items if i.language == lang]
        runs = [_timed(lambda t=t, lang=lang: review_article(t, language=lang)) for t in texts]
        latency[lang] = (statistics.median(runs) * 1000, max(runs) * 1000, len(texts))
    counts = {
        lang: {
            split: sum(i.language == lang and i.split == split for i in items)
            for split in ("dev", "heldout", "accountability", "heldout_accountability")
        }
        for lang in ("en", "ru")
    }
    flagged = sum(len(v) for v in result.accountability_flags.values())
    held_flagged = sum(len(v) for v in result.heldout_accountability_flags.values())
    lines = [
        "## Responsible-reporting review",
        "",
        "Reproduce: `.venv/bin/python bench/eval_review.py --write` "
        f"(machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        "Corpus: `tests/review/corpus/{en,ru}*.yaml`, short synthetic drafts written for the "
        "project, each file before the tuning it was used for (the round-by-round history is in "
        "`docs/review.md`). "
        + "; ".join(
            f"{lang}: {c['dev']} tuning drafts, {c['heldout']} held-out drafts, "
            f"{c['accountability']} accountability pieces (+{c['heldout_accountability']} "
            "held out)"
            for lang, c in counts.items()
        )
        + ". Precision is strict: a rule firing on any draft not written for it (other rules' "
        "drafts included) is a false positive, unless the draft lists it in `allow`. "
        "Near-miss FP counts the rule's own near-misses that fired. Held-out drafts were never "
        "looked at while tuning; their numbers are the honest estimate, on few items.",
        "",
        table(result),
        "",
        "All rules pooled (micro-averaged): "
        + "; ".join(
            f"{lang} {split}: P {m.precision:.2f}, R {m.recall:.2f} "
            f"({m.tp} TP, {m.fp} FP, {m.fn} FN)"
            for lang in ("en", "ru")
            for split in ("dev", "heldout")
            if (m := micro(result, lang, split)).precision is not None and m.recall is not None
        )
        + ".",
        "",
        f"Accountability reporting (criticism of police and governments, disputed official "
        f"figures, failed operations reported afterwards): "
        f"{sum(result.accountability_items.values())} pieces, "
        f"{flagged} caution or serious findings; held-out accountability pieces: "
        f"{sum(result.heldout_accountability_items.values())} pieces, "
        f"{held_flagged} caution or serious findings"
        + "".join(
            f"; {lang}: " + "; ".join(flags)
            for lang, flags in sorted(result.heldout_accountability_flags.items())
        )
        + ".",
        "",
        f"Model load (once per process): English {load_en:.1f} s, Russian {load_ru:.1f} s. "
        f"Per draft (median / max over the corpus drafts): English "
        f"{latency['en'][0]:.0f} / {latency['en'][1]:.0f} ms, Russian "
        f"{latency['ru'][0]:.0f} / {latency['ru'][1]:.0f} ms.",
    ]
    held_errors = [m for m in result.misses if "/heldout/" in m]
    if held_errors:
        lines += ["", "Held-out errors (not tuned on; listed so readers can judge them):", ""]
        lines += [f"- {m.replace(chr(10), ' ')}" for m in held_errors]
    section = "\n".join(lines)
    print(section)
    if args.write:
        _write_section(section)


def _write_section(section: str) -> None:
    block = f"{BEGIN}\n{section}\n{END}"
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        if BEGIN in current and END in current:
            pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
            updated = pattern.sub(lambda _: block, current)
        else:
            updated = current.rstrip() + "\n\n" + block + "\n"
    else:
        updated = "# Evaluation\n\n" + block + "\n"
    DOC.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
