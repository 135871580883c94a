"""A labelled evaluation set generated from a designation list, and its scoring.

Positives embed one designated name in a neutral sentence: as listed, re-cased, with
diacritics, with common transliteration changes (al-/el-, Qaida/Qaeda/Kaida, ou/u,
Mohammed/Muhammad, hyphens, ‘ ’ ' marks), with a light misspelling, in the original Arabic or
Cyrillic script (with Arabic spelling variants), and transliterated into Cyrillic. Hard
negatives are ordinary sentences with common names, the list's own weak aliases used as
ordinary words, and names that share all but one word with a designated name. Tests and
``bench/eval_entities.py`` both use this; nothing here is a hand-labelled corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from countersignal.classify.designations.parse import DesignationRecord
from countersignal.classify.entities.detector import EntityDetector, Mention, NamedDesignation
from countersignal.classify.entities.normalise import normalise, script_of, soft
from countersignal.classify.entities.vocabulary import is_weak_alias

TEMPLATES = {
    "latin": (
        "The report published on Tuesday mentioned {name} twice in its annex.",
        "According to the court filing, {name} was discussed at the meeting.",
        "Analysts said that {name} appeared in several archived documents.",
        "{name} was named in the statement, the newspaper wrote on Friday.",
        "A spokesperson declined to comment on {name} when asked by reporters.",
    ),
    "arabic": (
        "ذكر التقرير الذي نشر يوم الثلاثاء {name} مرتين في الملحق.",
        "وقال المتحدث إن {name} ورد في البيان الصادر أمس.",
        "أشار المحللون إلى {name} في عدد من الوثائق المؤرشفة.",
    ),
    "cyrillic": (
        "В докладе, опубликованном во вторник, дважды упоминается {name}.",
        "По словам аналитиков, {name} упоминался в нескольких документах.",
        "Представитель ведомства отказался комментировать {name} журналистам.",
    ),
}
NEUTRAL = {
    "latin": (
        "The weather service expects light rain over the coast on Sunday.",
        "Let me know whether the mid-season report covers youth football.",
        "The national bank said trading volumes rose in the third quarter.",
        "Our group will meet the council at the state library next week.",
    ),
    "arabic": (
        "تتوقع هيئة الأرصاد هطول أمطار خفيفة على الساحل يوم الأحد.",
        "قال البنك الوطني إن حجم التداول ارتفع في الربع الثالث.",
    ),
    "cyrillic": (
        "Синоптики ожидают небольшой дождь на побережье в воскресенье.",
        "Национальный банк сообщил о росте объёма торгов в третьем квартале.",
    ),
}
COMMON_NAMES = {
    "latin": ("Muhammad Ali", "Ali Hassan", "Abu Ahmad", "Omar Khan", "Ahmed Said",
              "Hassan Ibrahim", "Abdullah Yusuf", "Mustafa Kamal", "Maria Lopez", "John Smith"),
    "arabic": ("محمد علي", "عبد الله حسن", "أحمد سعيد", "حسن إبراهيم", "عمر خالد"),
    "cyrillic": ("Иван Петров", "Магомед Алиев", "Рустам Иванов", "Анна Смирнова",
                 "Ахмед Садыков"),
}
REPLACEMENT_NAMES = {
    "latin": ("Haddad", "Mansour", "Khoury", "Darwish", "Nasser", "Farouk", "Rahimi",
              "Hashimi", "Petrovic", "Lindqvist"),
    "arabic": ("حداد", "منصور", "الخوري", "درويش", "ناصر", "فاروق"),
    "cyrillic": ("Петров", "Смирнов", "Кузнецов", "Соколов", "Волков"),
}
_DIACRITICS = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ū", "A": "Á", "E": "É", "I": "Î"}
_LATIN_TO_CYRILLIC = (
    ("shch", "щ"), ("kh", "х"), ("gh", "г"), ("dh", "д"), ("th", "т"), ("ph", "ф"),
    ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("ts", "ц"),
    ("yu", "ю"), ("ya", "я"), ("ou", "у"), ("ee", "и"), ("a", "а"), ("b", "б"), ("c", "к"),
    ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "х"), ("i", "и"), ("j", "дж"),
    ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("q", "к"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"), ("w", "в"), ("x", "кс"),
    ("y", "й"), ("z", "з"), ("'", ""), ("’", ""),
)
_ARABIC_MARKS = "\u064e\u064f\u0650\u0652"


@dataclass(frozen=True)
class LabelledText:
    """One sentence; ``planted`` is the designated name in it, if any."""

    text: str
    script: str
    variant: str
    planted: tuple[int, int, str] | None  # start, end, reference


def named(records: Iterable[DesignationRecord], list_name: str) -> list[NamedDesignation]:
    """Records as the detector takes them (primary and original names as aliases)."""
    out = []
    for r in records:
        aliases = [(r.name, "primary")]
        if r.original_script_name:
            aliases.append((r.original_script_name, "original"))
        out.append(NamedDesignation(r.reference, r.name, r.kind, list_name,
                                    tuple(aliases) + r.aliases))
    return out


def _strong_latin_names(record: DesignationRecord) -> list[str]:
    names = [(record.name, "primary"), *record.aliases]
    return [n.strip('"“” ') for n, q in names
            if script_of(n) == "latin" and not is_weak_alias(" ".join(normalise(n).split()), q)
            and "/" not in n and "(" not in n]


def _display(name: str) -> str:
    """Names listed in capitals are written in title case in running text."""
    return name.title() if name.isupper() else name


def _transliterate(name: str, rng: random.Random) -> str:
    swaps = [("al-", rng.choice(("el-", "al ", "Al-", "ul-"))), ("Al-", "El-"), ("AL-", "Al "),
             ("Qa", "Ka"), ("qa", "ka"), ("ida", "eda"), ("Mohammed", "Muhammad"),
             ("Muhammad", "Mohamed"), ("Mohammad", "Muhammad"), ("ou", "u"), ("oo", "u"),
             ("ee", "i"), ("-", " "), ("Abdul ", "Abd al-"), ("Abd al-", "Abdul "),
             ("ai", "a’i"), ("Y", "I")]
    changed = name
    for old, new in rng.sample(swaps, len(swaps)):
        if old in changed:
            changed = changed.replace(old, new, 1)
            if rng.random() < 0.5:
                break
    return changed if changed != name else name.replace(" ", "-", 1)


def _misspell(name: str, rng: random.Random) -> str:
    positions = [i for i, c in enumerate(name) if c.lower() in "aeiou" and 0 < i < len(name) - 1]
    if not positions:
        return name
    i = rng.choice(positions)
    action = rng.choice(("swap", "double", "drop"))
    if action == "swap":
        return name[:i] + rng.choice([v for v in "aeiou" if v != name[i].lower()]) + name[i + 1:]
    if action == "double":
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1:]


def _to_cyrillic(name: str) -> str:
    out, i, lower = [], 0, name.lower()
    while i < len(lower):
        for latin, cyr in _LATIN_TO_CYRILLIC:
            if lower.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(lower[i])
            i += 1
    return "".join(out).title()


def _arabic_variant(name: str, rng: random.Random) -> str:
    changed = name.replace("ة", "ه").replace("أ", "ا").replace("إ", "ا").replace("ى", "ي")
    changed = changed.replace("عبد ال", "عبدال")
    letters = [i for i, c in enumerate(changed) if "\u0621" <= c <= "\u064a"]
    for i in sorted(rng.sample(letters, min(3, len(letters))), reverse=True):
        changed = changed[: i + 1] + rng.choice(_ARABIC_MARKS) + changed[i + 1:]
    return changed if changed != name else name + "\u0640"


def _sentence(script: str, name: str, rng: random.Random, variant: str,
              reference: str | None) -> LabelledText:
    template = rng.choice(TEMPLATES[script])
    start = template.index("{name}")
    text = template.replace("{name}", name)
    planted = (start, start + len(name), reference) if reference else None
    return LabelledText(text, script, variant, planted)


def generate(records: Sequence[DesignationRecord], *, seed: int = 0) -> list[LabelledText]:
    """The labelled set for ``records`` (deterministic for a seed)."""
    rng = random.Random(seed)
    samples: list[LabelledText] = []
    strong = {
        key for r in records
        for n, q in ((r.name, "primary"), (r.original_script_name or "", "original"), *r.aliases)
        if (key := " ".join(normalise(n.strip('"“” ')).split())) and not is_weak_alias(key, q)
    }
    strong_soft = sorted({soft(k) for k in strong})
    for record in records:
        ref = record.reference
        latin = _strong_latin_names(record)
        if latin:
            name = _display(rng.choice(latin))
            for variant, text in (
                ("exact", name),
                ("case", rng.choice((name.upper(), name.lower()))),
                ("diacritics", "".join(_DIACRITICS.get(c, c) if rng.random() < 0.3 else c
                                       for c in name)),
                ("transliteration", _transliterate(name, rng)),
                ("misspelling", _misspell(name, rng)),
            ):
                samples.append(_sentence("latin", text, rng, variant, ref))
            if len(name.split()) >= 2:
                samples.append(_sentence("cyrillic", _to_cyrillic(name), rng,
                                         "transliteration", ref))
            near = _near_miss(name, REPLACEMENT_NAMES["latin"], rng, strong)
            if near:
                samples.append(_sentence("latin", near, rng, "negative-near-miss", None))
        original = record.original_script_name
        script = script_of(original) if original else None
        if original and script in ("arabic", "cyrillic"):
            samples.append(_sentence(script, original, rng, "original", ref))
            if script == "arabic":
                samples.append(_sentence(script, _arabic_variant(original, rng), rng,
                                         "spelling-variant", ref))
            near = _near_miss(original, REPLACEMENT_NAMES[script], rng, strong)
            if near:
                samples.append(_sentence(script, near, rng, "negative-near-miss", None))
    weak_words = sorted({a.strip('"“” ') for r in records for a, q in r.aliases
                         if script_of(a) == "latin"
                         and is_weak_alias(" ".join(normalise(a).split()), q)})
    for word in weak_words:
        key = " ".join(normalise(word).split())
        if _contains(key, strong) or process.extractOne(
            soft(key), strong_soft, scorer=fuzz.ratio, score_cutoff=85
        ):
            continue  # the same name is also a strong alias: not a negative
        samples.append(_sentence("latin", _display(word.strip('"“” ')), rng,
                                 "negative-weak-alias", None))
    for script, names in COMMON_NAMES.items():
        for common in names:
            for _ in range(3):
                samples.append(_sentence(script, common, rng, "negative-common-name", None))
        for neutral in NEUTRAL[script]:
            samples.append(LabelledText(neutral, script, "negative-neutral", None))
    return samples


def _near_miss(name: str, replacements: Sequence[str], rng: random.Random,
               strong: set[str]) -> str | None:
    """``name`` with its longest word replaced by an unrelated surname, unless what is left
    still contains a strong alias (then it would not be a negative)."""
    words = name.split()
    if len(words) < 2:
        return None
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    words[longest] = rng.choice(replacements)
    candidate = " ".join(words)
    return None if _contains(" ".join(normalise(candidate).split()), strong) else candidate


def _contains(key: str, names: set[str]) -> bool:
    """Whether any run of whole words of ``key`` is one of ``names``."""
    tokens = key.split()
    return any(" ".join(tokens[i:j]) in names
               for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1))


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(detector: EntityDetector, samples: Sequence[LabelledText]) -> dict[str, dict]:
    """Precision and recall per script and per variant (a mention counts as correct when it
    overlaps the planted name and names its designation, directly or as a shared alias)."""
    counts: dict[str, list[int]] = {}
    for sample in samples:
        mentions = detector.find(sample.text)
        tp, fp, fn = _score(mentions, sample.planted)
        for key in (f"script:{sample.script}", f"variant:{sample.variant}", "all"):
            c = counts.setdefault(key, [0, 0, 0])
            c[0], c[1], c[2] = c[0] + tp, c[1] + fp, c[2] + fn
    return {key: {"tp": tp, "fp": fp, "fn": fn, "precision": Score(tp, fp, fn).precision,
                  "recall": Score(tp, fp, fn).recall}
            for key, (tp, fp, fn) in sorted(counts.items())}


def _score(mentions: list[Mention], planted: tuple[int, int, str] | None) -> tuple[int, int, int]:
    hit = 0
    for m in mentions:
        if planted and m.start < planted[1] and planted[0] < m.end and (
            planted[2] == m.designation_ref or planted[2] in m.also_refs
        ):
            hit = 1
    tp = hit
    fp = len(mentions) - hit
    fn = 1 if planted and not hit else 0
    return tp, fp, fn
