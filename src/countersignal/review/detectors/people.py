"""Rules 5, 8 and 9: named perpetrators, labels of guilt, and named casualties.

Who a named person is comes from the parse: a perpetrator noun next to the name ("the gunman,
Daniel Roarke"), or the name as the subject of an attack verb ("Roarke opened fire"); a
casualty is a name joined to a death or injury word by a short dependency path that does not
cross into a relative or adverbial clause ("the driver who drove the injured" is not one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Sentence, Span, Token
from ..lexicon import Lexicon
from .base import Context, Hit, detector
from .common import head_of, is_capitalised, name_key, persons, span_tokens, words_around

_CLAUSE_EDGES = {"relcl", "acl:relcl", "advcl", "ccomp", "parataxis"}
_SUBJECTS = {"nsubj", "nsubjpass", "nsubj:pass"}


@dataclass
class Mention:
    span: Span
    tokens: list[Token]
    sent: Sentence
    key: str
    perpetrator: bool


def person_mentions(ctx: Context) -> list[Mention]:
    a = ctx.analysis
    out = []
    for ent in persons(a):
        toks = [t for t in span_tokens(a, ent) if t.is_word]
        if not toks:
            continue
        sent = a.sentences[toks[0].sent]
        near = words_around(a, toks[0].i, toks[-1].i + 1, 3)
        perpetrator = (
            ctx.lex("perpetrator").contains(near)
            or ctx.lex("perpetrator").contains(toks)
            or _agent_of(a, toks, ctx.lex("perpetrator_actions"))
        )
        out.append(Mention(ent, toks, sent, name_key(toks[-1].text, a.language), perpetrator))
    return out


def _agent_of(a: Analysis, toks: list[Token], actions: Lexicon) -> bool:
    """Is the named person the one who did an attack verb (`perpetrator_actions`)?"""
    sent = a.sentences[toks[0].sent]
    members = {t.i for t in toks}
    root = head_of(toks)
    for m in actions.match_sentence(a, sent):
        verb = next((t for t in a.tokens[m.first : m.last] if t.pos in ("VERB", "AUX")), None)
        verb = verb or a.tokens[m.first]
        if verb.passive or (verb.i in members):
            continue
        if not a.has_parser:
            if 0 < verb.i - toks[-1].i <= 6:
                return True
            continue
        for child in a.children(verb):
            if child.dep in _SUBJECTS and members & {t.i for t in a.subtree(child)}:
                return True
        if verb.dep in ("relcl", "acl:relcl", "acl") and verb.head in members:
            return True
        if verb.dep in ("relcl", "acl:relcl") and verb.head >= 0:
            # "Sara Dunn, the woman who opened fire": the clause describes an apposition
            described = a.tokens[verb.head]
            if described.dep == "appos" and (
                described.head in members or any(t.head == described.i for t in toks)
            ):
                return True
        if root is not None and root.dep == "attr" and root.head >= 0:
            copula = a.tokens[root.head]
            for child in a.children(copula):
                if child.dep in _SUBJECTS and verb.i in {t.i for t in a.subtree(child)}:
                    return True
    return False


class ProminenceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_mentions: int = Field(5, ge=2, description="name count that counts as prominent")


@detector(
    "perpetrator_prominence",
    lexicons=("perpetrator", "perpetrator_actions", "at_large", "court"),
    params=ProminenceParams,
)
def perpetrator_prominence(ctx: Context) -> Iterator[Hit]:
    """The perpetrator's name in the headline, or named far more often than anyone else.
    Not when the suspect is at large (`at_large`) or the piece is court reporting (`court`)."""
    a = ctx.analysis
    params: ProminenceParams = ctx.params  # type: ignore[assignment]
    if ctx.lex("at_large").match_tokens(a.tokens):
        return
    headline_toks = a.tokens_between(a.headline.start, a.headline.end) if a.headline else []
    body_sents = [s for s in a.sentences if not a.in_headline(s.start)]
    lead = a.sentence_tokens(body_sents[0]) if body_sents else []
    if ctx.lex("court").contains(headline_toks + lead):
        return
    mentions = person_mentions(ctx)
    body = [m for m in mentions if not a.in_headline(m.span.start)]
    counts = Counter(
        name_key(t.text, a.language)
        for t in a.tokens
        if is_capitalised(t) and t.is_word and not a.in_headline(t.start)
    )
    # Only people the parse shows to be perpetrators (a perpetrator noun beside the name, or
    # the subject of an attack verb): the most-named person of a piece about an attack is as
    # often a victim or a helper being remembered, so naming counts are no evidence of role.
    perpetrators = {m.key for m in mentions if m.perpetrator}  # "# The attacker Sam Okoro"
    confidence = 0.8
    for n, tok in enumerate(headline_toks):
        if is_capitalised(tok) and name_key(tok.text, a.language) in perpetrators:
            first = n
            while first > 0 and headline_toks[first - 1].pos == "PROPN":
                first -= 1  # the given name before the surname
            yield Hit(
                headline_toks[first].start,
                tok.end,
                "the headline names the perpetrator; naming them lower down, sparingly, denies "
                "notoriety",
                confidence,
            )
            break
    others = [c for k, c in counts.items() if k not in perpetrators and k in {m.key for m in body}]
    for key in perpetrators:
        n = counts[key]
        if n >= params.min_mentions and n > 2 * max(others, default=0):
            first = next(m for m in body if m.key == key)
            yield Hit(
                first.span.start,
                first.span.end,
                f"the perpetrator is named {n} times, far more than anyone else in the piece",
                confidence,
            )


@detector(
    "unqualified_guilt_label", lexicons=("labels", "label_exceptions", "qualifiers", "process")
)
def unqualified_guilt_label(ctx: Context) -> Iterator[Hit]:
    """A named person in an arrest or court context (`process`) called a terrorist, bomber,
    killer... (`labels`) with no suspected/alleged/charged/convicted (`qualifiers`)."""
    a = ctx.analysis
    for ent in persons(a):
        toks = [t for t in span_tokens(a, ent) if t.is_word]
        if not toks:
            continue
        sent = a.sentences[toks[0].sent]
        if not ctx.sentence_has("process", sent) or ctx.sentence_has("qualifiers", sent):
            continue
        window = words_around(a, toks[0].i, toks[-1].i + 1, 3)
        ordered = sorted([*window, *toks], key=lambda t: t.i)
        labels = ctx.lex("labels").match_tokens(ordered)
        exceptions = ctx.lex("label_exceptions").match_tokens(a.sentence_tokens(sent))
        labels = [
            m for m in ctx.unquoted(labels)
            if not any(x.start <= m.start and m.end <= x.end for x in exceptions)
        ]  # fmt: skip
        if labels:
            start = min(labels[0].start, ent.start)
            end = max(labels[0].end, ent.end)
            yield Hit(
                start,
                end,
                f"calls {a.text[ent.start : ent.end]} “{labels[0].phrase}” without "
                "“suspected”, “alleged” or the charge",
                0.8,
            )


class CasualtyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_path: int = Field(5, ge=1, description="longest dependency path from name to injury word")


@detector(
    "named_casualty",
    lexicons=(
        "casualty", "release", "consent", "publication", "perpetrator", "perpetrator_actions",
        "linking",
    ),
    params=CasualtyParams,
)  # fmt: skip
def named_casualty(ctx: Context) -> Iterator[Hit]:
    """A named person who died or was injured (`casualty`), in a draft that does not say the
    name was released officially or the family informed (`release`), or that the family
    agreed to its publication (a `consent` verb governing a `publication` word: "his family
    agreed to his name being published", "семья согласилась назвать его имя"). The name and the
    casualty word must be joined without a verb of someone else's action between them (see
    `_linked`); `linking` lists the verbs that equate or list ("include", "is thought to be")."""
    a = ctx.analysis
    params: CasualtyParams = ctx.params  # type: ignore[assignment]
    if ctx.lex("release").match_tokens(a.tokens) or _consent_to_publish(ctx):
        return
    mentions = person_mentions(ctx)
    perpetrators = {m.key for m in mentions if m.perpetrator}  # identity holds for the draft
    for mention in mentions:
        if mention.key in perpetrators or a.in_headline(mention.span.start):
            continue
        root = head_of(mention.tokens)
        found = ctx.lex("casualty").match_sentence(a, mention.sent)
        casualty_words = {i for m in found for i in range(m.first, m.last)}
        for m in found:
            if _linked(
                a, root, a.tokens[m.first], params.max_path, casualty_words, ctx.lex("linking")
            ):
                yield Hit(
                    mention.span.start,
                    mention.span.end,
                    f"names {a.text[mention.span.start : mention.span.end]} among the casualties "
                    "without saying the name was officially released or the family informed",
                    0.75,
                )
                break


_NEGATIONS = {"not", "nt", "never", "не", "никогда"}


def _consent_to_publish(ctx: Context) -> bool:
    """Consent to naming counts as a release: a `consent` word ("agreed", "allowed",
    "согласилась", "разрешили") whose clause (its dependency subtree; the next eight words
    without a parser) holds a `publication` word ("name", "published", "назвать", "имя"), in
    any aspect or voice since both lexicons match lemmas. Not when the consent is negated."""
    a = ctx.analysis
    consent, publication = ctx.lex("consent"), ctx.lex("publication")
    if not consent or not publication:
        return False
    for match in consent.match_tokens(a.tokens):
        tok = a.tokens[match.first]
        if any(c.norm in _NEGATIONS for c in a.children(tok)) or (
            tok.i > 0 and a.tokens[tok.i - 1].norm in _NEGATIONS
        ):
            continue  # "did not agree", "не разрешила"
        if a.has_parser:
            scope = [t for t in a.subtree(tok) if t.i >= tok.i]
        else:
            scope = a.tokens[tok.i + 1 : tok.i + 9]
        if publication.contains(scope):
            return True
    return False


# A verb between a name and a casualty word that makes them different people's: the named
# person did something to or for the casualties ("described carrying the injured", "бросился
# помогать раненым", "was arrested ... the gunman had been shot dead"). Only the casualty
# word itself, auxiliaries and copulas, verbs that equate or list (`linking`: "the wounded
# include", "is thought to be", "was named as"), or a verb whose predicative complement the
# casualty word is ("was found dead"), keep the casualty the named person's.
_PREDICATIVE = {"acomp", "xcomp", "oprd", "attr"}
_COPULAS = {"be", "быть", "являться", "оказаться"}


def _linked(
    a: Analysis,
    name: Token | None,
    word: Token,
    max_path: int,
    casualty_words: set[int],
    linking: Lexicon,
) -> bool:
    if name is None:
        return False
    if not a.has_parser:
        return abs(word.i - name.i) <= 6
    path = a.tree_path(name, word)
    if path is None or len(path) - 1 > max_path:
        return False
    top = min(path, key=lambda t: _depth(a, t))
    if any(t.dep in _CLAUSE_EDGES for t in path if t is not top):
        return False
    for n, tok in enumerate(path[1:-1], start=1):
        if tok.pos != "VERB" or tok.i in casualty_words or tok.lemma in _COPULAS:
            continue
        if linking.hits_token(tok):
            continue
        after = path[n + 1]
        if after.head == tok.i and after.i in casualty_words and after.dep in _PREDICATIVE:
            continue
        return False
    return True


def _depth(a: Analysis, tok: Token) -> int:
    depth, seen = 0, {tok.i}
    while tok.head >= 0 and tok.head not in seen:
        seen.add(tok.head)
        tok = a.tokens[tok.head]
        depth += 1
    return depth
