"""Rule 7: casualty figures and claims about who or why, without a source."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Sentence, Token
from ..lexicon import Lexicon, Match
from .base import Context, Hit, detector
from .common import sentence_neighbours, words_around


class FigureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: int = Field(5, ge=1, description="words between a number and a casualty word")
    max_path: int = Field(4, ge=1, description="or dependency edges between them")


# A number followed by one of these is a partitive, an age, a time or a distance, not a count.
_NOT_A_COUNT_AFTER = {
    "of", "year", "years", "hour", "hours", "minute", "minutes", "second", "seconds", "day",
    "days", "week", "weeks", "month", "months", "am", "pm", "metres", "meters", "miles", "km",
    "лет", "год", "года", "из", "час", "часа", "часов", "минут", "минуты", "день", "дня",
    "дней", "недели", "недель", "месяца", "месяцев", "метров", "километров",
}  # fmt: skip
# parts of speech that end a phrase or a clause, or take their own arguments; the adjacency
# fallback never reads a count across them
_CLAUSE_BREAKS = {"ADP", "PUNCT", "CCONJ", "SCONJ", "VERB", "AUX"}
_CLAUSE_DEPS = {"conj", "parataxis", "advcl", "ccomp"}
_PARENT_WORDS = {"father", "mother", "parent", "отец", "мать", "мама", "папа"}


def _is_count(a: Analysis, tok: Token) -> bool:
    """A number that counts people: not an age ("Tom Birch, 19,"; "aged 9"; "9-year-old"),
    a partitive ("two of the injured") or a time ("two hours later")."""
    if not (tok.pos == "NUM" or tok.norm.isdigit()):
        return False
    sent = a.sentences[tok.sent]
    following = [t for t in a.tokens[tok.i + 1 : sent.last] if t.is_word][:1]
    if following and following[0].norm in _NOT_A_COUNT_AFTER:
        return False
    if tok.i >= 2 and a.tokens[tok.i - 1].text == "," and a.tokens[tok.i - 2].pos == "PROPN":
        return False
    before = [t.lemma for t in a.tokens[max(sent.first, tok.i - 2) : tok.i]]
    if _PARENT_WORDS & set(before):  # "father of two", "отец двоих детей"
        return False
    return not (tok.i >= 1 and a.tokens[tok.i - 1].norm in ("aged", "age"))


def _counts_casualties(a: Analysis, count: Token, m: Match, max_path: int) -> bool:
    """Is the number joined to the casualty word without passing through a prepositional
    phrase or oblique ("in three villages", "в трёх сёлах"), which counts something else?"""
    path = a.tree_path(count, a.tokens[m.first])
    if path is None and a.has_parser:
        # a broken parse (the two words never meet: a cycle in the tree) falls back to the
        # words themselves: the count close before the casualty word, no preposition on it,
        # and nothing between them that ends a phrase or a clause (punctuation, a conjunction,
        # a verb): "оторвало конечности двум пассажирам, тела обуглились" counts passengers
        between = a.tokens[count.i + 1 : m.first]
        return (
            0 < m.first - count.i <= max_path
            and all(t.pos not in _CLAUSE_BREAKS for t in between)
            and (count.i == 0 or a.tokens[count.i - 1].pos != "ADP")
        )
    if path is None or len(path) - 1 > max_path or _crosses_clause(a, path):
        return False
    return not any(
        t.dep in ("pobj", "obl", "obl:tmod", "nmod")
        and t.i not in range(m.first, m.last)
        and any(c.dep in ("case", "prep") or c.pos == "ADP" for c in a.children(t))
        for t in path[1:]
        if t.i != count.i
    )


def _crosses_clause(a: Analysis, path: list[Token]) -> bool:
    """Does the path pass from one clause into another that has its own subject or is
    subordinate ("сорвало крыши двум автобусам, тела лежали": the count is the first clause's,
    the bodies the second's)? A conjoined verb that shares the subject keeps the clause
    ("twelve people were trapped and died")."""
    for x, y in pairwise(path):
        child = x if x.head == y.i else y if y.head == x.i else None
        if child is None or child.dep not in _CLAUSE_DEPS:
            continue
        if child.dep != "conj":
            return True
        if child.pos in ("VERB", "AUX") and any(
            c.dep.startswith("nsubj") for c in a.children(child)
        ):
            return True
    return False


def _quantified(a: Analysis, quantities: Lexicon, m: Match, max_path: int) -> bool:
    """A quantity word ("dozens", "несколько") joined to the casualty word the same way."""
    sent = a.sentences[a.tokens[m.first].sent]
    for q in quantities.match_sentence(a, sent):
        if _counts_casualties(a, a.tokens[q.first], m, max_path):
            return True
    return False


def _attributed(ctx: Context, sent: Sentence) -> bool:
    """Attribution in the sentence or its neighbours in the paragraph (outside quotes)."""
    a = ctx.analysis
    return any(
        ctx.unquoted(ctx.lex("attribution").match_sentence(a, s))
        for s in sentence_neighbours(a, sent)
    )


@detector(
    "unattributed_casualty_figures",
    lexicons=("casualty", "quantities", "attribution"),
    params=FigureParams,
)
def unattributed_casualty_figures(ctx: Context) -> Iterator[Hit]:
    """A number of dead, injured or hostages with no source (`attribution`) in the sentence or
    the sentences beside it. Disputes of official figures carry their own attribution. With a
    parse, the number (or a `quantities` word) must be joined to the casualty word without
    passing through a prepositional phrase ("bodies ... in three villages" counts villages);
    without one, a word window is used."""
    a: Analysis = ctx.analysis
    params: FigureParams = ctx.params  # type: ignore[assignment]
    for sent in a.sentences:
        counts = [t for t in a.sentence_tokens(sent) if _is_count(a, t)]
        for m in ctx.unquoted(ctx.lex("casualty").match_sentence(a, sent)):
            near = words_around(a, m.first, m.last, params.window)
            linked = any(_counts_casualties(a, t, m, params.max_path) for t in counts)
            if a.has_parser:
                # the parse decides: a number near the casualty word but counting something
                # else ("bodies ... in three villages") is not a casualty figure
                if not (linked or _quantified(a, ctx.lex("quantities"), m, params.max_path)):
                    continue
            elif not (any(_is_count(a, t) for t in near) or ctx.lex("quantities").contains(near)):
                continue
            if _attributed(ctx, sent):
                break
            yield Hit(sent.start, sent.end, "gives a casualty figure without saying whose it is")
            break


@detector("unattributed_speculation", lexicons=("speculation", "cause", "attribution"))
def unattributed_speculation(ctx: Context) -> Iterator[Hit]:
    """Speculation (`speculation`: probably, is believed to) about who did it or why (`cause`)
    with no source for it."""
    a = ctx.analysis
    for sent in a.sentences:
        spec = ctx.unquoted(ctx.lex("speculation").match_sentence(a, sent))
        if not spec or not ctx.sentence_has("cause", sent) or _attributed(ctx, sent):
            continue
        yield Hit(
            sent.start,
            sent.end,
            f"speculates about who or why (“{spec[0].phrase}”) without a source",
            0.7,
        )
