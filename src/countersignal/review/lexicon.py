"""Phrase lexicons matched on word forms and lemmas, per language.

An entry is a phrase of words; a word matches a token when it equals the token's normalised
form or its lemma, and a word ending in ``*`` matches any token that starts with it. For
Russian the entry's own words are lemmatised too, so lexicons can be written in natural forms
("занимают позиции" matches "заняли позицию"). Punctuation between words is ignored.
A token that is part of a person's name matches only the words as written, never through a
lemma: lemmatisers conflate names with common nouns ("Льва" -> "лев" = the lemma of "львы").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .analysis import Analysis, Sentence, Token, norm_word


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # character offsets
    end: int
    first: int  # token indices (inclusive first, exclusive last)
    last: int
    phrase: str


@dataclass(frozen=True, slots=True)
class _Word:
    forms: frozenset[str]  # the written form and its lemma
    prefix: str | None
    written: frozenset[str] = frozenset()  # the written form only (what names may match)


class Lexicon:
    """A compiled list of phrases; ``match`` finds them in token sequences."""

    def __init__(
        self, phrases: Iterable[str], lemmatize: Callable[[str], str] | None = None
    ) -> None:
        self.phrases: list[tuple[str, tuple[_Word, ...]]] = []
        for phrase in phrases:
            words = []
            for raw in phrase.split():
                if raw.endswith("*") and len(raw) > 1:
                    words.append(_Word(frozenset(), norm_word(raw[:-1]).replace("ё", "е")))
                    continue
                for part in _split_word(raw):
                    forms = {part}
                    if lemmatize is not None:
                        forms.add(lemmatize(part))
                    words.append(_Word(frozenset(forms), None, frozenset({part})))
            if words:
                self.phrases.append((phrase, tuple(words)))
        # Phrases by the forms of their first word, so a token only tries the phrases that can
        # start at it (linear in the draft, not draft x lexicon: long drafts stay fast).
        self._by_first_form: dict[str, list[int]] = {}
        self._prefix_first: list[int] = []
        for index, (_, pattern) in enumerate(self.phrases):
            if pattern[0].prefix is not None:
                self._prefix_first.append(index)
            for form in pattern[0].forms:
                self._by_first_form.setdefault(form, []).append(index)

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def match_tokens(self, tokens: list[Token]) -> list[Match]:
        words = [t for t in tokens if t.is_word]
        found: list[Match] = []
        for n, word in enumerate(words):
            starting = {
                *self._by_first_form.get(word.norm, ()),
                *self._by_first_form.get(word.lemma, ()),
                *self._prefix_first,
            }
            for index in sorted(starting):
                phrase, pattern = self.phrases[index]
                if n + len(pattern) > len(words):
                    continue
                if all(_word_ok(p, words[n + k]) for k, p in enumerate(pattern)):
                    first, last = words[n], words[n + len(pattern) - 1]
                    found.append(Match(first.start, last.end, first.i, last.i + 1, phrase))
        return _longest_first(found)

    def match_sentence(self, analysis: Analysis, sent: Sentence) -> list[Match]:
        return self.match_tokens(analysis.sentence_tokens(sent))

    def contains(self, tokens: list[Token]) -> bool:
        return bool(self.match_tokens(tokens))

    def hits_token(self, tok: Token) -> bool:
        return any(len(p) == 1 and _word_ok(p[0], tok) for _, p in self.phrases)


def _split_word(raw: str) -> list[str]:
    """'blood-soaked' -> ['blood', 'soaked']; "children's" -> ['children', 's']."""
    return [w.lower().replace("ё", "е") for w in re.findall(r"\w+", raw)]


def _word_ok(word: _Word, tok: Token) -> bool:
    if tok.in_name:  # a person's name: its written form only, no lemmas either side
        return (
            tok.norm.startswith(word.prefix)
            if word.prefix is not None
            else (tok.norm in word.written)
        )
    if word.prefix is not None:
        return tok.norm.startswith(word.prefix) or tok.lemma.startswith(word.prefix)
    return tok.norm in word.forms or tok.lemma in word.forms


def _longest_first(found: list[Match]) -> list[Match]:
    """Drop matches contained in a longer match."""
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[Match] = []
    for m in found:
        if kept and kept[-1].start <= m.start and m.end <= kept[-1].end:
            continue
        kept.append(m)
    return kept
