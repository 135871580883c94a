"""Rule 1: operational details of a security operation that is still going on."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Token
from .base import Context, Hit, detector
from .common import words_around


class LiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor_window: int = Field(8, ge=1, description="words before the verb to look for actors")


@detector(
    "live_operation_positions",
    lexicons=("movements", "actors", "retrospective", "finished"),
    params=LiveParams,
)
def live_operation_positions(ctx: Context) -> Iterator[Hit]:
    """A movement or position verb (`movements`) in the present tense whose subject is a
    force or hostages (`actors`), in a draft that does not say the incident is over
    (`finished`) and a sentence that is not retrospective or critical (`retrospective`)."""
    a = ctx.analysis
    params: LiveParams = ctx.params  # type: ignore[assignment]
    if ctx.lex("finished").match_tokens(a.tokens):
        return
    actors = ctx.lex("actors")
    for sent in a.sentences:
        if ctx.sentence_has("retrospective", sent):
            continue
        for m in ctx.unquoted(ctx.lex("movements").match_sentence(a, sent)):
            verb = _verb_of(a, a.tokens[m.first : m.last])
            if verb is None or verb.tense != "Pres":
                continue
            subject = _subject_tokens(a, verb)
            if subject is None:  # no parse: look just before the verb
                around = words_around(a, verb.i, verb.i + 1, params.actor_window)
                subject = [t for t in around if t.i < verb.i]
            if not actors.contains(subject):
                continue
            yield Hit(
                sent.start,
                sent.end,
                "describes, in the present tense, where forces or hostages are or how they "
                f"are moving (“{m.phrase}”) while the incident appears to be ongoing",
                0.8,
            )
            break


def _verb_of(a: Analysis, toks: list[Token]) -> Token | None:
    for tok in toks:
        if tok.pos in ("VERB", "AUX") or (tok.tense and tok.pos != "NOUN"):
            return tok
    head = toks[0].head if toks else -1
    return a.tokens[head] if head >= 0 and a.tokens[head].pos in ("VERB", "AUX") else None


def _subject_tokens(a: Analysis, verb: Token) -> list[Token] | None:
    if not a.has_parser:
        return None
    node = verb
    for _ in range(3):  # conjoined or relative clauses share their subject upwards
        for child in a.children(node):
            if child.dep.startswith("nsubj"):
                return a.subtree(child)
        if node.dep in ("conj", "xcomp", "relcl", "acl:relcl", "acl") and node.head >= 0:
            parent = a.tokens[node.head]
            if node.dep in ("relcl", "acl:relcl", "acl") and parent.pos in ("NOUN", "PROPN"):
                return [parent]
            node = parent
            continue
        break
    return []
