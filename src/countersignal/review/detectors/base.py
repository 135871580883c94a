"""The detector registry and what a detector receives and returns.

A detector is a plain function ``fn(ctx) -> Iterable[Hit]`` registered under a name that rule
files refer to. It declares the lexicon names it reads and a pydantic model for its parameters,
so a rule file is validated when the catalogue loads, not when a draft is reviewed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from ..analysis import Analysis, Sentence
from ..lexicon import Lexicon, Match
from ..model import EntityMatch

EMPTY = Lexicon([])


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Hit:
    start: int
    end: int
    why: str
    confidence: float = 0.8


@dataclass
class Context:
    analysis: Analysis
    lexicons: dict[str, Lexicon]  # this detector's lexicons for the draft's language
    shared: dict[str, Lexicon]  # the catalogue's shared lexicons for that language
    params: BaseModel
    entity_matches: list[EntityMatch] = field(default_factory=list)

    def lex(self, name: str) -> Lexicon:
        """A detector lexicon, else the shared one of that name, else an empty lexicon."""
        return self.lexicons.get(name) or self.shared.get(name) or EMPTY

    def sentence_has(self, name: str, sent: Sentence) -> bool:
        return bool(self.lex(name).match_sentence(self.analysis, sent))

    def unquoted(self, matches: Iterable[Match]) -> list[Match]:
        return [m for m in matches if self.analysis.quote_at(m.start, m.end) is None]

    def designated_in(self, start: int, end: int) -> EntityMatch | None:
        for ent in self.entity_matches:
            if ent.start < end and start < ent.end:
                return ent
        return None


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    fn: Callable[[Context], Iterable[Hit]]
    params: type[BaseModel]
    lexicons: tuple[str, ...]  # names the detector reads (from the rule or the shared set)
    language_independent: bool
    doc: str


REGISTRY: dict[str, DetectorInfo] = {}


def detector(
    name: str,
    *,
    lexicons: tuple[str, ...] = (),
    params: type[BaseModel] = NoParams,
    language_independent: bool = False,
) -> Callable[[Callable[[Context], Iterable[Hit]]], Callable[[Context], Iterable[Hit]]]:
    def register(fn: Callable[[Context], Iterable[Hit]]) -> Callable[[Context], Iterable[Hit]]:
        REGISTRY[name] = DetectorInfo(
            name, fn, params, lexicons, language_independent, (fn.__doc__ or "").strip()
        )
        return fn

    return register
