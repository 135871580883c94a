"""Direct quotations and who they are attributed to.

Quote marks are paired per paragraph (“ ”, « », „ “, straight double quotes, Markdown ``>``
blocks). Attribution is read from the dependency parse: a speech verb outside the quote in the
same sentence, and its subject; a pronoun subject pulls in the previous sentence, which is
where a speaker is normally introduced. A speech verb inside a relative clause does not make
the clause's own nouns the speaker: a relative pronoun subject ("the negotiator, who spoke to
the gunman, said"), or a verb the parser hung inside a clause describing the sentence's subject
("an imam who preached at the same mosque as the attacker told us"), resolves to the noun the
clause modifies; a speech verb of the main clause is preferred to one in a relative clause.
The lead-in text (what precedes the quote in its
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
_RELATIVE_DEPS = {"relcl", "acl:relcl"}
# relative pronouns/determiners (English, Russian lemmas): they stand for the noun modified
_RELATIVE_WORDS = {"who", "whom", "whose", "which", "that", "который", "кто", "что", "чей"}


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
    embedded: tuple[int, int] | None = None  # from a speech verb inside a relative clause
    for tok in outside:
        if tok.pos in ("VERB", "AUX", "") and speech_verbs.hits_token(tok):
            clause_head = _relative_clause_head(analysis, tok)
            if clause_head is None:
                speaker = _subject_span(analysis, tok, outside)
                if speaker:
                    break
            elif embedded is None:
                embedded = _embedded_speaker(analysis, tok, clause_head, outside)
    speaker = speaker or embedded
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


def _relative_clause_head(analysis: Analysis, tok: Token) -> Token | None:
    """The noun modified by the relative clause ``tok`` sits in (None outside one)."""
    current, seen = tok, set()
    while current.head >= 0 and current.i not in seen:
        seen.add(current.i)
        if current.dep in _RELATIVE_DEPS:
            return analysis.tokens[current.head]
        current = analysis.tokens[current.head]
    return None


def _embedded_speaker(
    analysis: Analysis, verb: Token, clause_head: Token, outside: list[Token]
) -> tuple[int, int] | None:
    """The speaker for a speech verb inside a relative clause: the modified noun when the
    verb's subject is a relative pronoun or the clause describes the sentence's subject (the
    parser hung the main speech verb inside it); otherwise the verb's own subject ("the message
    the gunman wrote": the gunman)."""
    allowed = {t.i for t in outside}
    subject = next(
        (c for c in analysis.children(verb) if c.dep in _SUBJECT_DEPS and c.i in allowed), None
    )
    relative = subject is not None and (
        subject.lemma in _RELATIVE_WORDS or subject.norm in _RELATIVE_WORDS
    )
    # the modified noun is the sentence's subject, or the parser left it unattached ("dep",
    # a root): the clause describes who speaks; an object ("the note the gunman wrote") is not
    if relative or clause_head.dep in _SUBJECT_DEPS | {"dep", "root"} or clause_head.head < 0:
        span = [t for t in analysis.subtree(clause_head) if t.i in allowed] or [clause_head]
        return span[0].start, span[-1].end
    return _subject_span(analysis, verb, outside)
