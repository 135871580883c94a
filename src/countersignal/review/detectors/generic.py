"""General-purpose detectors that editors can use in their own rules, and the
language-independent ones (links to file hosts, embedded media)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from .base import Context, Hit, detector
from .common import words_around


class LexiconParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skip_quoted: bool = Field(True, description="ignore matches inside direct quotations")
    confidence: float = Field(0.75, ge=0.0, le=1.0)
    require_window: int = Field(0, ge=0, description="0: `require` anywhere in the sentence")


@detector("lexicon", lexicons=("terms", "unless", "require"), params=LexiconParams)
def lexicon_terms(ctx: Context) -> Iterator[Hit]:
    """Phrases from `terms`, outside quotes (by default), in sentences that contain none of
    `unless` and, when `require` is given, at least one of `require`."""
    params: LexiconParams = ctx.params  # type: ignore[assignment]
    a = ctx.analysis
    require = ctx.lex("require")
    for sent in a.sentences:
        matches = ctx.lex("terms").match_sentence(a, sent)
        if params.skip_quoted:
            matches = ctx.unquoted(matches)
        if not matches or ctx.sentence_has("unless", sent):
            continue
        for m in matches:
            if require:
                if params.require_window:
                    scope = words_around(a, m.first, m.last, params.require_window)
                else:
                    scope = a.sentence_tokens(sent)
                if not require.contains(scope):
                    continue
            yield Hit(m.start, m.end, f"“{m.phrase}”", params.confidence)


class DomainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domains: list[str] = Field(min_length=1)
    confidence: float = Field(0.9, ge=0.0, le=1.0)


_LOCATIVES = {"on", "at", "via", "from", "to", "на", "в", "через", "с", "auf", "sur", "en"}


@detector("link_domains", params=DomainParams, language_independent=True)
def link_domains(ctx: Context) -> Iterator[Hit]:
    """Links (URLs in the text or HTML hrefs) to any of `domains` or their subdomains; a
    bare host name used as a place ("a mirror on anonfiles") counts too."""
    params: DomainParams = ctx.params  # type: ignore[assignment]
    a = ctx.analysis
    seen: set[tuple[int, int]] = set()
    for link in a.links:
        host = (urlsplit(link.url).hostname or "").lower()
        for domain in params.domains:
            if host == domain or host.endswith("." + domain):
                seen.add((link.start, link.end))
                yield Hit(link.start, link.end, f"links to {domain}", params.confidence)
                break
    for tok in a.tokens[1:]:
        if a.tokens[tok.i - 1].norm not in _LOCATIVES:
            continue
        for domain in params.domains:
            label = domain.split(".")[0]
            inside_link = any(s <= tok.start < e for s, e in seen)
            if len(label) >= 6 and tok.norm == label and not inside_link:
                yield Hit(
                    tok.start, tok.end, f"names the file host {domain}", params.confidence - 0.2
                )


class EmbedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(0.6, ge=0.0, le=1.0)


@detector("embedded_media", lexicons=("context",), params=EmbedParams, language_independent=True)
def embedded_media(ctx: Context) -> Iterator[Hit]:
    """Embedded players (iframe, video, embed codes). With a `context` lexicon for the
    language, only when the draft also talks about an attacker's footage."""
    params: EmbedParams = ctx.params  # type: ignore[assignment]
    a = ctx.analysis
    context = ctx.lex("context")
    if context and not context.match_tokens(a.tokens):
        return
    for embed in a.embeds:
        yield Hit(embed.start, embed.end, "embeds a media player in the article", params.confidence)
    for tok in a.tokens:
        if tok.norm == "iframe" and a.text[max(0, tok.start - 1) : tok.start] == "<":
            yield Hit(tok.start - 1, tok.end, "contains an embed code", params.confidence)
