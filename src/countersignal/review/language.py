"""Small offline language identification: script ratio, then stop-word hits.

Good enough to choose a pipeline for a news draft of a few sentences; it never leaves the
process and needs no model. Returns an ISO 639-1 code or ``"und"`` when unsure.
"""

from __future__ import annotations

import re

_STOPWORDS = {
    "en": "the of and to in is was that for on with as are by at from it this have has were be "
    "said not but which who they their after",
    "de": "der die das und ist nicht ein eine zu den mit von auf sich des dem im für wurde",
    "fr": "le la les et des est une un du dans que qui pour pas sur au avec ont été par",
    "es": "el la los las y de que en un una es por con para del se fue al como más",
    "it": "il la di che e un una per non sono del della con da nel è gli le",
    "pt": "o a os as de que e do da em um uma para com não foi por no na",
    "nl": "de het een en van is dat op te in niet met voor zijn was door",
    "ru": "и в не на что с по это как а но к из у за от для же он она они был была были "
    "также сказал",
    "uk": "і в не на що з та це як а але до від для він вона вони був була також",
}
_STOP = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SCRIPTS = (
    ("cyrillic", re.compile(r"[\u0400-\u04FF]")),
    ("latin", re.compile(r"[A-Za-z\u00C0-\u024F]")),
    ("arabic", re.compile(r"[\u0600-\u06FF]")),
    ("hebrew", re.compile(r"[\u0590-\u05FF]")),
    ("cjk", re.compile(r"[\u4E00-\u9FFF\u3040-\u30FF]")),
    ("greek", re.compile(r"[\u0370-\u03FF]")),
)
_SCRIPT_LANG = {"arabic": "ar", "hebrew": "he", "cjk": "zh", "greek": "el"}


def detect_language(text: str) -> tuple[str, float]:
    """(language code, confidence 0..1) for ``text``."""
    sample = text[:20000]
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPTS}
    letters = sum(counts.values())
    if not letters:
        return "und", 0.0
    script, top = max(counts.items(), key=lambda kv: kv[1])
    share = top / letters
    if script in _SCRIPT_LANG:
        return _SCRIPT_LANG[script], round(share, 2)
    words = [w.lower() for w in _WORD.findall(sample)]
    if not words:
        return "und", 0.0
    candidates = (
        ("ru", "uk") if script == "cyrillic" else ("en", "de", "fr", "es", "it", "pt", "nl")
    )
    hits = {lang: sum(w in _STOP[lang] for w in words) for lang in candidates}
    # letters that exist in Ukrainian but not Russian settle that pair
    if script == "cyrillic" and re.search(r"[іїєґ]", sample, re.IGNORECASE):
        hits["uk"] += len(words) // 4 + 1
    best, best_hits = max(hits.items(), key=lambda kv: kv[1])
    if best_hits == 0:
        return ("ru" if script == "cyrillic" else "und"), 0.3 if script == "cyrillic" else 0.0
    ranked = sorted(hits.values(), reverse=True)
    margin = (ranked[0] - (ranked[1] if len(ranked) > 1 else 0)) / max(ranked[0], 1)
    coverage = min(1.0, best_hits / max(len(words), 1) * 3)
    return best, round(share * (0.5 + 0.5 * margin) * (0.5 + 0.5 * coverage), 2)
