"""Rule 14: loaded labels used inconsistently within one piece."""

from __future__ import annotations

from collections.abc import Iterator

from ..lexicon import Match
from .base import Context, Hit, detector


@detector("inconsistent_labels", lexicons=("family_*", "attribution_markers"))
def inconsistent_labels(ctx: Context) -> Iterator[Hit]:
    """Actors called by labels from different families (`family_*` lexicons: terrorists,
    militants, rebels, ...) in the piece's own voice: outside quotes and outside sentences that
    attribute the label (`attribution_markers`: "what the group calls", "lists as")."""
    a = ctx.analysis
    families = {k: v for k, v in ctx.lexicons.items() if k.startswith("family_")}
    first_seen: dict[str, Match] = {}
    for sent in a.sentences:
        if ctx.sentence_has("attribution_markers", sent):
            continue
        found: list[tuple[str, Match]] = []
        for family, lexicon in families.items():
            found += [(family, m) for m in ctx.unquoted(lexicon.match_sentence(a, sent))]
        for family, m in sorted(found, key=lambda x: x[1].start):
            first_seen.setdefault(family, m)
    if len(first_seen) < 2:
        return
    ordered = sorted(first_seen.values(), key=lambda m: m.start)
    for m in ordered[1:]:
        yield Hit(
            m.start,
            m.end,
            f"calls the same actors “{m.phrase}” here but “{ordered[0].phrase}” earlier",
            0.6,
        )
