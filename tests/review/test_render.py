"""Highlighted HTML for the web page."""

from __future__ import annotations

from countersignal.review import render_highlighted_html, review_article


def test_marks_findings_and_escapes_everything() -> None:
    text = 'Snipers are positioned on the roof now. It was carnage. <script>alert("x")</script>'
    report = review_article(text, fmt="text")
    html = render_highlighted_html(report.text, report.findings)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<mark class="cs-advice" data-rule="sensationalism"' in html
    assert 'data-rule="ongoing_operation"' in html and 'data-severity="serious"' in html
    assert 'title="No fear-mongering or sensationalism: Use plain' in html


def test_overlapping_findings_share_a_stretch_and_keep_the_worst_severity() -> None:
    text = "Carnage: snipers are positioned on the roof as the siege continues."
    report = review_article(text, fmt="text")
    assert {f.rule_id for f in report.findings} == {"sensationalism", "ongoing_operation"}
    html = render_highlighted_html(report.text, report.findings)
    assert 'data-rule="ongoing_operation sensationalism"' in html or (
        'data-rule="sensationalism ongoing_operation"' in html
    )
    assert 'data-severity="serious"' in html


def test_no_findings_gives_plain_escaped_text() -> None:
    assert render_highlighted_html("a < b\nc", []) == (
        '<div class="cs-review-text">a &lt; b<br>\nc</div>'
    )
