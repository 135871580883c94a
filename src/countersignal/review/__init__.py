"""Responsible-reporting review: advice for journalists on a draft, before publication.

It advises the author only: it blocks nothing, reports no one, stores and sends nothing, and is
built not to flag accountability journalism. See docs/review.md.

    >>> from countersignal.review import review_article
    >>> report = review_article("Snipers are positioned on the roof as the siege continues.")
    >>> [f.rule_id for f in report.findings]
    ['ongoing_operation']
"""

from .catalogue import ReviewConfig, load_catalogue, load_config
from .model import DISCLAIMER, EntityMatch, Finding, ReviewReport, Severity
from .render import render_highlighted_html
from .service import review_article, warm_up

__all__ = [
    "DISCLAIMER",
    "EntityMatch",
    "Finding",
    "ReviewConfig",
    "ReviewReport",
    "Severity",
    "load_catalogue",
    "load_config",
    "render_highlighted_html",
    "review_article",
    "warm_up",
]
