"""Text normalisation for name matching, in three strengths.

* ``normalise`` — case, diacritics, Arabic letter variants and marks, apostrophes and
  punctuation folded; characters are only mapped one-to-one or deleted, so a position in the
  normalised text maps back to the original from the deleted positions alone.
* ``skeleton`` — the normalised text reduced to consonants (vowels, h, w, y dropped; q/c/k and
  p/f, s/z merged; doubled letters collapsed; Cyrillic mapped onto the Latin consonants), so
  common transliterations (Qaida/Qaeda/Kaida, Mohammed/Muhammad, Аль-Каида) share one key.
  Spaces are kept one for one, so the n-th word of a skeleton is the n-th word of its source.
* ``soft`` — a comparison form (transliterated, vowel classes merged, spaces dropped) used by
  the fuzzy check on candidates only, where speed does not matter.

``normalise`` and ``skeleton`` are ``str.translate`` plus one regex, fast enough to scan
megabytes per second.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DELETE = None
_APOSTROPHES = "'`´‘’‛′ʹʻʼʽʾʿˈ"
_ZERO_WIDTH = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u0640"  # incl. Arabic tatweel
_ARABIC_FOLD = {
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
    "ة": "ه", "ۀ": "ه", "ى": "ي", "ی": "ي", "ې": "ي", "ئ": "ي", "ؤ": "و", "ک": "ك",
    "ڪ": "ك", "گ": "ك",
}
_LATIN_EXTRA = {"ß": "s", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l",
                "ı": "i", "æ": "a", "Æ": "a", "œ": "o", "Œ": "o", "þ": "t", "ð": "d"}
_CYRILLIC_FOLD = {"ё": "е", "й": "и"}
_RANGES = (
    range(0x0000, 0x0530), range(0x0600, 0x0700), range(0x0750, 0x0780),
    range(0x1E00, 0x1F00), range(0x2000, 0x2070),
)


def _normal_char(ch: str) -> str | None:
    if ch in _APOSTROPHES or ch in _ZERO_WIDTH:
        return _DELETE
    if ch in _ARABIC_FOLD:
        return _ARABIC_FOLD[ch]
    if ch in _LATIN_EXTRA:
        return _LATIN_EXTRA[ch]
    category = unicodedata.category(ch)
    if category == "Mn":  # combining marks, Arabic harakat, superscript alef
        return _DELETE
    if category.startswith("N") and ch.isdigit():
        return str(unicodedata.digit(ch, 0)) if unicodedata.digit(ch, None) is not None else " "
    if not category.startswith("L"):
        return " "
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    base = base.lower()
    base = _CYRILLIC_FOLD.get(base, base)
    return base if len(base) == 1 else ch.lower()[:1] or " "


# Tables are lists indexed by code point: ``str.translate`` looks each character up, and a
# list index is several times faster than a dict miss (characters past the end map to
# themselves).
_TABLE_SIZE = 0x2070
NORMAL_TABLE: list[str | None] = [chr(cp) for cp in range(_TABLE_SIZE)]
for _range in _RANGES:
    for _cp in _range:
        NORMAL_TABLE[_cp] = _normal_char(chr(_cp))

# Skeleton: applied to normalised text.
_SKELETON_DROP = "aeiouyhw" + "аеиоуыэюяьъ" + "اويء"
_SKELETON_MAP = {
    "q": "k", "c": "k", "p": "f", "z": "s",
    "б": "b", "в": "v", "г": "g", "д": "d", "ж": "s", "з": "s", "к": "k", "л": "l", "м": "m",
    "н": "n", "п": "f", "р": "r", "с": "s", "т": "t", "ф": "f", "х": "k", "ц": "s", "ч": "k",
    "ш": "s", "щ": "s",
}
SKELETON_TABLE: list[str | None] = [chr(cp) for cp in range(_TABLE_SIZE)]
for _ch in _SKELETON_DROP:
    SKELETON_TABLE[ord(_ch)] = _DELETE
for _ch, _to in _SKELETON_MAP.items():
    SKELETON_TABLE[ord(_ch)] = _to
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)
_REPEATED_LETTERS = re.compile(r"(?<=([^ ]))\1+")  # drop repeats after the first


def normalise(text: str) -> str:
    """Fold case, marks and punctuation; only deletes or maps single characters."""
    return text.translate(NORMAL_TABLE)


def skeleton(normalised: str) -> str:
    """Consonant skeleton of normalised text; keeps every space, so words line up."""
    return _REPEATED_LETTERS.sub("", normalised.translate(SKELETON_TABLE))


_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "",
    "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}
_TRANSLITERATE = str.maketrans({ord(k): v for k, v in _CYRILLIC_TO_LATIN.items()})
_SOFT_TABLE = str.maketrans({
    ord(" "): None, ord("e"): "i", ord("y"): "i", ord("o"): "u", ord("w"): "v", ord("q"): "k",
    ord("c"): "k", ord("p"): "f", ord("h"): None, ord("z"): "s",
})


_CYRILLIC_STYLE = (
    (re.compile(r"(?<![sckztdgp])h"), "k"),  # Russian writes both h and kh as х
    (re.compile(r"j"), "dzh"),
    (re.compile(r"w"), "v"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"ts"), "s"),
)


def cyrillic_style(normalised_latin: str) -> str:
    """A Latin name spelled the way Russian transliterates it (h → х, j → дж, w → в), so its
    skeleton matches the skeleton of the Cyrillic spelling. Used for keys only."""
    for pattern, replacement in _CYRILLIC_STYLE:
        normalised_latin = pattern.sub(replacement, normalised_latin)
    return normalised_latin


_ARTICLE = re.compile(r"(?<![^ ])(?:el|ul|il|ad|ar|as|at|an|az)(?= )")  # al-, el-, ad-, as-…


@lru_cache(maxsize=65536)
def soft(normalised: str) -> str:
    """The comparison form of an already normalised string (for fuzzy checks only)."""
    latin = _ARTICLE.sub("al", normalised.translate(_TRANSLITERATE))
    return _REPEATS.sub(r"\1", latin.translate(_SOFT_TABLE))


_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufeff]")
_CYRILLIC = re.compile("[\u0400-\u052f]")


def script_of(text: str) -> str:
    """The script of a name: arabic or cyrillic when it has such letters, else latin."""
    if text.isascii():
        return "latin"
    arabic, cyrillic = len(_ARABIC.findall(text)), len(_CYRILLIC.findall(text))
    if arabic or cyrillic:
        return "arabic" if arabic >= cyrillic else "cyrillic"
    return "latin" if any(c.isalpha() and c < "\u0250" for c in text) else "other"
