"""Small helpers the detectors share: windows, entities, names, lists."""

from __future__ import annotations

import re

from ..analysis import Analysis, Sentence, Span, Token
from ..lexicon import Lexicon, Match

_RU_NAME_ENDINGS = (
    "ого", "его", "ому", "ему", "ыми", "ими", "ым", "им", "ом", "ем", "ой", "ей", "ую", "юю",
    "ая", "яя", "ов", "ев", "а", "я", "у", "ю", "е", "ы", "и", "ь",
)  # fmt: skip


def words_around(analysis: Analysis, first: int, last: int, n: int) -> list[Token]:
    """Up to ``n`` word tokens either side of tokens[first:last], within the same sentence."""
    sent = analysis.sentences[analysis.tokens[first].sent]
    before = [t for t in analysis.tokens[sent.first : first] if t.is_word][-n:] if n else []
    after = [t for t in analysis.tokens[last : sent.last] if t.is_word][:n] if n else []
    return before + after


def span_tokens(analysis: Analysis, span: Span) -> list[Token]:
    return analysis.tokens_between(span.start, span.end)


def head_of(tokens: list[Token]) -> Token | None:
    """The token of a span whose head lies outside it (the span's syntactic root)."""
    members = {t.i for t in tokens}
    for tok in tokens:
        if tok.head not in members:
            return tok
    return tokens[0] if tokens else None


def persons(analysis: Analysis) -> list[Span]:
    return [e for e in analysis.entities if e.label == "PERSON"]


def name_key(word: str, language: str) -> str:
    """A surname's matching key: Russian declension endings removed ("Велла" -> "велл")."""
    w = re.sub(r"\W", "", word.lower()).replace("ё", "е")
    if language == "ru":
        for ending in _RU_NAME_ENDINGS:
            if w.endswith(ending) and len(w) - len(ending) >= 3:
                return w[: -len(ending)]
    if language == "en" and w.endswith("s") and len(w) > 4 and word.endswith("'s"):
        return w[:-1]
    return w


def sentence_neighbours(analysis: Analysis, sent: Sentence) -> list[Sentence]:
    """The sentence itself and its neighbours within the same paragraph."""
    n = analysis.sentences.index(sent)
    out = [sent]
    for k in (n - 1, n + 1):
        if 0 <= k < len(analysis.sentences) and analysis.sentences[k].paragraph == sent.paragraph:
            out.append(analysis.sentences[k])
    return out


_LIST_SPLIT = re.compile(r",\s*|\s+(?:and|or|и|или)\s+|;\s*")


def enumeration_size(text: str, max_words: int = 6) -> int:
    """Length of the longest run of short comma/and-separated items in ``text``."""
    best = 0
    for clause in re.split(r"[:.!?]", text):
        run = 0
        for item in _LIST_SPLIT.split(clause):
            words = re.findall(r"\w+", item)
            if 0 < len(words) <= max_words:
                run += 1
                best = max(best, run)
            else:
                run = 1 if words and len(words) <= max_words * 2 else 0
    return best


def is_capitalised(tok: Token) -> bool:
    return bool(tok.text[:1].isupper())


_NEGATIONS = {"not", "never", "nt", "no", "не", "никогда", "ни"}


def declined(a: Analysis, match: Match, requests: Lexicon) -> bool:
    """Is the verb of a lexicon match negated ("never to show", "не показывать") or what
    someone is asked to do ("asked outlets to remove", "призвали показать")? Then the sentence
    reports a refusal or a request, not the act itself."""
    toks = a.tokens[match.first : match.last]
    verb = next((t for t in toks if t.pos in ("VERB", "AUX")), None)
    if verb is None:
        return False
    for child in a.children(verb):
        if child.dep == "neg" or (child.dep.startswith("advmod") and child.norm in _NEGATIONS):
            return True
    sent = a.sentences[verb.sent]
    before = [t for t in a.tokens[sent.first : match.first] if t.is_word][-2:]
    if any(t.norm in _NEGATIONS for t in before):
        return True
    return (
        verb.dep in ("xcomp", "ccomp")
        and verb.head >= 0
        and requests.hits_token(a.tokens[verb.head])
    )
