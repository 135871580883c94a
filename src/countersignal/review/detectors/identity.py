"""Rule 13: a religion, ethnicity or nationality tied to violence with no stated relevance."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis import Analysis, Token
from .base import Context, Hit, detector

_OBJECT_DEPS = {"dobj", "obj", "attr", "pobj", "obl", "nmod"}


@detector(
    "identity_blame",
    lexicons=(
        "identity", "violence", "agent_markers", "agent_genitive", "relevance", "pejorative",
        "distancing",
    ),
)  # fmt: skip
def identity_blame(ctx: Context) -> Iterator[Hit]:
    """An identity word (`identity`) directly modifying a violence word (`violence`:
    "Muslim terrorists", "refugee violence"), violence "by" an identity group
    (`agent_markers`) or in a bare genitive after an event noun (`agent_genitive`: "нападение
    мигрантов", the parse's nmod with no preposition), or an identity group as the subject of
    a violence predicate; or an identity word modifying a pejorative or criminal noun
    (`pejorative`: "Afghan thugs", "Roma gang", "цыганская банда") in the newsroom's own
    voice (not quoted, no distancing such as "what residents called"). Not when
    the sentence states why identity is relevant (`relevance`: stated ideology, allegiance)."""
    a = ctx.analysis
    identity, violence = ctx.lex("identity"), ctx.lex("violence")
    for sent in a.sentences:
        if ctx.sentence_has("relevance", sent):
            continue
        words = [t for t in a.sentence_tokens(sent) if t.is_word]
        hit = None
        for n, tok in enumerate(words[:-1]):
            nxt = words[n + 1]
            if identity.hits_token(tok) and violence.hits_token(nxt):
                hit = (tok, nxt)
                break
            if (
                violence.hits_token(tok)
                and ctx.lex("agent_markers").hits_token(nxt)
                and any(identity.hits_token(t) for t in words[n + 2 : n + 4])
            ):
                hit = (tok, words[min(n + 3, len(words) - 1)])
                break
            if (
                a.has_parser
                and ctx.lex("agent_genitive").hits_token(tok)
                and identity.hits_token(nxt)
                and nxt.head == tok.i
                and nxt.dep == "nmod"
                and not any(c.dep in ("case", "prep") for c in a.children(nxt))
            ):
                hit = (tok, nxt)
                break
        if hit is None and a.has_parser:
            hit = _subject_blame(a, words, identity, violence)
        if hit is None and not ctx.sentence_has("distancing", sent):
            hit = _pejorative_label(ctx, words, _norp_tokens(a, sent))
        if hit is not None and a.quote_at(hit[0].start, hit[1].end) is None:
            yield Hit(
                hit[0].start,
                hit[1].end,
                f"ties “{a.text[hit[0].start : hit[0].end]}” to the violence without saying why "
                "identity is relevant",
                0.75,
            )


def _subject_blame(a: Analysis, words: list[Token], identity, violence) -> tuple | None:
    for tok in words:
        if not (identity.hits_token(tok) and tok.dep.startswith("nsubj")) or tok.head < 0:
            continue
        verb = a.tokens[tok.head]
        for child in a.children(verb):
            targets = [child, *a.children(child)] if child.dep == "prep" else [child]
            for target in targets:
                if target.dep in _OBJECT_DEPS and violence.hits_token(target):
                    return tok, target
    return None


_MODIFIER_DEPS = {"amod", "compound", "nmod", "nmod:poss"}


def _norp_tokens(a: Analysis, sent) -> set[int]:
    """Tokens inside a nationality, religious or ethnic-group entity (NORP) of the sentence."""
    out: set[int] = set()
    for ent in a.entities:
        if ent.label == "NORP" and sent.start <= ent.start < sent.end:
            out.update(t.i for t in a.tokens_between(ent.start, ent.end))
    return out


def _pejorative_label(ctx: Context, words: list[Token], norp: set[int]) -> tuple | None:
    """An identity word (the `identity` lexicon or a NORP entity) that modifies a pejorative
    or criminal noun (`pejorative`: gang, thugs, mob; банда, отморозки) — the parser's
    amod/compound relation, or the word just before it when there is no parse."""
    a = ctx.analysis
    identity, pejorative = ctx.lex("identity"), ctx.lex("pejorative")
    for n, tok in enumerate(words):
        if not pejorative.hits_token(tok):
            continue
        if a.has_parser:
            mods = [c for c in a.children(tok) if c.dep in _MODIFIER_DEPS and c.i < tok.i]
        else:
            mods = words[n - 1 : n] if n else []
        for mod in mods:
            if identity.hits_token(mod) or (mod.i in norp and mod.pos in ("ADJ", "PROPN")):
                return mod, tok
    return None
