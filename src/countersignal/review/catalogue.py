"""The rules catalogue: YAML files validated with pydantic, plus the editor's configuration.

Built-in rules live in ``review/rules/*.yaml`` (one file per rule; ``_shared.yaml`` holds the
lexicons several rules use, referred to as ``"@name"`` inside a lexicon). An editor can switch
rules off (``disabled_rules``) and add rules from their own directory (``extra_rules_dir``),
using any registered detector. Every problem is reported as :class:`InvalidInput` naming the
file and the field, when the catalogue loads.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from countersignal.errors import InvalidInput

from .detectors import REGISTRY, DetectorInfo
from .lexicon import Lexicon
from .model import EntityMatch, Severity

BUILTIN_RULES_DIR = Path(__file__).parent / "rules"
SHARED_FILE = "_shared.yaml"

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when available
LexiconTable = dict[str, dict[str, list[str]]]  # language -> lexicon name -> phrases
EntityLookup = Callable[[str], Sequence[EntityMatch | dict[str, Any]]]


class DetectorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    lexicons: LexiconTable = Field(default_factory=dict)


class RuleSpec(BaseModel):
    """One rule as written in YAML."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    number: int | None = None
    title: str = Field(min_length=3)
    explanation: str = Field(min_length=10)
    sources: list[str] = Field(min_length=1)
    severity: Severity
    detectors: list[DetectorSpec] = Field(min_length=1)
    suggestions: list[str] = Field(min_length=1)
    must_not_flag: list[str] = Field(default_factory=list)


class SharedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lexicons: LexiconTable


class ReviewConfig(BaseModel):
    """What an editor can change. ``entity_lookup`` is the designated-entity hook:
    ``entity_lookup(text) -> [EntityMatch(start, end, name, list_ref)]`` over the analysed
    text; the classify package provides one built from a cited list."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    extra_rules_dir: Path | None = None
    disabled_rules: set[str] = Field(default_factory=set)
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    entity_lookup: EntityLookup | None = Field(default=None, exclude=True)


def load_config(path: Path) -> ReviewConfig:
    """Read a YAML or TOML config file; relative ``extra_rules_dir`` is relative to the file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read review config {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw) if path.suffix == ".toml" else yaml.safe_load(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"review config {path} is not valid: {exc}") from exc
    data = data or {}
    if not isinstance(data, dict):
        raise InvalidInput(f"review config {path} must be a mapping")
    data = dict(data.get("review", data))
    try:
        config = ReviewConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"review config {path}: {_summarise(exc)}") from exc
    if config.extra_rules_dir is not None and not config.extra_rules_dir.is_absolute():
        config.extra_rules_dir = (path.parent / config.extra_rules_dir).resolve()
    return config


@dataclass
class CompiledDetector:
    spec: DetectorSpec
    info: DetectorInfo
    params: BaseModel


@dataclass
class CompiledRule:
    spec: RuleSpec
    detectors: list[CompiledDetector]
    origin: Path

    def languages(self) -> set[str]:
        return {lang for d in self.detectors for lang in d.spec.lexicons}


@dataclass
class Catalogue:
    rules: dict[str, CompiledRule]
    shared: LexiconTable
    _cache: dict[tuple, dict[str, Lexicon]] = field(default_factory=dict, repr=False)

    def detector_lexicons(self, rule_id: str, index: int, language: str) -> dict[str, Lexicon]:
        key = (rule_id, index, language)
        if key not in self._cache:
            spec = self.rules[rule_id].detectors[index].spec
            lem = _lemmatizer(language)
            table = spec.lexicons.get(language, {})
            self._cache[key] = {
                name: Lexicon(self._expand(phrases, language), lem)
                for name, phrases in table.items()
            }
        return self._cache[key]

    def _expand(self, phrases: list[str], language: str, depth: int = 0) -> list[str]:
        out: list[str] = []
        for phrase in phrases:
            if phrase.startswith("@") and depth < 4:
                shared = self.shared.get(language, {}).get(phrase[1:], [])
                out.extend(self._expand(shared, language, depth + 1))
            elif not phrase.startswith("@"):
                out.append(phrase)
        return out

    def shared_lexicons(self, language: str) -> dict[str, Lexicon]:
        key = ("shared", language)
        if key not in self._cache:
            lem = _lemmatizer(language)
            table = self.shared.get(language, {})
            self._cache[key] = {
                name: Lexicon(self._expand(phrases, language), lem)
                for name, phrases in table.items()
            }
        return self._cache[key]


