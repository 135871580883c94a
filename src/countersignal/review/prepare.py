"""Turn the pasted draft (plain text, Markdown or HTML) into the text the review analyses.

Plain text and Markdown are analysed as they are, so every offset points into the input.
HTML is parsed with the standard library's tokenising parser (nothing is executed or fetched);
the analysed text is the visible text, block elements become blank lines, scripts and styles are
dropped, and embedded media become a visible ``[embedded media: URL]`` marker so that findings
can point at them. ``source_offset`` maps an offset in the visible text back to the HTML.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

from countersignal.errors import InvalidInput

from .analysis import Link, Span

Format = Literal["auto", "markdown", "text", "html"]

HTML_HINT = re.compile(
    r"<(?:p|div|h[1-6]|br|iframe|a|span|article|section|blockquote|html|body|embed|video|"
    r"figure|ul|ol|li|strong|em)\b[^>]*>",
    re.IGNORECASE,
)
MARKDOWN_HINT = re.compile(r"(?m)^(?:#{1,6} \S|> \S|[-*+] \S)|\[[^\]\n]+\]\([^)\s]+\)")
URL_RE = re.compile(r"\bhttps?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)

BLOCK_TAGS = {
    "p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote",
    "article", "section", "header", "footer", "figure", "figcaption", "table", "tr", "td", "th",
    "pre", "hr", "aside", "main", "nav", "caption", "dd", "dt",
}  # fmt: skip
HIDDEN_TAGS = {"script", "style", "template", "noscript", "head", "title", "svg", "math"}
EMBED_TAGS = {"iframe", "embed", "video", "object", "audio", "source"}
VOID_TAGS = {"br", "hr", "img", "embed", "source", "input", "meta", "link", "wbr", "col", "area"}


@dataclass
class Prepared:
    """The analysed text and what the markup told us about it."""

    text: str
    fmt: Literal["markdown", "text", "html"]
    headline: Span | None = None
    links: list[Link] = field(default_factory=list)
    embeds: list[Link] = field(default_factory=list)
    # (visible offset, source offset) pairs for HTML; empty when offsets already match
    offset_map: list[tuple[int, int]] = field(default_factory=list)

    def source_offset(self, offset: int) -> int:
        """Offset in the caller's original input for an offset in ``text``."""
        if not self.offset_map:
            return offset
        keys = [v for v, _ in self.offset_map]
        n = bisect.bisect_right(keys, offset) - 1
        if n < 0:
            return 0
        visible, source = self.offset_map[n]
        return source + (offset - visible)


def detect_format(text: str) -> Literal["markdown", "text", "html"]:
    if HTML_HINT.search(text):
        return "html"
    if MARKDOWN_HINT.search(text):
        return "markdown"
    return "text"


def prepare(text: str, fmt: Format = "auto") -> Prepared:
    """Normalise the draft for analysis; see the module docstring for what offsets mean."""
    if fmt not in ("auto", "markdown", "text", "html"):
        raise InvalidInput(f"unknown format {fmt!r}; use auto, markdown, text or html")
    chosen = detect_format(text) if fmt == "auto" else fmt
    if chosen == "html":
        return _prepare_html(text)
    links = [Link(m.start(), m.end(), m.group(0).rstrip(".,;:!?")) for m in URL_RE.finditer(text)]
    headline = _markdown_headline(text) if chosen == "markdown" else _plain_headline(text)
    return Prepared(text=text, fmt=chosen, headline=headline, links=links)


def _markdown_headline(text: str) -> Span | None:
    match = MD_HEADING.search(text)
    if match and len(match.group(1)) <= 2:
        return Span(match.start(2), match.end(2), "headline")
    return _plain_headline(text)


