"""HTML with the findings highlighted, for the web page: everything escaped, one ``<mark>``
per stretch of text, carrying the rule ids and a hover title."""

from __future__ import annotations

import html
from collections.abc import Sequence
from itertools import pairwise

from .model import Finding


def render_highlighted_html(text: str, findings: Sequence[Finding]) -> str:
    """``text`` (the report's ``text``) as escaped HTML with ``<mark>`` around findings.

    Overlapping findings are split into stretches; each stretch lists every rule that covers
    it (``data-rule``, space-separated) and shows the most severe one's severity.
    """
    bounds = {0, len(text)}
    spans = [f for f in findings if 0 <= f.start < f.end <= len(text)]
    for f in spans:
        bounds.update((f.start, f.end))
    points = sorted(bounds)
    out = ['<div class="cs-review-text">']
    for start, end in pairwise(points):
        piece = html.escape(text[start:end]).replace("\n", "<br>\n")
        covering = [f for f in spans if f.start <= start and end <= f.end]
        if not covering:
            out.append(piece)
            continue
        worst = max(covering, key=lambda f: (f.severity.rank, f.confidence))
        rules = " ".join(dict.fromkeys(f.rule_id for f in covering))
        title = " | ".join(dict.fromkeys(f"{f.rule_title}: {f.suggestion}" for f in covering))
        out.append(
            f'<mark class="cs-{worst.severity.value}" data-rule="{html.escape(rules)}" '
            f'data-severity="{worst.severity.value}" title="{html.escape(title)}">{piece}</mark>'
        )
    out.append("</div>")
    return "".join(out)
