"""The responsible-reporting review fed hostile drafts (HTML, Markdown, control characters,
mixed scripts, pathological nesting): a report or a clear error, each in bounded time."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from countersignal.errors import ContentTooLarge, CountersignalError
from countersignal.review import review_article
from countersignal.review.service import warm_up
from countersignal.settings import get_settings
from fuzz.budget import fuzz_settings

PIECES = st.sampled_from([
    "<p>", "</p>", "<script>alert(1)</script>", "<b><i><u>", "&amp;", "&#0;", "&#x110000;",
    "&nosuch;", "<!--", "-->", "<![CDATA[", "# ", "**", "[a](javascript:alert(1))", "\n\n",
    "\u202e", "\u200b", "\x00", "\ufeff", "\ud7ff", "ИГИЛ", "الدولة", "ISIS", " killed ", "42",
    " attacker ", '"', "«", "»", "<a href='x'>", "</a>", "<img src=x onerror=alert(1)>",
    "<style>", "</style>", "<", ">", "```",
])


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()  # model loading is not what is being timed


@fuzz_settings(examples=120, deadline_ms=5000)
@given(st.lists(PIECES | st.text(max_size=30), max_size=60).map("".join),
       st.sampled_from(["auto", "text", "markdown", "html"]))
def test_any_draft_gets_a_report_or_a_clear_error(draft: str, fmt: str) -> None:
    try:
        report = review_article(draft, fmt=fmt)
    except CountersignalError as exc:
        assert 400 <= exc.http_status < 500
        return
    for finding in report.findings:
        assert 0 <= finding.start <= finding.end <= len(report.text)


def _seconds(draft: str) -> float:
    started = time.monotonic()
    review_article(draft)
    return time.monotonic() - started


def test_pathological_drafts_are_bounded_and_scale_linearly() -> None:
    """Hostile shapes at 40 000 characters in bounded time, and 4x the text costing at most
    ~4x the time (no quadratic step hidden behind the size limit)."""
    size = 40_000
    drafts = {
        "deep html": "<div>" * (size // 12) + "x" + "</div>" * (size // 12),
        "one long word": "a" * size,
        "markdown nesting": "> " * (size // 2),
        "entity soup": "&amp;&#0;&nosuch;" * (size // 17),
    }
    for name, draft in drafts.items():
        assert _seconds(draft) < 20, name
    small, large = _seconds("He was killed. " * 625), _seconds("He was killed. " * 2500)
    assert large < 6 * small + 2, (small, large)
    limit = get_settings().limits.max_review_chars
    with pytest.raises(ContentTooLarge):
        review_article("x" * (limit + 1))


def test_letters_without_a_unicode_name_in_a_russian_draft() -> None:
    """Found by the fuzzer: pymorphy3 raised ValueError (unicodedata.name) on letters such
    as U+17000 inside a Russian draft, which the API answered with a 500."""
    report = review_article("Полиция сообщила о задержании подозреваемого. \U00017000слово",
                            language="ru")
    assert "\U00017000" in report.text
