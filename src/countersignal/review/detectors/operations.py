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
    lexicons=(
        "movements", "postures", "shelter", "locatives", "actors", "perpetrator",
        "retrospective", "finished", "incident", "ended",
    ),
    params=LiveParams,
)  # fmt: skip
def live_operation_positions(ctx: Context) -> Iterator[Hit]:
    """A verb in the present tense that says where forces or hostages are or how they move,
    in a draft that does not say the incident is over (`finished`) and a sentence that is not
    retrospective or critical (`retrospective`). Movement verbs (`movements`: storm,
    surround) need a force or hostages (`actors`) as subject; posture and motion verbs
    (`postures`: lie, wait, move) need one and a place (a `locatives` preposition: "lying on
    the roof"); sheltering verbs (`shelter`: hide) with a place count for any subject, since
    whoever is hiding (not the attackers: `perpetrator`), saying where tells the attackers
    ("classmates are hiding in the gym"). Posture and sheltering verbs count only in the
    active voice: "the devices are hidden in the shafts" says where things were put.
    The incident is over when `finished` says so, or when a verb of ending (`ended`: end,
    be over, come to an end; закончиться, завершиться, прекратиться — any form, through the
    lemma) has the incident (`incident`: siege, stand-off, осада, штурм) as its subject and is
    neither negated nor in the future ("the siege has not ended", "until the siege ends")."""
    a = ctx.analysis
    params: LiveParams = ctx.params  # type: ignore[assignment]
    if ctx.lex("finished").match_tokens(a.tokens) or _incident_over(ctx):
        return
    actors, locatives = ctx.lex("actors"), ctx.lex("locatives")
    for sent in a.sentences:
        if ctx.sentence_has("retrospective", sent):
            continue
        candidates = [
            (m, kind)
            for kind in ("movements", "postures", "shelter")
            for m in ctx.unquoted(ctx.lex(kind).match_sentence(a, sent))
        ]
        for m, kind in sorted(candidates, key=lambda c: c[0].start):
            verb = _verb_of(a, a.tokens[m.first : m.last])
            if verb is None or verb.tense != "Pres":
                continue
            if kind != "movements" and (verb.passive or not _has_place(a, verb, locatives)):
                continue  # a passive says where something was put ("devices are hidden in")
            subject = _subject_tokens(a, verb)
            if subject is None:  # no parse: look just before the verb
                around = words_around(a, verb.i, verb.i + 1, params.actor_window)
                subject = [t for t in around if t.i < verb.i]
            someone = any(t.pos in ("NOUN", "PROPN", "PRON", "NUM") for t in subject) and not (
                ctx.lex("perpetrator").contains(subject)
            )
            if not (actors.contains(subject) or (kind == "shelter" and someone)):
                continue
            yield Hit(
                sent.start,
                sent.end,
                "describes, in the present tense, where forces or hostages are or how they "
                f"are moving (“{m.phrase}”) while the incident appears to be ongoing",
                0.8,
            )
            break


_NOT_YET = {"not", "n't", "never", "yet", "не", "ещё", "еще", "will", "would", "until", "unless",
            "till", "before", "пока", "до", "когда-нибудь"}  # fmt: skip


def _incident_over(ctx: Context) -> bool:
    """Does a sentence say that the incident itself has ended ("the siege came to an end",
    "осада закончилась неделю назад", "once the hostage-taking was over")?"""
    a = ctx.analysis
    incident = ctx.lex("incident")
    for m in ctx.unquoted(ctx.lex("ended").match_tokens(a.tokens)):
        toks = a.tokens[m.first : m.last]
        verb = next((t for t in toks if t.pos in ("VERB", "AUX")), None)
        if verb is None or verb.tense == "Fut":
            continue
        sent = a.sentences[verb.sent]
        before = [t for t in a.tokens[sent.first : verb.i] if t.is_word][-3:]
        if any(t.norm in _NOT_YET for t in before):
            continue
        if a.has_parser:
            if any(c.dep == "neg" or c.norm in _NOT_YET for c in a.children(verb)):
                continue
            node = verb
            for _ in range(2):  # "the siege was over": the subject may hang on the copula
                subject = [
                    t for c in a.children(node) if c.dep.startswith("nsubj") for t in a.subtree(c)
                ]
                if subject or node.head < 0:
                    break
                node = a.tokens[node.head]
        else:
            subject = [t for t in a.tokens[max(sent.first, m.first - 4) : m.first] if t.is_word]
        if incident.contains(subject):
            return True
    return False


def _has_place(a: Analysis, verb: Token, locatives) -> bool:
    """Does the verb have a locative dependent: a preposition ("on the roof"), an oblique with
    a locative case marker ("на крыше"), or a locative adverb ("inside")?"""
    if not a.has_parser:
        after = [t for t in a.tokens[verb.i + 1 : verb.i + 3] if t.is_word]
        return any(locatives.hits_token(t) for t in after)
    for child in a.children(verb):
        if child.dep in ("prep", "advmod") and locatives.hits_token(child):
            return True
        if child.dep.startswith("obl") and any(
            c.dep == "case" and locatives.hits_token(c) for c in a.children(child)
        ):
            return True
    return False


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
        # every subject the parser gave ("Update, 14:20: the hostages are sitting" has two)
        subjects = [c for c in a.children(node) if c.dep.startswith("nsubj")]
        if subjects:
            return [t for child in subjects for t in a.subtree(child)]
        if node.dep in ("conj", "xcomp", "relcl", "acl:relcl", "acl") and node.head >= 0:
            parent = a.tokens[node.head]
            if node.dep in ("relcl", "acl:relcl", "acl") and parent.pos in ("NOUN", "PROPN"):
                return [parent]
            node = parent
            continue
        break
    return []
