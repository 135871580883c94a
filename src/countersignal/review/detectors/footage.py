"""Rule 4: an attacker's livestream or footage, embedded or described in detail."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Context, Hit, detector
from .common import declined

_TIMESTAMP = re.compile(r"\b\d{1,2}:\d{2}\b")


@detector(
    "footage_description",
    lexicons=("footage", "perpetrator", "description", "refusal", "requests", "court"),
)
def footage_description(ctx: Context) -> Iterator[Hit]:
    """A sentence about the attacker's own footage (`footage` + `perpetrator`) that shows or
    describes it (`description`, or a timestamp such as 2:31), unless it reports removal, a
    refusal to show it, or release by the police (`refusal`). A description verb that is
    negated or asked for (`requests`: "asked outlets never to show") is not showing it, and
    neither is one whose audience is a court (`court` among the verb's dependents: "shown to
    the jury", "показали присяжным", "played in court"): that reports evidence, not
    publication. A ban (`refusal` lists ban, запретить) is a refusal."""
    a = ctx.analysis
    for sent in a.sentences:
        if not ctx.sentence_has("footage", sent) or ctx.sentence_has("refusal", sent):
            continue
        if not ctx.sentence_has("perpetrator", sent) and not _refers_back(ctx, sent):
            continue
        cues = [
            m
            for m in ctx.unquoted(ctx.lex("description").match_sentence(a, sent))
            if not declined(a, m, ctx.lex("requests")) and not _to_court(ctx, m)
        ]
        if cues or _TIMESTAMP.search(a.sentence_text(sent)):
            what = f"“{cues[0].phrase}”" if cues else "a timestamp"
            yield Hit(sent.start, sent.end, f"describes or shows the attacker's footage ({what})")


def _to_court(ctx: Context, m) -> bool:
    """Is the describing verb's audience or place a court ("shown to the jury", "показали
    присяжным", "played in court", "исследовал в закрытом заседании")?"""
    a = ctx.analysis
    verb = next((t for t in a.tokens[m.first : m.last] if t.pos in ("VERB", "AUX")), None)
    if verb is None or not a.has_parser:
        return False
    court = ctx.lex("court")
    for child in a.children(verb):
        if child.dep.startswith(("nsubj", "obj", "dobj", "ccomp", "xcomp", "conj", "advcl")):
            continue  # what is shown, who shows it, or another clause
        if court.contains(a.subtree(child)):
            return True
    return False


def _refers_back(ctx: Context, sent) -> bool:
    """'The stream shows ...' after a sentence that named the attacker's stream."""
    a = ctx.analysis
    n = a.sentences.index(sent)
    return n > 0 and ctx.sentence_has("perpetrator", a.sentences[n - 1])
