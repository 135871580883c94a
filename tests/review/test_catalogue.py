"""The rules catalogue: built-in rules, validation errors, editors' configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from countersignal.errors import InvalidInput
from countersignal.review import ReviewConfig, load_catalogue, load_config, review_article

GUIDELINE_RULES = 16


def test_builtin_catalogue_has_every_guideline_rule_in_english_and_russian() -> None:
    catalogue = load_catalogue()
    numbers = sorted(r.spec.number for r in catalogue.rules.values())
    assert numbers == list(range(1, GUIDELINE_RULES + 1))
    for rule in catalogue.rules.values():
        assert {"en", "ru"} <= rule.languages(), rule.spec.id
        assert rule.spec.sources and rule.spec.suggestions


def _write_rule(directory: Path, name: str, body: dict) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


CUSTOM_RULE = {
    "id": "house_style_panic",
    "title": "House style: no 'panic'",
    "explanation": "Our style guide avoids the word panic in our own voice.",
    "sources": ["House style guide, section 4"],
    "severity": "advice",
    "suggestions": ["Describe what people did instead."],
    "detectors": [
        {
            "name": "lexicon",
            "params": {"skip_quoted": True},
            "lexicons": {"en": {"terms": ["panic"]}},
        }
    ],
}


def test_editor_adds_a_rule_and_disables_another(tmp_path: Path) -> None:
    _write_rule(tmp_path, "panic.yaml", CUSTOM_RULE)
    text = "Panic spread through the crowd. It was carnage."
    config = ReviewConfig(extra_rules_dir=tmp_path, disabled_rules={"sensationalism"})
    fired = {f.rule_id for f in review_article(text, language="en", config=config).findings}
    assert fired == {"house_style_panic"}
    default = {f.rule_id for f in review_article(text, language="en").findings}
    assert default == {"sensationalism"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detectors": [{"name": "no_such_detector", "lexicons": {"en": {}}}]}, "unknown detector"),
        ({"severity": "fatal"}, "severity"),
        (
            {"detectors": [{"name": "lexicon", "params": {"bogus": 1}, "lexicons": {"en": {}}}]},
            "params",
        ),
        (
            {"detectors": [{"name": "lexicon", "lexicons": {"en": {"termz": ["x"]}}}]},
            "not read by this detector",
        ),
        (
            {"detectors": [{"name": "lexicon", "lexicons": {"en": {"terms": ["@nope"]}}}]},
            "names no shared",
        ),
        ({"id": "Bad Id"}, "id"),
        ({"sources": []}, "sources"),
    ],
)
def test_invalid_rule_files_name_the_file_and_the_problem(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = _write_rule(tmp_path, "bad.yaml", {**CUSTOM_RULE, **change})
    with pytest.raises(InvalidInput) as info:
        load_catalogue(ReviewConfig(extra_rules_dir=tmp_path))
    assert str(path) in info.value.message
    assert message in info.value.message


def test_duplicate_ids_and_unknown_disabled_ids_are_errors(tmp_path: Path) -> None:
    _write_rule(tmp_path, "dup.yaml", {**CUSTOM_RULE, "id": "glorification"})
    with pytest.raises(InvalidInput, match="already defined"):
        load_catalogue(ReviewConfig(extra_rules_dir=tmp_path))
    with pytest.raises(InvalidInput, match="unknown rule ids"):
        load_catalogue(ReviewConfig(disabled_rules={"glorificaton"}))
    with pytest.raises(InvalidInput, match="does not exist"):
        load_catalogue(ReviewConfig(extra_rules_dir=tmp_path / "missing"))


def test_config_files_yaml_and_toml(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    _write_rule(rules, "panic.yaml", CUSTOM_RULE)
    (tmp_path / "review.yaml").write_text(
        "extra_rules_dir: rules\ndisabled_rules: [loaded_labels]\n", encoding="utf-8"
    )
    config = load_config(tmp_path / "review.yaml")
    assert config.extra_rules_dir == rules.resolve()
    assert config.disabled_rules == {"loaded_labels"}
    (tmp_path / "countersignal.toml").write_text(
        '[review]\ndisabled_rules = ["sensationalism"]\n', encoding="utf-8"
    )
    assert load_config(tmp_path / "countersignal.toml").disabled_rules == {"sensationalism"}
    (tmp_path / "broken.yaml").write_text("disabled_rules: 5\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="disabled_rules"):
        load_config(tmp_path / "broken.yaml")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
