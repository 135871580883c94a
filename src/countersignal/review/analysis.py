"""The language-neutral view of a draft that every detector reads.

Each NLP backend (spaCy for English, natasha + pymorphy3 for Russian, a regex fallback for the
rest) fills the same small structures, so one detector works for every language it has lexicons
for. Offsets are character offsets into ``Analysis.text`` (the text the report refers to).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class Token:
    """One token with the morphology and syntax the detectors need (UD conventions)."""

    i: int
    start: int
    end: int
    text: str
    norm: str  # lower-case, stripped of non-word characters ("'s" -> "s")
    lemma: str  # lower-case lemma; equals norm when no lemmatiser ran
    pos: str  # UD part of speech ("" when unknown)
    dep: str = ""  # UD relation to head, lower-case ("" when no parser ran)
    head: int = -1  # index of the head token; -1 for a root or when no parser ran
    tense: str | None = None  # "Pres", "Past", "Fut" for the clause this verb heads
    passive: bool = False
    verbform: str | None = None  # UD VerbForm: Fin, Inf, Part, Ger, Conv
    sent: int = 0
    in_name: bool = False  # a proper noun inside a PERSON entity (set by Analysis)

    @property
    def is_word(self) -> bool:
        return bool(self.norm)


@dataclass(slots=True)
class Span:
    start: int
    end: int
    label: str = ""


@dataclass(slots=True)
class Sentence:
    start: int
    end: int
    first: int  # first token index
    last: int  # one past the last token index
    paragraph: int = 0


@dataclass(slots=True)
class Quote:
    """A direct quotation: ``start``/``end`` include the marks, ``inner`` excludes them."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    words: int
    attribution: list[tuple[int, int]] = field(default_factory=list)  # lead-in, tail, context
    speaker: tuple[int, int] | None = None  # subject of the speech verb, when one was found


@dataclass(slots=True)
class Link:
    start: int  # span in the analysed text that carries the link (URL or anchor text)
    end: int
    url: str


@dataclass
class Analysis:
    """Everything known about a draft; detectors only read it."""

    text: str
    language: str
    tokens: list[Token]
    sentences: list[Sentence]
    entities: list[Span]  # labels: PERSON, ORG, LOC, NORP, and numeric kinds
    headline: Span | None = None
    quotes: list[Quote] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    embeds: list[Link] = field(default_factory=list)
    has_parser: bool = False
    has_entities: bool = False
    _token_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._token_starts = [t.start for t in self.tokens]
        # Names are not vocabulary: lexicons match them only by their written form, never
        # through a lemma ("Лев", "Льва" are a man's name, not "львы"; "Вера" is not "вера").
        for ent in self.entities:
            if ent.label == "PERSON":
                for tok in self.tokens_between(ent.start, ent.end):
                    if tok.pos == "PROPN" or (not tok.pos and tok.text[:1].isupper()):
                        tok.in_name = True

    # -- navigation -------------------------------------------------------------------------
    def sentence_tokens(self, sent: Sentence) -> list[Token]:
        return self.tokens[sent.first : sent.last]

    def sentence_text(self, sent: Sentence) -> str:
        return self.text[sent.start : sent.end]

    def tokens_between(self, start: int, end: int) -> list[Token]:
        lo = bisect.bisect_left(self._token_starts, start)
        out = []
        for tok in self.tokens[lo:]:
            if tok.start >= end:
                break
            out.append(tok)
        return out

    def sentence_at(self, offset: int) -> Sentence | None:
        for sent in self.sentences:
            if sent.start <= offset < sent.end:
                return sent
        return None

    def quote_at(self, start: int, end: int) -> Quote | None:
        for q in self.quotes:
            if q.inner_start <= start and end <= q.inner_end:
                return q
        return None

    def quote_attribution_tokens(self, quote: Quote) -> list[Token]:
        out: list[Token] = []
        for start, end in quote.attribution:
            out.extend(self.tokens_between(start, end))
        return out

    def quote_speaker_tokens(self, quote: Quote) -> list[Token]:
        return self.tokens_between(*quote.speaker) if quote.speaker else []

    def in_headline(self, start: int) -> bool:
        return self.headline is not None and self.headline.start <= start < self.headline.end

    def children(self, tok: Token) -> Iterator[Token]:
        sent = self.sentences[tok.sent]
        for other in self.tokens[sent.first : sent.last]:
            if other.head == tok.i and other.i != tok.i:
                yield other

    def subtree(self, tok: Token) -> list[Token]:
        """Tokens dominated by ``tok`` (inclusive), in order."""
        sent = self.sentences[tok.sent]
        members = {tok.i}
        changed = True
        toks = self.tokens[sent.first : sent.last]
        while changed:
            changed = False
            for other in toks:
                if other.i not in members and other.head in members and other.head != other.i:
                    members.add(other.i)
                    changed = True
        return [t for t in toks if t.i in members]

    def tree_path(self, a: Token, b: Token) -> list[Token] | None:
        """Tokens on the dependency path from ``a`` to ``b`` (both ends included)."""
        if not self.has_parser or a.sent != b.sent:
            return None

        def ancestors(tok: Token) -> list[Token]:
            chain = [tok]
            seen = {tok.i}
            while chain[-1].head >= 0 and chain[-1].head not in seen:
                nxt = self.tokens[chain[-1].head]
                seen.add(nxt.i)
                chain.append(nxt)
            return chain

        up_a, up_b = ancestors(a), ancestors(b)
        index_b = {t.i: n for n, t in enumerate(up_b)}
        for n, tok in enumerate(up_a):
            if tok.i in index_b:
                return up_a[: n + 1] + list(reversed(up_b[: index_b[tok.i]]))
        return None


def norm_word(text: str) -> str:
    """The matching form of a token: lower-case word characters only."""
    return "".join(WORD_RE.findall(text.lower()))