def _lemmatizer(language: str) -> Callable[[str], str] | None:
    if language == "ru":
        from .nlp import russian_lemma

        return russian_lemma
    return None


def load_catalogue(config: ReviewConfig | None = None) -> Catalogue:
    """Built-in rules plus the editor's extra rules, minus disabled ones; validated."""
    config = config or ReviewConfig()
    extra = str(config.extra_rules_dir) if config.extra_rules_dir else ""
    return _load(extra, frozenset(config.disabled_rules))


@lru_cache(maxsize=8)
def _load(extra_dir: str, disabled: frozenset[str]) -> Catalogue:
    shared = _read_shared(BUILTIN_RULES_DIR / SHARED_FILE)
    files = sorted(p for p in BUILTIN_RULES_DIR.glob("*.yaml") if p.name != SHARED_FILE)
    if extra_dir:
        directory = Path(extra_dir)
        if not directory.is_dir():
            raise InvalidInput(f"extra rules directory {directory} does not exist")
        files += sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    rules: dict[str, CompiledRule] = {}
    for path in files:
        rule = _compile(path, shared)
        if rule.spec.id in rules:
            raise InvalidInput(
                f"rule id {rule.spec.id!r} in {path} is already defined in "
                f"{rules[rule.spec.id].origin}; choose a new id (built-in rules can be disabled)"
            )
        rules[rule.spec.id] = rule
    unknown = sorted(disabled - set(rules))
    if unknown:
        raise InvalidInput(
            f"disabled_rules names unknown rule ids {unknown}; known ids: {sorted(rules)}"
        )
    return Catalogue({k: v for k, v in rules.items() if k not in disabled}, shared)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read rule file {path}: {exc}") from exc


def _read_shared(path: Path) -> LexiconTable:
    try:
        return SharedSpec.model_validate(_read_yaml(path)).lexicons
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {_summarise(exc)}") from exc


def _compile(path: Path, shared: LexiconTable) -> CompiledRule:
    try:
        spec = RuleSpec.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise InvalidInput(f"rule file {path}: {_summarise(exc)}") from exc
    detectors = []
    for n, det in enumerate(spec.detectors):
        where = f"rule file {path}, rule {spec.id!r}, detector #{n + 1} ({det.name})"
        info = REGISTRY.get(det.name)
        if info is None:
            raise InvalidInput(f"{where}: unknown detector; known: {sorted(REGISTRY)}")
        try:
            params = info.params.model_validate(det.params)
        except ValidationError as exc:
            raise InvalidInput(f"{where}: params: {_summarise(exc)}") from exc
        for language, table in det.lexicons.items():
            for name, phrases in table.items():
                if not any(fnmatch(name, allowed) for allowed in info.lexicons):
                    raise InvalidInput(
                        f"{where}: lexicon {name!r} ({language}) is not read by this detector; "
                        f"it reads {list(info.lexicons)}"
                    )
                for phrase in phrases:
                    if phrase.startswith("@") and phrase[1:] not in shared.get(language, {}):
                        raise InvalidInput(
                            f"{where}: {phrase!r} names no shared {language} lexicon"
                        )
        if not det.lexicons and not info.language_independent and info.lexicons:
            raise InvalidInput(f"{where}: needs lexicons for at least one language")
        detectors.append(CompiledDetector(det, info, params))
    return CompiledRule(spec, detectors, path)


def _summarise(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
        for err in exc.errors()
    )
