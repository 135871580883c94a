"""Rule 12: instructional detail (quantities, ingredients, steps, ways past security)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Context, Hit, detector

_QUANTITY = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*-?\s*(?:kg|kilos?|kilograms?|kilogrammes?|g|grams?|grammes?|litres?|"
    r"liters?|l|ml|millilitres?|volts?|v|кг|килограмм\w*|грамм\w*|г|литр\w*|л|мл|вольт\w*)\b",
    re.IGNORECASE,
)


@detector(
    "instructional_detail",
    lexicons=("components", "steps", "bypass", "method", "weak_points", "policy"),
)
def instructional_detail(ctx: Context) -> Iterator[Hit]:
    """Sentences that combine how-to features: a quantity with a unit plus a component, two or
    more step markers with a component or three on their own, a way past a security measure
    with its method, or a described weak point. Policy talk about failures (`policy`) is not."""
    a = ctx.analysis
    for sent in a.sentences:
        if ctx.sentence_has("policy", sent):
            continue
        text = a.sentence_text(sent)
        components = {m.phrase for m in ctx.lex("components").match_sentence(a, sent)}
        steps = {m.phrase for m in ctx.lex("steps").match_sentence(a, sent)}
        quantity = bool(_QUANTITY.search(text))
        reasons = []
        if quantity and components:
            reasons.append("quantities of components")
        if len(steps) >= 3 or (len(steps) >= 2 and (components or quantity)):
            reasons.append("a sequence of steps")
        if _bypass_with_method(ctx, sent):
            reasons.append("how a security measure was got past")
        if ctx.sentence_has("weak_points", sent):
            reasons.append("a security weak point")
        if reasons:
            yield Hit(sent.start, sent.end, "gives " + " and ".join(reasons), 0.75)


def _bypass_with_method(ctx: Context, sent) -> bool:
    """'got past the detectors by hiding ...' / 'прошёл через рамки, спрятав ...'."""
    a = ctx.analysis
    method = ctx.lex("method")
    for m in ctx.lex("bypass").match_sentence(a, sent):
        after = a.tokens[m.last : sent.last][:10]
        for n, tok in enumerate(after):
            if tok.verbform == "Conv":
                return True
            if n and tok.pos == "VERB" and method.hits_token(after[n - 1]):
                return True
    return False
