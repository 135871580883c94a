"""Direct quotations and who they are attributed to.

Quote marks are paired per paragraph (“ ”, « », „ “, straight double quotes, Markdown ``>``
blocks). Attribution is read from the dependency parse: a speech verb outside the quote in the
same sentence, and its subject; a pronoun subject pulls in the previous sentence, which is
where a speaker is normally introduced. The lead-in text (what precedes the quote in its
sentence) is kept as well, because reporters often name the source there ("the attacker's
message read: ...").
"""

from __future__ import annotations

import re

from .analysis import Analysis, Quote, Token
from .lexicon import Lexicon

_PAIRED = re.compile(r"“[^“”\n]*”|«[^«»]*»|„[^„“”\n]*[“”]|\"[^\"\n]*\"")
_BLOCK = re.compile(r"(?m)^>[ \t]?(.+)$")
_PRONOUNS = {"he", "she", "they", "it", "он", "она", "они", "оно"}
_SUBJECT_DEPS = {"nsubj", "nsubjpass", "nsubj:pass"}


def find_quotes(analysis: Analysis, speech_verbs: Lexicon) -> list[Quote]:
    text = analysis.text
    quotes: list[Quote] = []
    for m in _PAIRED.finditer(text):
        inner = m.group(0)[1:-1]
        words = len(re.findall(r"\w+", inner))
        if words == 0:
            continue
        quotes.append(Quote(m.start(), m.end(), m.start() + 1, m.end() - 1, words))
    for m in _BLOCK.finditer(text):
        if any(q.start <= m.start(1) < q.end for q in quotes):
            continue
        words = len(re.findall(r"\w+", m.group(1)))
        quotes.append(Quote(m.start(), m.end(), m.start(1), m.end(1), words))
    quotes.sort(key=lambda q: q.start)
    for q in quotes:
        _attribute(analysis, q, speech_verbs)
    return quotes


def _attribute(analysis: Analysis, quote: Quote, speech_verbs: Lexicon) -> None:
    first = analysis.sentence_at(quote.start) or analysis.sentence_at(quote.inner_start)
    last = analysis.sentence_at(max(quote.end - 1, quote.start)) or first
    if first is None or last is None:
        return
    start, end = first.start, last.end
    outside = [
        t for t in analysis.tokens_between(start, end) if not quote.start <= t.start < quote.end
    ]
    spans = [(start, quote.start), (quote.end, end)]
    speaker: tuple[int, int] | None = None
    for tok in outside:
        if tok.pos in ("VERB", "AUX", "") and speech_verbs.hits_token(tok):
            speaker = _subject_span(analysis, tok, outside)
            if speaker:
                break
    speaker_text = analysis.text[speaker[0] : speaker[1]].lower() if speaker else ""
    lead_in = analysis.text[start : quote.start].strip()
    if speaker_text in _PRONOUNS or (not speaker and not lead_in):
        index = analysis.sentences.index(first)
        if index > 0 and analysis.sentences[index - 1].paragraph == first.paragraph:
            previous = analysis.sentences[index - 1]
            spans.insert(0, (previous.start, previous.end))
    quote.speaker = speaker
    quote.attribution = [(s, e) for s, e in spans if e > s]


def _subject_span(analysis: Analysis, verb: Token, outside: list[Token]) -> tuple[int, int] | None:
    allowed = {t.i for t in outside}
    for child in analysis.children(verb):
        if child.dep in _SUBJECT_DEPS and child.i in allowed:
            span = [t for t in analysis.subtree(child) if t.i in allowed] or [child]
            return span[0].start, span[-1].end
    if analysis.has_parser:
        return None
    before = [t for t in outside if t.i < verb.i and t.is_word][-4:]
    return (before[0].start, before[-1].end) if before else None
