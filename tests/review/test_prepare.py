"""Input formats: what text is analysed and what offsets mean."""

from __future__ import annotations

import pytest

from countersignal.errors import InvalidInput
from countersignal.review.prepare import detect_format, prepare


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>Hello <strong>world</strong></p>", "html"),
        ("# Headline\n\nBody text.", "markdown"),
        ("See [the report](https://example.org/r.pdf).", "markdown"),
        ("Plain words, nothing else.", "text"),
        ("Prices rose 3 < 5 and 7 > 2.", "text"),
    ],
)
def test_detect_format(text: str, expected: str) -> None:
    assert detect_format(text) == expected


def test_html_visible_text_drops_scripts_and_maps_offsets_back() -> None:
    source = (
        "<html><head><title>T</title><script>var carnage = 1;</script></head><body>"
        "<h1>Siege &amp; aftermath</h1><p>Snipers are <b>positioned</b> on the roof.</p>"
        "<style>.x{}</style></body></html>"
    )
    prepared = prepare(source)
    assert prepared.fmt == "html"
    assert "carnage" not in prepared.text and "var" not in prepared.text
    assert prepared.text.startswith("Siege & aftermath")
    headline = prepared.headline
    assert headline is not None
    assert prepared.text[headline.start : headline.end] == "Siege & aftermath"
    word = prepared.text.index("positioned")
    src = prepared.source_offset(word)
    assert source[src : src + len("positioned")] == "positioned"
    # an entity reference maps to the reference in the markup
    amp = prepared.text.index("&")
    assert source[prepared.source_offset(amp)] == "&"
    assert source[prepared.source_offset(amp) : prepared.source_offset(amp) + 5] == "&amp;"


def test_html_embeds_become_visible_markers_and_links_keep_hrefs() -> None:
    source = (
        '<p>Read <a href="https://mega.nz/file/x">the file</a>.</p>'
        '<iframe src="https://video.example/embed/1"></iframe><p>After.</p>'
    )
    prepared = prepare(source)
    # the anchor's href, and the embed's URL (so a file-host embed is caught like a link)
    urls = [link.url for link in prepared.links]
    assert urls == ["https://mega.nz/file/x", "https://video.example/embed/1"]
    link = prepared.links[0]
    assert prepared.text[link.start : link.end] == "the file"
    embed = prepared.embeds[0]
    assert (
        prepared.text[embed.start : embed.end] == "[embedded media: https://video.example/embed/1]"
    )
    assert "After." in prepared.text.split("]", 1)[1]


def test_markdown_and_plain_headlines() -> None:
    md = prepare("# Gunman named\n\nBody.", "markdown")
    assert (
        md.headline is not None and md.text[md.headline.start : md.headline.end] == "Gunman named"
    )
    plain = prepare("SHOOTER NAMED\n\nThe man who opened fire was named.", "text")
    assert plain.headline is not None
    assert plain.text[plain.headline.start : plain.headline.end] == "SHOOTER NAMED"
    no_headline = prepare("One sentence. Another sentence.", "text")
    assert no_headline.headline is None


def test_unknown_format_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        prepare("text", "pdf")  # type: ignore[arg-type]
