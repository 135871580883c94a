"""Rule 15: fear-mongering constructions in the newsroom's own voice."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Sentence, Token
from ..lexicon import Match
from .base import Context, Hit, detector


class FearParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(0.7, ge=0.0, le=1.0)
    window: int = Field(8, ge=1, description="words between a 'nobody' word and 'safe'")


@detector(
    "fear_mongering",
    lexicons=(
        "fear", "engulfing", "waves", "possibility", "happening", "anyone", "nobody", "safe",
        "unless",
    ),
    params=FearParams,
)  # fmt: skip
def fear_mongering(ctx: Context) -> Iterator[Hit]:
    """Three constructions, each only outside quotes and in sentences with no attribution or
    speech verb (`unless`: a frightened witness quoted or paraphrased is reporting):

    - fear as an agent that spreads or seizes: a `fear` noun (terror, panic, ужас) as the
      subject or instrumental agent of an `engulfing` verb (sweep, grip, come to; захлёстывать,
      охватить), or a `waves` phrase ("wave of terror");
    - the reader as the next victim: a `possibility` modal (could, might; мочь) governing a
      `happening` verb (be, happen, strike; стать, повториться) in a sentence addressed to
      the reader or to everyone (`anyone`: your, any of us; ваш, любой из нас);
    - universal insecurity now: a `nobody` word (no one, no family, nowhere; никто, ни одна
      семья) with a `safe` word within a few words, not in the past tense."""
    a = ctx.analysis
    params: FearParams = ctx.params  # type: ignore[assignment]
    for sent in a.sentences:
        if ctx.sentence_has("unless", sent):
            continue
        found = (
            _agent_of_fear(ctx, sent)
            or _reader_next(ctx, sent)
            or _nobody_safe(ctx, sent, params.window)
        )
        if found:
            yield Hit(sent.start, sent.end, f"fear-mongering (“{found}”)", params.confidence)


def _unquoted(ctx: Context, name: str, sent: Sentence) -> list[Match]:
    return ctx.unquoted(ctx.lex(name).match_sentence(ctx.analysis, sent))


def _agent_of_fear(ctx: Context, sent: Sentence) -> str | None:
    a = ctx.analysis
    waves = _unquoted(ctx, "waves", sent)
    if waves:
        return waves[0].phrase
    fear = ctx.lex("fear")
    for m in _unquoted(ctx, "engulfing", sent):
        verb = next(
            (t for t in a.tokens[m.first : m.last] if t.pos in ("VERB", "AUX", "ADJ")), None
        )
        if verb is None or not a.has_parser:
            continue
        for child in a.children(verb):
            agentive = child.dep.startswith(("nsubj", "obl", "agent"))
            if agentive and (fear.hits_token(child) or _agent_pobj_fear(a, child, fear)):
                return f"{child.text} … {m.phrase}"
    return None


def _agent_pobj_fear(a: Analysis, child: Token, fear) -> bool:
    """'gripped by fear': the passive agent's object."""
    return child.dep == "agent" and any(fear.hits_token(c) for c in a.children(child))


def _reader_next(ctx: Context, sent: Sentence) -> str | None:
    a = ctx.analysis
    if not _unquoted(ctx, "anyone", sent):
        return None
    happening = ctx.lex("happening")
    for m in _unquoted(ctx, "possibility", sent):
        modal = a.tokens[m.first]
        if a.has_parser:
            # English: the modal is an auxiliary of the verb; Russian: мочь governs an xcomp
            # (or, with a copula, the noun it governs: "может быть школа вашего ребёнка")
            near = [c for c in a.children(modal) if c.dep in ("xcomp", "ccomp", "nsubj")]
            near += [g for c in near for g in a.children(c) if g.dep in ("cop", "aux")]
            if modal.head >= 0 and modal.dep.startswith("aux"):
                near.append(a.tokens[modal.head])
        else:
            near = [t for t in a.tokens[modal.i + 1 : modal.i + 3] if t.is_word]
        if any(happening.hits_token(t) for t in near):
            return m.phrase
    return None


def _nobody_safe(ctx: Context, sent: Sentence, window: int) -> str | None:
    a = ctx.analysis
    safe = ctx.lex("safe")
    for m in _unquoted(ctx, "nobody", sent):
        scope = [t for t in a.tokens[m.last : min(sent.last, m.last + window + 2)] if t.is_word]
        scope = scope[:window]
        hit = next((t for t in scope if safe.hits_token(t)), None)
        if hit is None:
            continue
        between = [t for t in a.tokens[m.first : hit.i] if t.pos in ("VERB", "AUX")]
        if any(t.tense == "Past" for t in between):
            continue  # "nowhere was safe during the siege" reports what happened
        return f"{m.phrase} … {hit.text}"
    return None
