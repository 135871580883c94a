"""Rule 16: hoaxes and threats: code words, lists of possible targets, hoax details."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Context, Hit, detector
from .common import enumeration_size


@detector("code_word_disclosed", lexicons=("code_word",))
def code_word_disclosed(ctx: Context) -> Iterator[Hit]:
    """A code word mentioned together with a quotation in the same sentence, i.e. given."""
    a = ctx.analysis
    for sent in a.sentences:
        if not ctx.sentence_has("code_word", sent):
            continue
        for q in a.quotes:
            if sent.start <= q.start < sent.end and q.words <= 6:
                yield Hit(q.start, q.end, "publishes the code word used to verify warnings", 0.9)
                break


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
