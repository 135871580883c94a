"""Rule 11: children named or quoted, material from inside hospitals, victims' own posts."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from ..analysis import Analysis, Token
from .base import Context, Hit, detector
from .common import persons, span_tokens

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
        )
    )
}
_RU_AGE_ADJ = re.compile(
    r"^(одно|двух|трех|четырех|пяти|шести|семи|восьми|девяти|десяти|одиннадцати|двенадцати|"
    r"тринадцати|четырнадцати|пятнадцати)летн"
)
_RU_AGE_ORDER = [
    "одно", "двух", "трех", "четырех", "пяти", "шести", "семи", "восьми", "девяти", "десяти",
    "одиннадцати", "двенадцати", "тринадцати", "четырнадцати", "пятнадцати",
]  # fmt: skip


class ChildParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_age: int = Field(15, ge=1, le=17)


def _age(tok: Token) -> int | None:
    if tok.norm.isdigit():
        return int(tok.norm)
    if tok.norm in _NUMBER_WORDS:
        return _NUMBER_WORDS[tok.norm]
    match = _RU_AGE_ADJ.match(tok.norm)
    if match:
        return _RU_AGE_ORDER.index(match.group(1)) + 1
    return None


def _stated_age(a: Analysis, first: int, last: int) -> int | None:
    """'Lily Evans, 9,' / 'Eight-year-old Noah' / 'Лили Эванс, 9 лет' / 'Восьмилетний Ной'."""
    sent = a.sentences[a.tokens[first].sent]
    after = a.tokens[last : min(last + 3, sent.last)]
    if len(after) >= 2 and after[0].text == "," and _age(after[1]) is not None:
        following = after[2].norm if len(after) > 2 else ""
        if following in ("", "лет", "год", "года") or not after[2].is_word:
            return _age(after[1])
    before = [t for t in a.tokens[max(sent.first, first - 6) : first] if t.is_word]
    norms = [t.norm for t in before]
    if norms[-2:] == ["year", "old"] and len(before) >= 3:
        return _age(before[-3])
    if before and _RU_AGE_ADJ.match(before[-1].norm):
        return _age(before[-1])
    return None


@detector("named_child", params=ChildParams)
def named_child(ctx: Context) -> Iterator[Hit]:
    """A named person whose stated age makes them a child."""
    a = ctx.analysis
    params: ChildParams = ctx.params  # type: ignore[assignment]
    for ent in persons(a):
        toks = span_tokens(a, ent)
        if not toks:
            continue
        names = [t for t in toks if t.pos == "PROPN"] or toks  # "Восьмилетний Ной Грин"
        age = _stated_age(a, names[0].i, toks[-1].i + 1)
        if age is not None and age <= params.max_age:
            yield Hit(
                ent.start,
                ent.end,
                f"names a child ({age}); children are identified or quoted only with strong "
                "justification and consent",
                0.8,
            )


@detector("hospital_access", lexicons=("hospital_places", "access", "official"))
def hospital_access(ctx: Context) -> Iterator[Hit]:
    """Reporting from inside wards or at bedsides (`hospital_places` + `access`), not
    official statements (`official`)."""
    a = ctx.analysis
    for sent in a.sentences:
        places = ctx.lex("hospital_places").match_sentence(a, sent)
        if not places or ctx.sentence_has("official", sent):
            continue
        if ctx.sentence_has("access", sent):
            yield Hit(
                sent.start,
                sent.end,
                f"material gathered inside a hospital (“{places[0].phrase}”)",
                0.75,
            )


@detector("victim_posts", lexicons=("social", "perpetrator"))
def victim_posts(ctx: Context) -> Iterator[Hit]:
    """A victim's social-media post reproduced (a `social` cue plus a quotation). A post whose
    author (the subject of the speech verb, else the lead-in) is an attacker (`perpetrator`)
    is not a victim's: that is rules 2 and 3."""
    a = ctx.analysis
    perpetrator = ctx.lex("perpetrator")
    for sent in a.sentences:
        cues = ctx.lex("social").match_sentence(a, sent)
        if not cues:
            continue
        quoted = [
            q
            for q in a.quotes
            if sent.start <= q.start < sent.end and not perpetrator.contains(_author(a, q))
        ]
        if quoted:
            yield Hit(sent.start, sent.end, "reproduces a victim's social-media post", 0.75)


def _author(a: Analysis, quote) -> list[Token]:
    if quote.speaker is not None:
        return a.quote_speaker_tokens(quote)
    return a.tokens_between(*quote.attribution[0]) if quote.attribution else []