def _plain_headline(text: str) -> Span | None:
    """A first line that stands alone (blank line after it), is short and has no full stop."""
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    first, sep, rest = stripped.partition("\n")
    first_clean = first.strip().lstrip("#").strip()
    if not sep or (not rest.startswith(("\n", "\r\n")) and not rest.lstrip(" \t").startswith("\n")):
        return None
    if not first_clean or len(first_clean.split()) > 20 or first_clean.endswith("."):
        return None
    start = lead + first.index(first_clean)
    return Span(start, start + len(first_clean), "headline")


class _VisibleText(HTMLParser):
    """Collects visible text with a source-offset map; never executes or fetches anything."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", source)]
        self.parts: list[str] = []
        self.length = 0
        self.offset_map: list[tuple[int, int]] = []
        self.hidden_depth = 0
        self.headline: Span | None = None
        self._heading_start: int | None = None
        self.links: list[Link] = []
        self.embeds: list[Link] = []
        self._anchor: tuple[int, str] | None = None

    def _source_pos(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _emit(self, text: str, source_pos: int | None) -> None:
        if not text:
            return
        if source_pos is not None:
            self.offset_map.append((self.length, source_pos))
        self.parts.append(text)
        self.length += len(text)

    def _break(self) -> None:
        tail = "".join(self.parts[-2:])
        if self.length and not tail.endswith("\n\n"):
            self._emit("\n\n" if not tail.endswith("\n") else "\n", None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in HIDDEN_TAGS:
            if tag not in VOID_TAGS:
                self.hidden_depth += 1
            return
        if self.hidden_depth:
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag in BLOCK_TAGS:
            self._break()
        if tag in ("h1", "h2") and self.headline is None:
            self._heading_start = self.length
        if tag == "a" and values.get("href"):
            self._anchor = (self.length, values["href"])
        if tag in EMBED_TAGS:
            url = values.get("src") or values.get("data") or ""
            pos = self._source_pos()
            self._break()
            marker = f"[embedded media: {url}]" if url else "[embedded media]"
            start = self.length
            self._emit(marker, pos)
            self.embeds.append(Link(start, self.length, url))
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in HIDDEN_TAGS:
            self.hidden_depth = max(0, self.hidden_depth - 1)
            return
        if self.hidden_depth:
            return
        if tag in ("h1", "h2") and self._heading_start is not None and self.headline is None:
            text = "".join(self.parts)
            start, end = self._heading_start, self.length
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                self.headline = Span(start, end, "headline")
            self._heading_start = None
        if tag == "a" and self._anchor is not None:
            start, href = self._anchor
            if self.length > start:
                self.links.append(Link(start, self.length, href))
            self._anchor = None
        if tag in BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self.hidden_depth:
            return
        pos = self._source_pos()
        collapsed = re.sub(r"[ \t\r\n]+", " ", data)
        if collapsed == " " and (not self.length or "".join(self.parts[-1:]).endswith("\n")):
            return
        if collapsed != data:
            # whitespace collapsed: map each kept piece to its own source position
            for m in re.finditer(r"[^ \t\r\n]+|[ \t\r\n]+", data):
                piece = m.group(0)
                self._emit(piece if piece.strip() else " ", pos + m.start())
        else:
            self._emit(data, pos)

    def handle_entityref(self, name: str) -> None:
        if not self.hidden_depth:
            self._emit(html.unescape(f"&{name};"), self._source_pos())

    def handle_charref(self, name: str) -> None:
        if not self.hidden_depth:
            self._emit(html.unescape(f"&#{name};"), self._source_pos())


def _prepare_html(source: str) -> Prepared:
    parser = _VisibleText(source)
    parser.feed(source)
    parser.close()
    text = "".join(parser.parts)
    links = list(parser.links)
    seen = {(link.start, link.end) for link in links}
    for m in URL_RE.finditer(text):
        if (m.start(), m.end()) not in seen:
            links.append(Link(m.start(), m.end(), m.group(0).rstrip(".,;:!?")))
    return Prepared(
        text=text,
        fmt="html",
        headline=parser.headline,
        links=links,
        embeds=parser.embeds,
        offset_map=parser.offset_map,
    )
