"""Rule 16: hoaxes and threats: code words, lists of possible targets, hoax details."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..analysis import Analysis, Sentence
from ..lexicon import Match
from .base import Context, Hit, detector
from .common import enumeration_size

_SINGLE_QUOTED = re.compile(r"\s*['‘]([^'’\n]{1,40})['’]")


@detector("code_word_disclosed", lexicons=("code_word",))
def code_word_disclosed(ctx: Context) -> Iterator[Hit]:
    """A code word mentioned together with a quotation in the same sentence, i.e. given; or
    the word itself right after the mention, in single quotes or capitalised ("the code phrase
    Red Orchard", "кодовое слово Красный сад")."""
    a = ctx.analysis
    for sent in a.sentences:
        found = ctx.lex("code_word").match_sentence(a, sent)
        if not found:
            continue
        for q in a.quotes:
            if sent.start <= q.start < sent.end and q.words <= 6:
                yield Hit(q.start, q.end, "publishes the code word used to verify warnings", 0.9)
                break
        else:
            given = _given_after(a, found, sent)
            if given is not None:
                yield Hit(*given, "publishes the code word used to verify warnings", 0.85)


def _given_after(a: Analysis, found: list[Match], sent: Sentence) -> tuple[int, int] | None:
    """The code word itself right after a mention of one, if it is given there."""
    for m in found:
        single = _SINGLE_QUOTED.match(a.text, m.end, sent.end)
        if single:
            return single.start(1) - 1, single.end()
        nxt = a.tokens[m.last] if m.last < sent.last else None
        if nxt is not None and nxt.is_word and nxt.text[:1].isupper():
            return nxt.start, nxt.end
    return None


@detector("target_list", lexicons=("target_cues", "threat_context", "security_measures"))
def target_list(ctx: Context) -> Iterator[Hit]:
    """Three or more places listed as targets (`target_cues`) in a sentence about a threat or
    hoax (`threat_context`), not a report of security being stepped up."""
    a = ctx.analysis
    for sent in a.sentences:
        if not ctx.sentence_has("target_cues", sent) or ctx.sentence_has("security_measures", sent):
            continue
        if not ctx.sentence_has("threat_context", sent):
            continue
        size = enumeration_size(a.sentence_text(sent))
        if size >= 3:
            yield Hit(sent.start, sent.end, f"lists {size} possible targets of a threat", 0.8)


@detector("hoax_details", lexicons=("hoax", "hoax_details"))
def hoax_details(ctx: Context) -> Iterator[Hit]:
    """A hoax or threat retold with its details (where the 'device' is, when it 'goes off')."""
    a = ctx.analysis
    for sent in a.sentences:
        if ctx.sentence_has("hoax", sent):
            details = ctx.lex("hoax_details").match_sentence(a, sent)
            if details:
                yield Hit(
                    sent.start, sent.end, f"repeats the hoax's details (“{details[0].phrase}”)", 0.7
                )
