"""Rules 2 and 3: a platform for perpetrators, and reproduced manifestos or propaganda."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Token
from .base import Context, Hit, detector
from .common import enumeration_size, head_of

# Dependents that describe a speaker rather than say who they are ("a member of the group,
# who left it in 2019"; "the negotiator, who spoke to the gunman"): left out of the speaker's
# core phrase. Their content counts only through `speaker_acts` ("the man holding the hostages").
_DESCRIPTIVE = {"relcl", "acl", "acl:relcl", "appos", "advcl", "parataxis", "punct"}
_PRONOUN_POS = {"PRON", "DET"}


class QuoteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_words: int = Field(20, ge=1, description="shorter quotations are reporting, not a platform")


def _speaker_core(a: Analysis, speaker: list[Token]) -> tuple[list[Token], list[Token]]:
    """The speaker phrase split into its core (head, modifiers, "of"/"for" phrases) and the
    descriptive clauses hanging on the head (relative clauses, participles, appositions)."""
    root = head_of(speaker)
    if root is None or not a.has_parser:
        return speaker, []
    members = {t.i for t in speaker}
    # the core is what hangs on the head through non-descriptive relations, inside the span;
    # tokens the parser attached elsewhere (into the quotation, say) are not part of it
    core_ids = {root.i}
    changed = True
    while changed:
        changed = False
        for tok in speaker:
            if tok.i not in core_ids and tok.head in core_ids and tok.dep not in _DESCRIPTIVE:
                core_ids.add(tok.i)
                changed = True
    core = [t for t in speaker if t.i in core_ids]
    return core, [t for t in speaker if t.i not in core_ids and t.i in members]


def _speaker_is_perpetrator(ctx: Context, speaker: list[Token]) -> bool | None:
    """Who the speech verb's subject is: True for an attacker or their group ("the gunman",
    "a spokesman for the group", "the man holding the hostages"), False for anyone else (a
    former member, a relative, a negotiator who spoke to the gunman), None when the subject is
    a pronoun or was not found (the lead-in and the previous sentence decide then)."""
    a = ctx.analysis
    root = head_of(speaker)
    if root is None or root.pos in _PRONOUN_POS:
        return None
    core, described = _speaker_core(a, speaker)
    if ctx.lex("former").contains(core):
        return False  # "a former member of the group", "бывший боевик": now outside it
    if ctx.lex("relations").hits_token(root):
        # "the gunman's mother", "друг стрелка", "a lawyer for the bomber": a person related
        # to the attacker speaks for themselves; only group nouns (leader, member, spokesman
        # of the group) keep the group
        return False
    if ctx.lex("perpetrator_sources").contains(core):
        return True
    return ctx.lex("speaker_acts").contains(described)


@detector(
    "perpetrator_quotes",
    lexicons=(
        "perpetrator_sources", "officials", "propaganda", "documents", "former", "speaker_acts",
        "relations",
    ),
    params=QuoteParams,
)  # fmt: skip
def perpetrator_quotes(ctx: Context) -> Iterator[Hit]:
    """Long direct quotations attributed to an attacker or their group, or to a designated
    entity from the lookup hook. When the speech verb has a subject, the subject decides: its
    core phrase must name the attacker or group (`perpetrator_sources`), not a former member
    (`former`), or a clause describing it must say what they are doing (`speaker_acts`: "the
    man holding the hostages"); a mention of the attacker elsewhere in the lead-in does not
    make a witness, relative or defector the speaker, and a head noun that relates a person to
    the attacker (`relations`: mother, friend, lawyer; "друг стрелка") makes the speaker that
    person. Without a subject (or with a pronoun)
    the lead-in and previous sentence decide. Quotations from a manifesto, a pamphlet or a
    document the perpetrator left (`documents`) are left to rule 3; officials' quotations
    never count."""
    a = ctx.analysis
    params: QuoteParams = ctx.params  # type: ignore[assignment]
    for q in a.quotes:
        if q.words < params.min_words:
            continue
        speaker = a.quote_speaker_tokens(q)
        context = a.quote_attribution_tokens(q)
        if ctx.lex("officials").contains(speaker):
            continue
        by_speaker = _speaker_is_perpetrator(ctx, speaker) if speaker else None
        if ctx.lex("propaganda").contains(context):
            continue
        if ctx.lex("documents").contains(context) and ctx.lex("perpetrator_sources").contains(
            context
        ):
            continue
        designated = next(
            (d for s, e in q.attribution if (d := ctx.designated_in(s, e)) is not None), None
        )
        if designated is not None:
            who = f"the designated entity {designated.name}"
        elif by_speaker or (
            by_speaker is None and ctx.lex("perpetrator_sources").contains(context)
        ):
            who = "the perpetrators"
        else:
            continue
        yield Hit(q.start, q.end, f"a direct quotation of {q.words} words attributed to {who}", 0.8)


class DemandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_items: int = Field(3, ge=2)
    max_item_words: int = Field(9, ge=1, description="longer pieces are prose, not list items")


@detector("demands_in_full", lexicons=("demands", "perpetrator_sources"), params=DemandParams)
def demands_in_full(ctx: Context) -> Iterator[Hit]:
    """A perpetrator's demands listed item by item in one sentence."""
    a = ctx.analysis
    params: DemandParams = ctx.params  # type: ignore[assignment]
    for sent in a.sentences:
        found = ctx.lex("demands").match_sentence(a, sent)
        if not found or not ctx.sentence_has("perpetrator_sources", sent):
            continue
        tail = a.text[found[0].start : sent.end]
        items = enumeration_size(tail.split(":", 1)[-1], params.max_item_words)
        if items >= params.min_items:
            yield Hit(sent.start, sent.end, "lists the perpetrators' demands in full", 0.75)


_POSSESSOR_DEPS = {"poss", "nmod", "nmod:poss", "compound"}


def _perpetrators_document(ctx: Context, sent) -> bool:
    """A document word (`documents`: declaration, leaflet, diary) whose possessor is the
    perpetrator (`perpetrator`): "the gunman's declaration", "декларация стрелка". With no
    parse, the perpetrator word must come just before the document word."""
    a = ctx.analysis
    perpetrator = ctx.lex("perpetrator")
    for m in ctx.lex("documents").match_sentence(a, sent):
        doc = a.tokens[m.first]
        if a.has_parser:
            if any(c.dep in _POSSESSOR_DEPS and perpetrator.hits_token(c) for c in a.children(doc)):
                return True
        elif any(perpetrator.hits_token(t) for t in a.tokens[max(0, doc.i - 3) : doc.i]):
            return True
    return False


@detector(
    "propaganda_reproduction",
    lexicons=("propaganda", "reproduction", "refusal", "benign", "documents", "perpetrator"),
)
def propaganda_reproduction(ctx: Context) -> Iterator[Hit]:
    """A manifesto or propaganda item (`propaganda`), or a document the perpetrator wrote
    (`documents` possessed by a `perpetrator` word: "the gunman's declaration"), offered to
    readers (`reproduction`: download, link, in full, extracts), unless the sentence declines
    or reports removal (`refusal`) or the document is something else (`benign`, e.g. an
    election manifesto)."""
    a = ctx.analysis
    for sent in a.sentences:
        if ctx.sentence_has("benign", sent):
            continue
        if not (ctx.sentence_has("propaganda", sent) or _perpetrators_document(ctx, sent)):
            continue
        if ctx.sentence_has("refusal", sent):
            continue
        cues = ctx.unquoted(ctx.lex("reproduction").match_sentence(a, sent))
        if cues:
            yield Hit(
                sent.start,
                sent.end,
                f"offers the manifesto or propaganda to readers (“{cues[0].phrase}”)",
                0.8,
            )


class PropagandaQuoteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_words: int = Field(6, ge=1)


@detector(
    "propaganda_quotes",
    lexicons=("propaganda", "documents", "perpetrator", "officials"),
    params=PropagandaQuoteParams,
)
def propaganda_quotes(ctx: Context) -> Iterator[Hit]:
    """Quotations taken from a manifesto, pamphlet or slogan, or from a document the
    perpetrator left (`documents` + `perpetrator`), as named in the lead-in."""
    a = ctx.analysis
    params: PropagandaQuoteParams = ctx.params  # type: ignore[assignment]
    for q in a.quotes:
        if q.words < params.min_words:
            continue
        if ctx.lex("officials").contains(a.quote_speaker_tokens(q)):
            continue
        lead_in = a.tokens_between(*q.attribution[0]) if q.attribution else []
        perpetrators_document = ctx.lex("documents").contains(lead_in) and ctx.lex(
            "perpetrator"
        ).contains(lead_in)
        if ctx.lex("propaganda").contains(lead_in) or perpetrators_document:
            yield Hit(q.start, q.end, f"quotes {q.words} words of the manifesto or slogan", 0.8)
